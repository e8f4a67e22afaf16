package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/internal/devserver"
	"github.com/kmemfix/kmemfix/internal/devserver/devservertest"
	"github.com/kmemfix/kmemfix/node"
	nodehelper "github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/sim/fleet"
	"github.com/kmemfix/kmemfix/workflows"
)

// TestRunInspectsASimulatedNodeEndToEnd runs the production wiring (Run:
// config, helper builds, SSH pool, Temporal client, worker) against an
// in-process Temporal server and a simulated node reached over real SSH,
// with the real node helper, and inspects the node through the real node
// workflow. Then it stops the worker as SIGTERM would.
func TestRunInspectsASimulatedNodeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and an SSH fleet")
	}
	dir := t.TempDir()
	build := []byte("\x7fELF stand-in kmemfix-node build: the simulated node runs node/helper.Main for it\n")
	if err := os.WriteFile(filepath.Join(dir, "kmemfix-node-amd64"), build, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(build)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fl, err := fleet.Start(ctx, fleet.Options{Nodes: 1, Helper: nodehelper.Main, HelperSHA256s: []string{hex.EncodeToString(sum[:])},
		Defaults: fleet.NodeSpec{Containers: 6, KubeletVersion: "1.12.3", LeakedIDs: 300}})
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	files, err := fl.WriteFiles(dir, "inventory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv := devservertest.Start(t, func(o *devserver.Options) {
		o.SearchAttributes = map[string]enums.IndexedValueType{}
		for _, sa := range workflows.SearchAttributes {
			o.SearchAttributes[sa.Name] = sa.Type
		}
	})
	cfg := config.Default()
	cfg.Temporal.Address, cfg.Temporal.Namespace, cfg.Temporal.TaskQueue = srv.FrontendAddress(), srv.Namespace(), "kmemfix-worker-test"
	cfg.SSH.KeyFiles, cfg.SSH.Agent, cfg.SSH.KnownHosts = []string{files.ClientKey}, false, []string{files.KnownHosts}
	cfg.Worker.HelperBinDir = dir
	cfg.Worker.StopTimeout = 5 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, &cfg, slog.New(slog.NewTextHandler(testWriter{t}, nil))) }()

	c := devservertest.Client(t, srv)
	n := fl.Nodes()[0]
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.NodeWorkflowID(n.Name), TaskQueue: cfg.Temporal.TaskQueue},
		workflows.NodeWorkflowName, &workflows.NodeInput{
			Node:     activities.NodeRef{Name: n.Name, Address: n.Address, Port: n.Port, User: n.User},
			Settings: workflows.NodeSettings{CgroupRoot: cfg.Node.CgroupRoot, Kubepods: cfg.Node.Kubepods, Mirror: cfg.Node.Mirror, JournalDir: cfg.Node.JournalDir},
			DryRun:   true,
		})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.NodeResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Inspect == nil || res.Inspect.Verdict != node.VerdictAffected || !res.Inspect.KubepodsKmem {
		t.Errorf("inspect of a kubelet 1.12.3 node: %+v (reasons %s)", res.Inspect, strings.Join(res.Reasons, "; "))
	}
	if res.Outcome != workflows.OutcomePlanned || len(res.Plan) == 0 {
		t.Errorf("outcome %s with %d plan steps, want planned with a plan", res.Outcome, len(res.Plan))
	}

	stop() // as SIGTERM does in main
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
