package devserver_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/internal/devserver"
	"github.com/kmemfix/kmemfix/internal/devserver/devservertest"
)

func TestWorkflowRunsAndSearchAttributesWork(t *testing.T) {
	srv := devservertest.Start(t, func(o *devserver.Options) {
		o.SearchAttributes = testAttrs
		o.ExtraNamespaces = []string{"kmemfix-extra"}
	})
	c := devservertest.Client(t, srv)
	ctx := context.Background()

	runGreeting(t, c, "greet-1", "r1")

	for _, ns := range []string{devserver.DefaultNamespace, "kmemfix-extra"} {
		requireAttrs(t, c, ns, testAttrs)
	}
	want := []string{"greet-1"}
	eventually(t, func() error { return listIs(ctx, c, `KmemfixTestRollout = "r1" AND KmemfixTestNodes = 2`, want) })
	if err := listIs(ctx, c, `KmemfixTestRollout = "r2"`, nil); err != nil {
		t.Fatal(err)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	opts := devserver.Options{StateDir: dir, FrontendAddr: "127.0.0.1:0", SearchAttributes: testAttrs, Retention: 48 * time.Hour}
	ctx := context.Background()

	first := start(t, opts)
	c := dial(t, first)
	runGreeting(t, c, "persist-1", "before")
	c.Close()
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, devserver.DatabaseFile)); err != nil {
		t.Fatalf("no database file in the state dir: %v", err)
	}

	// Restart on another port, with one more search attribute and a longer retention.
	opts.SearchAttributes = map[string]enums.IndexedValueType{"KmemfixTestAdded": enums.INDEXED_VALUE_TYPE_BOOL}
	for k, v := range testAttrs {
		opts.SearchAttributes[k] = v
	}
	opts.Retention = 72 * time.Hour
	second := start(t, opts)
	if second.FrontendAddress() == first.FrontendAddress() {
		t.Logf("both servers got port %s; the test still holds", first.FrontendAddress())
	}
	c = dial(t, second)
	desc, err := c.DescribeWorkflowExecution(ctx, "persist-1", "")
	if err != nil {
		t.Fatalf("the workflow run before the restart is gone: %v", err)
	}
	if got := desc.GetWorkflowExecutionInfo().GetStatus(); got != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("workflow status after restart = %s, want COMPLETED", got)
	}
	requireAttrs(t, c, second.Namespace(), opts.SearchAttributes)
	eventually(t, func() error { return listIs(ctx, c, `KmemfixTestRollout = "before"`, []string{"persist-1"}) })
	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: second.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != 72*time.Hour {
		t.Fatalf("retention after restart = %s, want 72h", got)
	}
	runGreeting(t, c, "persist-2", "after")
}

func TestSearchAttributeTypeConflictIsAnError(t *testing.T) {
	dir := t.TempDir()
	opts := devserver.Options{StateDir: dir, FrontendAddr: freeAddr(t), SearchAttributes: testAttrs}
	if err := start(t, opts).Stop(); err != nil {
		t.Fatal(err)
	}

	opts.SearchAttributes = map[string]enums.IndexedValueType{"KmemfixTestNodes": enums.INDEXED_VALUE_TYPE_KEYWORD}
	srv, err := devserver.Start(context.Background(), opts)
	if err == nil {
		_ = srv.Stop()
		t.Fatal("Start re-registered an attribute with another type without error")
	}
	if !strings.Contains(err.Error(), `"KmemfixTestNodes"`) || !strings.Contains(err.Error(), "registered as") {
		t.Fatalf("the error does not name the attribute and its type: %v", err)
	}
	requireFree(t, opts.FrontendAddr) // the failed Start stopped its server
}

func TestStateDirServesOneServerAtATime(t *testing.T) {
	opts := devserver.Options{StateDir: t.TempDir(), FrontendAddr: "127.0.0.1:0"}
	first := start(t, opts)

	_, err := devserver.Start(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("in use by another dev server (pid %d)", os.Getpid())) {
		t.Fatalf("a second server on the same state dir: err = %v, want one naming the holder", err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	start(t, opts) // the lock went with the first server
}

func TestBusyPortsAreErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	_, err = devserver.Start(context.Background(), devserver.Options{FrontendAddr: busy.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "not available") {
		t.Fatalf("Start on a busy frontend port: err = %v, want one saying it is not available", err)
	}

	frontend := freeAddr(t)
	_, err = devserver.Start(context.Background(), devserver.Options{FrontendAddr: frontend, UIAddr: busy.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "UI address") {
		t.Fatalf("Start on a busy UI port: err = %v, want one naming the UI address", err)
	}
	requireFree(t, frontend)
}

func TestInvalidOptionsAreRejected(t *testing.T) {
	cases := map[string]struct {
		opts devserver.Options
		want string
	}{
		"frontend without port": {devserver.Options{FrontendAddr: "127.0.0.1"}, "frontend address"},
		"frontend host name":    {devserver.Options{FrontendAddr: "example.com:7233"}, "not an IP"},
		"UI address":            {devserver.Options{UIAddr: "nowhere"}, "UI address"},
		"short retention":       {devserver.Options{Retention: time.Hour}, "retention"},
		"namespace twice":       {devserver.Options{ExtraNamespaces: []string{"default"}}, `namespace "default" listed twice`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := devserver.Start(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestStopTwiceIsHarmless(t *testing.T) {
	srv := start(t, devserver.Options{FrontendAddr: "127.0.0.1:0"})
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	requireFree(t, srv.FrontendAddress())
}

// start starts a server the test stops itself (Stop is idempotent, so the
// cleanup is only a safety net).
func start(t *testing.T, o devserver.Options) *devserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func dial(t *testing.T, srv *devserver.Server) client.Client {
	t.Helper()
	c, err := srv.Dial(context.Background(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func requireAttrs(t *testing.T, c client.Client, ns string, want map[string]enums.IndexedValueType) {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for name, typ := range want {
		if got, ok := resp.GetCustomAttributes()[name]; !ok || got != typ {
			t.Errorf("namespace %s: search attribute %s = %s (registered: %t), want %s", ns, name, got, ok, typ)
		}
	}
}

// listIs checks that a visibility query returns exactly the workflow ids want.
func listIs(ctx context.Context, c client.Client, query string, want []string) error {
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
	if err != nil {
		return fmt.Errorf("list %q: %w", query, err)
	}
	var got []string
	for _, e := range resp.GetExecutions() {
		got = append(got, e.GetExecution().GetWorkflowId())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("list %q = %v, want %v", query, got, want)
	}
	return nil
}

func requireFree(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("%s is still in use after the server stopped: %v", addr, err)
	}
	l.Close()
}
