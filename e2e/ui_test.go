package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/internal/browser"
	"github.com/kmemfix/kmemfix/internal/devserver"
	"github.com/kmemfix/kmemfix/internal/devserver/devservertest"
	"github.com/kmemfix/kmemfix/workflows"
)

// TestUIListsTheRollout runs a small rollout and loads the embedded Web UI
// in headless Chromium: the rollout workflow is listed, with its type.
func TestUIListsTheRollout(t *testing.T) {
	if _, err := browser.Path(); errors.Is(err, browser.ErrNoChromium) && testing.Short() {
		t.Skip("no chromium and -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := devservertest.Start(t, func(o *devserver.Options) {
		o.SearchAttributes = searchAttributes()
		o.UIAddr = "127.0.0.1:0"
	})
	cfg := config.Default()
	cfg.Temporal.Address, cfg.Temporal.Namespace = srv.FrontendAddress(), srv.Namespace()
	fl := startFleet(t, ctx, &cfg, 3, t.TempDir())
	startWorker(t, ctx, &cfg)
	c := devservertest.Client(t, srv)
	in := rolloutInput(t, &cfg, fl)
	in.RolloutID = "ui-check"
	in.Waves, _ = workflows.ParseWavePlan("1,100%")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.RolloutWorkflowID(in.RolloutID), TaskQueue: cfg.Temporal.TaskQueue,
	}, workflows.RolloutWorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	if p := waitForRollout(t, ctx, c, run); p.State != workflows.StateDone {
		t.Fatalf("rollout ended %s", p.State)
	}
	dom, err := browser.DumpDOM(ctx, srv.UIURL()+"/namespaces/"+srv.Namespace()+"/workflows")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{run.GetID(), workflows.NodeWorkflowID("node-000")} {
		if !strings.Contains(dom, want) {
			t.Errorf("the UI's workflow list does not show %s", want)
		}
	}
}
