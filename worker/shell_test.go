package worker

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/transport"
)

// fakePool records what the shell asks of the transport.
type fakePool struct {
	execs    [][]string
	targets  []transport.Target
	uploads  []transport.UploadRequest
	arch     string
	exitCode int
	stderr   []string
	deadline time.Duration
}

func (f *fakePool) Exec(ctx context.Context, t transport.Target, argv []string, o transport.ExecOptions) (transport.Result, error) {
	f.execs = append(f.execs, argv)
	f.targets = append(f.targets, t)
	if d, ok := ctx.Deadline(); ok {
		f.deadline = time.Until(d)
	}
	for _, l := range f.stderr {
		if o.StderrLine != nil {
			o.StderrLine(l)
		}
	}
	return transport.Result{ExitCode: f.exitCode, Stdout: []byte(`{"ok":true}`)}, nil
}

func (f *fakePool) Upload(_ context.Context, t transport.Target, req transport.UploadRequest) (transport.UploadResult, error) {
	f.uploads = append(f.uploads, req)
	return transport.UploadResult{}, nil
}

func (f *fakePool) Arch(context.Context, transport.Target) (string, error) { return f.arch, nil }

func testShell(t *testing.T, pool *fakePool, edit func(*config.Config)) *sshShell {
	t.Helper()
	cfg := config.Default()
	if edit != nil {
		edit(&cfg)
	}
	s, err := newSSHShell(pool, &cfg, map[string]helper{"amd64": {path: "/opt/builds/kmemfix-node-amd64", sha256: "aa"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunHelperRunsTheInstalledHelperWithArgvAndDecodesProgress(t *testing.T) {
	pool := &fakePool{exitCode: node.ExitRefused, stderr: []string{
		`{"step":"move","done":3,"total":10}`, "some warning text", `{"other":"json"}`}}
	s := testShell(t, pool, func(c *config.Config) {
		c.SSH.User, c.SSH.Port, c.SSH.Sudo, c.SSH.JumpHost = "ops", 2222, true, "jump@bastion:2200"
		c.SSH.CommandTimeout = 7 * time.Minute
	})
	var got []node.Progress
	out, exit, err := s.RunHelper(context.Background(), activities.NodeRef{Name: "n1", Address: "10.0.0.1"},
		[]string{"inspect", "--margin", "500"}, func(p node.Progress) { got = append(got, p) })
	if err != nil || exit != node.ExitRefused || string(out) != `{"ok":true}` {
		t.Fatalf("RunHelper = %q, %d, %v", out, exit, err)
	}
	if want := []string{"/usr/local/lib/kmemfix/kmemfix-node", "inspect", "--margin", "500"}; !reflect.DeepEqual(pool.execs[0], want) {
		t.Errorf("argv %q, want %q", pool.execs[0], want)
	}
	want := transport.Target{Name: "n1", Address: "10.0.0.1", Port: 2222, User: "ops", Sudo: true,
		Jump: &transport.Jump{Name: "bastion", Address: "bastion", Port: 2200, User: "jump"}}
	if !reflect.DeepEqual(pool.targets[0], want) {
		t.Errorf("target %+v, want %+v", pool.targets[0], want)
	}
	if len(got) != 1 || got[0] != (node.Progress{Step: "move", Done: 3, Total: 10}) {
		t.Errorf("progress %+v: want only the one progress record", got)
	}
	if pool.deadline <= 6*time.Minute || pool.deadline > 7*time.Minute {
		t.Errorf("command deadline %s, want ssh.commandTimeout (7m)", pool.deadline)
	}
}

func TestNodeEntryOverridesUserAndPort(t *testing.T) {
	pool := &fakePool{}
	s := testShell(t, pool, nil)
	_, _, _ = s.RunHelper(context.Background(), activities.NodeRef{Name: "n", Address: "h", Port: 2201, User: "admin"}, nil, nil)
	if tg := pool.targets[0]; tg.User != "admin" || tg.Port != 2201 || tg.Jump != nil {
		t.Errorf("target %+v: the inventory's user and port win, no jump host unless configured", tg)
	}
}

func TestEnsureHelperUploadsTheBuildForTheNodesArch(t *testing.T) {
	pool := &fakePool{arch: "amd64"}
	s := testShell(t, pool, func(c *config.Config) { c.Node.HelperDir = "/opt/kmemfix" })
	p, err := s.EnsureHelper(context.Background(), activities.NodeRef{Name: "n", Address: "h"})
	if err != nil || p != "/opt/kmemfix/kmemfix-node" {
		t.Fatalf("EnsureHelper = %q, %v", p, err)
	}
	if want := []string{"mkdir", "-p", "--", "/opt/kmemfix"}; !reflect.DeepEqual(pool.execs[0], want) {
		t.Errorf("first command %q, want %q", pool.execs[0], want)
	}
	want := transport.UploadRequest{LocalPath: "/opt/builds/kmemfix-node-amd64", RemotePath: "/opt/kmemfix/kmemfix-node", Mode: 0o755, SHA256: "aa"}
	if len(pool.uploads) != 1 || pool.uploads[0] != want {
		t.Errorf("uploads %+v, want %+v", pool.uploads, want)
	}
}

func TestEnsureHelperWithoutABuildForTheArchIsNotRetryable(t *testing.T) {
	s := testShell(t, &fakePool{arch: "arm64"}, nil)
	_, err := s.EnsureHelper(context.Background(), activities.NodeRef{Name: "n", Address: "h"})
	kind, retry := classifier{}.Classify(err)
	if err == nil || kind != activities.ErrBadInput || retry {
		t.Errorf("err %v classified %s retryable=%v, want BadInput, not retryable", err, kind, retry)
	}
}

func TestEnsureFileFailsWhenTheFolderCannotBeMade(t *testing.T) {
	pool := &fakePool{arch: "amd64", exitCode: 1}
	s := testShell(t, pool, nil)
	err := s.EnsureFile(context.Background(), activities.NodeRef{Name: "n", Address: "h"}, "/a", "/var/lib/kmemfix/kubelet.nokmem", "bb")
	if err == nil || len(pool.uploads) != 0 {
		t.Errorf("err %v, uploads %d: a failed mkdir must stop the upload", err, len(pool.uploads))
	}
}

func TestClassifier(t *testing.T) {
	cases := []struct {
		err   error
		kind  string
		retry bool
	}{
		{&transport.Error{Class: transport.ClassUnreachable}, activities.ErrUnreachable, true},
		{&transport.Error{Class: transport.ClassAuthFailed}, activities.ErrAuth, false},
		{&transport.Error{Class: transport.ClassHostKeyMismatch}, activities.ErrHostKey, false},
		{&transport.HostKeyError{}, activities.ErrHostKey, false},
		{&transport.Error{Class: transport.ClassBadInput}, activities.ErrBadInput, false},
		{&transport.Error{Class: transport.ClassRemote}, activities.ErrTransport, true},
		{context.DeadlineExceeded, activities.ErrTimeout, true},
		{errors.New("?"), activities.ErrTransport, true},
	}
	for _, tc := range cases {
		kind, retry := classifier{}.Classify(tc.err)
		if kind != tc.kind || retry != tc.retry {
			t.Errorf("Classify(%v) = %s, %v; want %s, %v", tc.err, kind, retry, tc.kind, tc.retry)
		}
	}
}

type fakeTracer struct{ phases, nodes []string }

func (f *fakeTracer) TraceSSH(ctx context.Context, phase, node string, _ func(error) string, fn func(context.Context) error) error {
	f.phases, f.nodes = append(f.phases, phase), append(f.nodes, node)
	return fn(ctx)
}

func TestEveryHelperRunIsTraced(t *testing.T) {
	pool, tr := &fakePool{}, &fakeTracer{}
	s := testShell(t, pool, nil)
	s.tracer = tr
	if _, _, err := s.RunHelper(context.Background(), activities.NodeRef{Name: "n9", Address: "h"}, []string{"verify"}, nil); err != nil {
		t.Fatal(err)
	}
	if len(pool.execs) != 1 || !reflect.DeepEqual(tr.phases, []string{"exec"}) || !reflect.DeepEqual(tr.nodes, []string{"n9"}) {
		t.Errorf("execs %d, traced %v on %v: want one exec inside one exec span on n9", len(pool.execs), tr.phases, tr.nodes)
	}
}
