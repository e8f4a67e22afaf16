package starter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kmemfix/kmemfix/internal/devserver"
	"github.com/kmemfix/kmemfix/internal/devserver/devservertest"
	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/workflows"
)

// These tests run the CLI against a real Temporal server in this process,
// with the real rollout workflow and a stand-in node workflow that
// finishes only when the test releases it (signal "release"): each step of
// a rollout happens when the test says so, never by timing.

const releaseSignal = "release"

func heldNode(ctx workflow.Context, in *workflows.NodeInput) (*workflows.NodeResult, error) {
	if in.DryRun { // a survey or an inspection: answer at once
		return inspected(in.Node.Name), nil
	}
	workflow.GetSignalChannel(ctx, releaseSignal).Receive(ctx, nil)
	return &workflows.NodeResult{Node: in.Node.Name, Outcome: workflows.OutcomeRemediated, Step: workflows.StepDone,
		KubeletRunning: true, KubeletDown: 30 * time.Second}, nil
}

type fleetHarness struct {
	t      *testing.T
	c      client.Client
	config string // --config file
	spec   string // rollout spec file
}

func newHarness(t *testing.T) *fleetHarness {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	isolate(t)
	srv := devservertest.Start(t, func(o *devserver.Options) { o.SearchAttributes = searchAttributes() })
	c := devservertest.Client(t, srv)
	const queue = "kmemfix-cli-test"
	w := sdkworker.New(c, queue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(workflows.RolloutWorkflow, workflow.RegisterOptions{Name: workflows.RolloutWorkflowName})
	w.RegisterWorkflowWithOptions(heldNode, workflow.RegisterOptions{Name: workflows.NodeWorkflowName})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	dir := t.TempDir()
	h := &fleetHarness{t: t, c: c, config: filepath.Join(dir, "kmemfix.yaml"), spec: filepath.Join(dir, "rollout.yaml")}
	write(t, h.config, fmt.Sprintf(`temporal:
  address: %s
  namespace: %s
  taskQueue: %s
node:
  replacementKubelet: {path: /srv/kubelet-nokmem, sha256: %s}
`, srv.FrontendAddress(), srv.Namespace(), queue, strings.Repeat("0f", 32)))
	inv, _ := filepath.Abs("testdata/nodes.yaml")
	write(t, h.spec, fmt.Sprintf("inventory: %s\nwaves: [\"1\", \"100%%\"]\nconcurrency: 3\nsoak: 0s\nfailureBudget: \"1\"\n", inv))
	return h
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs kmemfix with the harness's config and wants the exit code.
func (h *fleetHarness) run(wantCode int, args ...string) string {
	h.t.Helper()
	code, out, errOut := kmemfix(h.t, append([]string{"--config", h.config}, args...)...)
	if code != wantCode {
		h.t.Fatalf("kmemfix %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, out, errOut)
	}
	return out + errOut
}

func (h *fleetHarness) progress(name string) *workflows.Progress {
	h.t.Helper()
	var p workflows.Progress
	if err := json.Unmarshal([]byte(h.run(0, "rollout", "status", name, "--json")), &p); err != nil {
		h.t.Fatal(err)
	}
	return &p
}

// eventually retries check until it passes or 30s have gone by.
func (h *fleetHarness) eventually(what string, check func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *fleetHarness) nodeStarted(node string) bool {
	_, err := h.c.DescribeWorkflowExecution(context.Background(), workflows.NodeWorkflowID(node), "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return true
}

func (h *fleetHarness) release(node string) {
	h.t.Helper()
	h.eventually(node+" runs", func() bool { return h.nodeStarted(node) })
	if err := h.c.SignalWorkflow(context.Background(), workflows.NodeWorkflowID(node), "", releaseSignal, nil); err != nil {
		h.t.Fatal(err)
	}
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestRolloutStartPauseResumeStatusWatch(t *testing.T) {
	h := newHarness(t)
	out := h.run(0, "rollout", "start", "-f", h.spec, "--name", "life")
	mustContain(t, out, "Started remediate kmemfix-rollout-life: 4 node(s) in 2 wave(s) [1 3]",
		"Temporal UI: http://127.0.0.1:8233/namespaces/default/workflows/kmemfix-rollout-life")
	h.run(ExitUsage, "rollout", "start", "-f", h.spec, "--name", "bad name")

	h.eventually("the canary node runs", func() bool { return h.nodeStarted("node-000") })
	mustContain(t, h.run(0, "rollout", "pause", "life", "--reason", "checking dashboards"), "kmemfix-rollout-life: paused")
	mustContain(t, h.run(ExitUsage, "rollout", "pause", "life"), "give --reason")
	mustContain(t, h.run(1, "rollout", "pause", "life", "--reason", "again"), "already paused")
	mustContain(t, h.run(0, "rollout", "status", "life"), "remediate paused", "paused by operator: checking dashboards")

	h.release("node-000")
	h.eventually("the canary is done", func() bool { return h.progress("life").Done == 1 })
	time.Sleep(200 * time.Millisecond) // give a wrongly unpaused rollout the chance to start wave 2
	if h.nodeStarted("node-001") {
		t.Fatal("wave 2 started while the rollout was paused")
	}

	mustContain(t, h.run(0, "rollout", "resume", "life", "--note", "dashboards fine"), "kmemfix-rollout-life: resumed")
	for _, n := range []string{"node-001", "node-002", "node-003"} {
		h.release(n)
	}
	out = h.run(0, "rollout", "watch", "life", "--interval", "50ms")
	mustContain(t, out, "rollout kmemfix-rollout-life ended done: remediated 4", "kubelet down over 4 node(s): p50 30s")
	mustContain(t, h.run(0, "rollout", "status", "life"), "remediate done: wave 2/2, 4/4 nodes done",
		"wave 2: 3/3 done, 3 started: remediated 3")
	mustContain(t, h.run(1, "rollout", "resume", "life"), "the rollout is not running")
	h.eventually("the rollout is listed", func() bool {
		return strings.Contains(h.run(0, "rollout", "list"), "kmemfix-rollout-life")
	})
}

func TestRolloutSkipAndAbort(t *testing.T) {
	h := newHarness(t)
	h.run(0, "rollout", "start", "-f", h.spec, "--name", "stopme")
	h.eventually("the canary node runs", func() bool { return h.nodeStarted("node-000") })
	mustContain(t, h.run(0, "rollout", "skip", "stopme", "node-003"), "skipped node-003")
	mustContain(t, h.run(1, "rollout", "skip", "stopme", "node-000"), "only a node not started yet can be skipped")
	mustContain(t, h.run(1, "rollout", "skip", "stopme", "node-999"), "not in the inventory")
	mustContain(t, h.run(0, "rollout", "abort", "stopme", "--reason", "wrong fleet"), "aborting")
	h.release("node-000")
	out := h.run(1, "rollout", "watch", "stopme", "--interval", "50ms")
	mustContain(t, out, "ended aborted", "remediated 1", "skipped-by-operator 1")
	if h.nodeStarted("node-001") {
		t.Error("a node started after the abort")
	}
	p := h.progress("stopme")
	if p.State != workflows.StateAborted || p.AbortReason != "wrong fleet" {
		t.Errorf("state %q reason %q, want aborted / wrong fleet", p.State, p.AbortReason)
	}
}

func TestCommandsSayWhenTemporalIsNotThere(t *testing.T) {
	isolate(t)
	code, _, errOut := kmemfix(t, "--temporal-address", "127.0.0.1:1", "rollout", "status", "x")
	if code != 1 || !strings.Contains(errOut, "kmemfix dev") {
		t.Errorf("exit %d, stderr %q: want a hint to start `kmemfix dev`", code, errOut)
	}
}

// inspected is a dry run's result: node-001 is affected, the others not.
func inspected(name string) *workflows.NodeResult {
	ins := &node.InspectResult{Kernel: "3.10.0-1160.el7.x86_64", KernelGeneration: node.KernelLegacy, Verdict: node.VerdictNotAffected,
		Phase: node.PhaseIdle, IDsInUse: 900, LeakedIDs: 0, Headroom: node.Headroom{Known: true, Required: 600, Available: 64635},
		Kubelet: node.Kubelet{State: "active", Binary: "/usr/bin/kubelet", Version: "v1.14.10"}}
	res := &workflows.NodeResult{Node: name, Outcome: workflows.OutcomeSkippedNotAffected, DryRun: true, Step: workflows.StepInspect, Inspect: ins,
		Reasons: []string{"kubepods is not kmem-accounted"}}
	if name == "node-001" {
		ins.Verdict, ins.KubepodsKmem, ins.LeakedIDs, ins.Kubelet.Version = node.VerdictAffected, true, 4200, "v1.12.3"
		res.Outcome, res.Reasons = workflows.OutcomePlanned, []string{"kubepods is kmem-accounted; 4200 css ids leaked"}
		res.Plan = []workflows.PlanStep{{Step: workflows.StepStopKubelet, Does: "stop kubelet", Compensation: workflows.StepRestoreKubelet},
			{Step: workflows.StepCommit, Does: "remove the old tree", ForwardOnly: true}}
	}
	return res
}

func TestSurveyTableJSONAndCSV(t *testing.T) {
	h := newHarness(t)
	out := h.run(0, "survey", "-i", "testdata/nodes.yaml")
	mustContain(t, out, "Surveying 4 node(s)", "node-001", "planned", "affected", "4200", "4 node(s): affected 1, not-affected 3")
	csvOut := h.run(0, "survey", "-i", "testdata/nodes.yaml", "--csv")
	mustContain(t, csvOut, "node,outcome,verdict,phase,headroom,required,available,leakedIDs,reason\n",
		"node-001,planned,affected,idle,ok,600,64635,4200,")
	var fleet workflows.FleetPicture
	js := h.run(0, "survey", "-i", "testdata/nodes.yaml", "--json")
	if err := json.NewDecoder(strings.NewReader(js)).Decode(&fleet); err != nil { // stderr follows the JSON
		t.Fatalf("--json: %v\n%s", err, js)
	}
	if len(fleet.Nodes) != 4 || fleet.Verdicts[node.VerdictAffected] != 1 {
		t.Errorf("fleet picture: %+v", fleet)
	}
	mustContain(t, h.run(ExitUsage, "survey", "-i", "testdata/bad-nodes.yaml"), "duplicate name")
}

func TestNodeInspect(t *testing.T) {
	h := newHarness(t)
	out := h.run(0, "node", "inspect", "node-001", "-i", "testdata/nodes.yaml")
	mustContain(t, out, "Node node-001: planned", "verdict affected", "4200 leaked", "kubelet active (/usr/bin/kubelet, v1.12.3)",
		"1. stop-kubelet", "(undo: restore-kubelet)", "(forward only)")
	mustContain(t, h.run(ExitUsage, "node", "inspect", "node-042", "-i", "testdata/nodes.yaml"), `node "node-042" is not in testdata/nodes.yaml`)
}

func TestNodeRemediateWaitsForTheOutcome(t *testing.T) {
	h := newHarness(t)
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := kmemfix(t, "--config", h.config, "node", "remediate", "node-002", "-i", "testdata/nodes.yaml")
		done <- result{code, out, errOut}
	}()
	h.release("node-002")
	r := <-done
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	mustContain(t, r.out+r.err, "kmemfix-node-node-002", "Node node-002: remediated (last step done)", "Kubelet was down 30s")
}
