// Package e2e holds the end-to-end tests: a real Temporal server in-process,
// the production worker wiring, and the simulated fleet over real SSH.
package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/internal/devserver"
	"github.com/kmemfix/kmemfix/internal/devserver/devservertest"
	"github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/sim/fleet"
	"github.com/kmemfix/kmemfix/sim/simnode"
	"github.com/kmemfix/kmemfix/worker"
	"github.com/kmemfix/kmemfix/workflows"
)

// faulty nodes of the 200 and what each must end with.
var faulty = map[string]struct {
	knobs string
	want  workflows.Outcome
}{
	"node-007": {"unreachable", workflows.OutcomeUnreachable},
	"node-023": {"auth-refusal", workflows.OutcomeUnreachable},
	"node-042": {"changed-host-key", workflows.OutcomeUnreachable},
	"node-077": {"exhausted", workflows.OutcomeNeedsReboot},
	"node-101": {"kubelet=1.14.10", workflows.OutcomeSkippedNotAffected},
	"node-150": {"kubelet-fails-start", workflows.OutcomeFailedNeedsAttention},
	"node-166": {"enospc-mkdir", workflows.OutcomeNeedsReboot},     // inspect's mkdir probe sees ENOSPC
	"node-188": {"enospc-mkdir=3", workflows.OutcomeRemediated},    // a mirror mkdir fails once: the retry converges
	"node-120": {"reboot-after-exec=5", workflows.OutcomeRebooted}, // the boot id changes mid-procedure
}

// TestRolloutOver200Nodes runs a rollout in waves over 200 simulated nodes
// (a few faulty) with the production worker against a real in-process
// Temporal server, and checks every node's outcome and, on every remediated
// node, the simulated kernel itself.
func TestRolloutOver200Nodes(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end over 200 nodes: skipped with -short")
	}
	const nodes = 200
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := t.TempDir()

	srv := devservertest.Start(t, func(o *devserver.Options) { o.SearchAttributes = searchAttributes() })
	cfg := config.Default()
	cfg.Temporal.Address, cfg.Temporal.Namespace = srv.FrontendAddress(), srv.Namespace()
	fl := startFleet(t, ctx, &cfg, nodes, dir)
	startWorker(t, ctx, &cfg)

	c := devservertest.Client(t, srv)
	in := rolloutInput(t, &cfg, fl)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.RolloutWorkflowID(in.RolloutID), TaskQueue: cfg.Temporal.TaskQueue,
	}, workflows.RolloutWorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	progress := waitForRollout(t, ctx, c, run)
	if progress.State != workflows.StateDone || progress.Done != nodes {
		t.Fatalf("rollout ended %s with %d/%d nodes done: %+v", progress.State, progress.Done, nodes, progress.Failing)
	}
	remediated := 0
	for _, info := range fl.Nodes() {
		res := nodeResult(t, ctx, c, info.Name)
		want := workflows.OutcomeRemediated
		if f, ok := faulty[info.Name]; ok {
			want = f.want
		}
		if res.Outcome != want {
			t.Errorf("%s: outcome %s, want %s: %s", info.Name, res.Outcome, want, strings.Join(res.Reasons, " | "))
			continue
		}
		if want == workflows.OutcomeRemediated {
			remediated++
			checkRemediated(t, info.Name, fl.Node(info.Name), res)
		}
	}
	t.Logf("%d nodes remediated and verified; kubelet down p50 %s p99 %s max %s",
		remediated, progress.KubeletDown.P50, progress.KubeletDown.P99, progress.KubeletDown.Max)
}

// waitForRollout follows the rollout's progress query and fails at once if
// it pauses (an auto-pause would otherwise wait for an operator forever).
func waitForRollout(t *testing.T, ctx context.Context, c client.Client, run client.WorkflowRun) workflows.Progress {
	t.Helper()
	done := make(chan error, 1)
	var final workflows.Progress
	go func() { done <- run.Get(ctx, &final) }()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("rollout: %v", err)
			}
			return final
		case <-tick.C:
			v, err := c.QueryWorkflow(ctx, run.GetID(), "", workflows.QueryProgress)
			if err != nil {
				continue
			}
			var p workflows.Progress
			if err := v.Get(&p); err != nil {
				t.Fatal(err)
			}
			t.Logf("wave %d: %d/%d done, %d running, %v", p.Wave, p.Done, p.Total, p.Running, p.Counts)
			if p.State == workflows.StatePaused {
				t.Fatalf("rollout paused (%s): %s; failing: %+v", p.PauseSource, p.PauseReason, p.Failing)
			}
		}
	}
}

func searchAttributes() map[string]enums.IndexedValueType {
	m := map[string]enums.IndexedValueType{}
	for _, sa := range workflows.SearchAttributes {
		m[sa.Name] = sa.Type
	}
	return m
}

