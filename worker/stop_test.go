package worker

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/internal/devserver"
	"github.com/kmemfix/kmemfix/internal/devserver/devservertest"
	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/workflows"
)

// stuckShell blocks in EnsureHelper until its context ends, as a slow node
// would, and reports when it was entered and when it was cancelled.
type stuckShell struct{ entered, cancelled chan struct{} }

func (s *stuckShell) EnsureHelper(ctx context.Context, _ activities.NodeRef) (string, error) {
	close(s.entered)
	<-ctx.Done()
	close(s.cancelled)
	return "", ctx.Err()
}

func (s *stuckShell) RunHelper(context.Context, activities.NodeRef, []string, func(node.Progress)) ([]byte, int, error) {
	panic("not reached")
}

func (s *stuckShell) EnsureFile(context.Context, activities.NodeRef, string, string, string) error {
	panic("not reached")
}

// TestStopCancelsRunningSteps: on SIGTERM (ctx done)
// Serve gives running activities worker.stopTimeout, then cancels them and
// returns; the step's context is what the SSH transport watches to stop
// the remote helper.
func TestStopCancelsRunningSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	srv := devservertest.Start(t, func(o *devserver.Options) {
		o.SearchAttributes = map[string]enums.IndexedValueType{}
		for _, sa := range workflows.SearchAttributes {
			o.SearchAttributes[sa.Name] = sa.Type
		}
	})
	c := devservertest.Client(t, srv)
	cfg := config.Default()
	cfg.Temporal.TaskQueue = "kmemfix-stop-test"
	cfg.Worker.StopTimeout = 300 * time.Millisecond
	shell := &stuckShell{entered: make(chan struct{}), cancelled: make(chan struct{})}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, c, &cfg, &activities.Activities{Shell: shell}, slog.New(slog.DiscardHandler))
	}()
	_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: workflows.NodeWorkflowID("slow"), TaskQueue: cfg.Temporal.TaskQueue},
		workflows.NodeWorkflowName, &workflows.NodeInput{Node: activities.NodeRef{Name: "slow", Address: "127.0.0.1"}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-shell.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the first step never started")
	}
	stop()
	select {
	case <-shell.cancelled:
	case <-time.After(30 * time.Second):
		t.Fatal("the running step was not cancelled after the stop timeout")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
}