// startFleet starts the simulated fleet and points cfg at its files: client
// key, known_hosts, the helper build it accepts, the replacement kubelet.
func startFleet(t *testing.T, ctx context.Context, cfg *config.Config, nodes int, dir string) *fleet.Fleet {
	t.Helper()
	helperSum := writeFile(t, filepath.Join(dir, "kmemfix-node-amd64"), "stand-in build: the simulated nodes run node/helper in-process\n")
	kubelet := filepath.Join(dir, "kubelet-nokmem")
	// The simulated nodes run a kubelet according to its binary's content.
	kubeletSum := writeFile(t, kubelet, string(simnode.KubeletBinary("v1.12.3-nokmem", false)))
	var overrides []fleet.Override
	for name, f := range faulty {
		ov, err := fleet.ParseOverride(name + "=" + f.knobs)
		if err != nil {
			t.Fatal(err)
		}
		overrides = append(overrides, ov)
	}
	fl, err := fleet.Start(ctx, fleet.Options{
		Nodes: nodes, Helper: helper.Main, HelperSHA256s: []string{helperSum},
		Defaults:  fleet.NodeSpec{Containers: 10, KubeletVersion: "1.12.3", LeakedIDs: 3000},
		Overrides: overrides,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fl.Close() })
	files, err := fl.WriteFiles(dir, "inventory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.SSH.KeyFiles, cfg.SSH.KnownHosts, cfg.SSH.Agent = []string{files.ClientKey}, []string{files.KnownHosts}, false
	cfg.SSH.DialTimeout = 5 * time.Second
	cfg.Node.ReplacementKubelet = config.Artifact{Path: kubelet, SHA256: kubeletSum}
	cfg.Worker.HelperBinDir = dir
	return fl
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

// startWorker runs the production worker wiring until the test ends.
func startWorker(t *testing.T, ctx context.Context, cfg *config.Config) {
	t.Helper()
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	wcfg := *cfg
	wcfg.Worker.StopTimeout = 5 * time.Second
	go func() { done <- worker.Run(wctx, &wcfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
}

func rolloutInput(t *testing.T, cfg *config.Config, fl *fleet.Fleet) *workflows.RolloutInput {
	t.Helper()
	waves, err := workflows.ParseWavePlan("1,10,50%,100%")
	if err != nil {
		t.Fatal(err)
	}
	inv := fl.Inventory().Resolved()
	nodes := make([]workflows.InventoryNode, len(inv))
	for i, n := range inv {
		nodes[i] = workflows.InventoryNode{Name: n.Name, Address: n.Address, Port: n.Port, User: n.User}
	}
	return &workflows.RolloutInput{
		RolloutID: "e2e-200", Inventory: nodes, Waves: waves, Concurrency: []int{1, 10, 50},
		FailureBudget: workflows.FailureBudget{Percent: 10},
		Settings: workflows.NodeSettings{
			ReplacementKubelet: cfg.Node.ReplacementKubelet.Path, ReplacementKubeletSHA256: cfg.Node.ReplacementKubelet.SHA256,
			KubeletDownBudget: time.Minute, HeadroomMargin: 256,
		},
	}
}

func nodeResult(t *testing.T, ctx context.Context, c client.Client, name string) workflows.NodeResult {
	t.Helper()
	var res workflows.NodeResult
	if err := c.GetWorkflow(ctx, workflows.NodeWorkflowID(name), "").Get(ctx, &res); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// checkRemediated reads the simulated kernel of a remediated node: nothing
// under kubepods is accounted, no mirror is left, kubelet runs the
// replacement, and the workflow's verify saw every process in place.
func checkRemediated(t *testing.T, name string, n *simnode.Node, res workflows.NodeResult) {
	t.Helper()
	var problems []string
	for _, p := range n.Cgroups() {
		s, _ := n.Cgroup(p)
		if strings.HasPrefix(p, "/kubepods") && s.Kmem {
			problems = append(problems, p+" is kmem-accounted")
		}
		if p == "/kubepods2" || strings.HasPrefix(p, "/kubepods2/") {
			problems = append(problems, p+" left behind")
		}
	}
	if k := n.RunningKubelet(); n.ServiceState("kubelet") != "active" || k.Kmem {
		problems = append(problems, fmt.Sprintf("kubelet %s running %+v", n.ServiceState("kubelet"), k))
	}
	if res.Verify == nil || len(res.Verify.Problems) > 0 || res.Verify.ProcsAlive == 0 {
		problems = append(problems, fmt.Sprintf("verify %+v", res.Verify))
	}
	if len(problems) > 0 {
		t.Errorf("%s: %s", name, strings.Join(problems, "; "))
	}
}
