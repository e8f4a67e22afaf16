package lab

import (
	"reflect"
	"sort"
	"testing"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

// bigNode is the lab's biggest node: 20 burstable, 8 best-effort and 12
// guaranteed pods (the direct layout) of 3 containers each: 120 containers
// in 40 pods, 163 cgroups, about 145 processes.
var bigNode = wire.Node{BurstablePods: 20, BestEffortPods: 8, GuaranteedPods: 12, ContainersPerPod: 3, HogMiB: 48, CacheMiB: 16, Threads: 8}

// smallNode is the node of the interrupted and compensation scenarios:
// every special container, both layouts, 24 containers in 8 pods.
var smallNode = wire.Node{BurstablePods: 4, BestEffortPods: 2, GuaranteedPods: 2, ContainersPerPod: 3, HogMiB: 32, CacheMiB: 8, Threads: 8}

// procedurePlan is the biggest scenario; the differential test builds the
// same node on the simulator.
var procedurePlan = wire.Plan{Name: "procedure", Kind: wire.KindProcedure, Node: bigNode, Seed: 1}

// interruptedPlan and compensationPlan are the other node scenarios; the
// differential test runs them on the simulator too.
var (
	interruptedPlan = wire.Plan{Name: "interrupted", Kind: wire.KindInterrupted, Node: smallNode, Seed: 2,
		CrashFractions: []float64{0, 0.5}, RandomKills: 1}
	compensationPlan = wire.Plan{Name: "compensation", Kind: wire.KindCompensation, Node: smallNode, Seed: 3}
)

// kernelRecordFile records the values the real kernel reported for a
// scenario's node, before and after the scenario.
func kernelRecordFile(name string) string { return "testdata/kernel-" + name + ".json" }

// KernelProcedure is that record.
type KernelProcedure struct {
	Kernel string                 `json:"kernel"`
	Plan   wire.Plan              `json:"plan"`
	Before map[string]wire.Values `json:"before"`
	After  map[string]wire.Values `json:"after"`
}

func TestProcedure(t *testing.T) {
	res := boot(t, procedurePlan)
	logRuns(t, res)
	recordOrCompare(t, procedurePlan, res)
}

// recordOrCompare writes the kernel's values for the scenario under
// -update-kernel, and otherwise compares them with the record.
func recordOrCompare(t *testing.T, plan wire.Plan, res *Result) {
	t.Helper()
	file := kernelRecordFile(plan.Name)
	got := KernelProcedure{Kernel: res.Report.Kernel, Plan: plan, Before: res.Report.Before, After: res.Report.After}
	if *updateKernel {
		writeJSON(t, file, got)
		return
	}
	var want KernelProcedure
	readJSON(t, file, &want)
	if !reflect.DeepEqual(want.Plan, got.Plan) {
		t.Fatalf("%s was recorded for another plan: rerun with -update-kernel", file)
	}
	diffValues(t, "kernel before vs recorded", want.Before, got.Before)
	diffValues(t, "kernel after vs recorded", want.After, got.After)
}

func TestInterruptedEveryStep(t *testing.T) {
	res := boot(t, interruptedPlan)
	logRuns(t, res)
	recordOrCompare(t, interruptedPlan, res)
	// --crash-after-ops N dies right before the (N+1)th mutating operation,
	// so it cannot interrupt a step that has a single one (service stop and
	// start, snapshot, run-commands): those run once with N=1 (complete)
	// and again, which proves re-running a finished step is harmless. Every
	// step with several operations must have been killed, and the tree
	// steps past their first operation too.
	crashed, crashedLate := map[string]int{}, map[string]int{}
	for _, r := range res.Report.Runs {
		if r.CrashAt > 0 && r.Exit == 137 {
			crashed[r.Args[0]]++
			if r.CrashAt > 1 {
				crashedLate[r.Args[0]]++
			}
		}
	}
	for _, step := range []string{"kubelet", "mirror", "move", "commit", "rebuild"} {
		if crashed[step] == 0 {
			t.Errorf("no run of %s was killed by --crash-after-ops", step)
		}
	}
	for _, step := range []string{"mirror", "move", "commit", "rebuild"} {
		if crashedLate[step] == 0 {
			t.Errorf("no run of %s was killed past its first operation", step)
		}
	}
}

func TestCompensation(t *testing.T) {
	res := boot(t, compensationPlan)
	logRuns(t, res)
	recordOrCompare(t, compensationPlan, res)
}

func logRuns(t *testing.T, res *Result) {
	t.Helper()
	for _, r := range res.Report.Runs {
		t.Logf("run %v crash=%d kill=%.2fs: exit %d ok=%t %s %.2fs %s", r.Args, r.CrashAt, float64(r.KilledAt), r.Exit, r.OK, r.ErrorCode, float64(r.Seconds), r.Message)
	}
}

// diffValues reports every cgroup and value where two trees differ.
func diffValues(t *testing.T, what string, want, got map[string]wire.Values) {
	t.Helper()
	for _, p := range valueDiffs(want, got) {
		t.Errorf("%s: %s", what, p)
	}
}

func valueDiffs(want, got map[string]wire.Values) []string {
	var out []string
	rels := map[string]bool{}
	for rel := range want {
		rels[rel] = true
	}
	for rel := range got {
		rels[rel] = true
	}
	var sorted []string
	for rel := range rels {
		sorted = append(sorted, rel)
	}
	sort.Strings(sorted)
	for _, rel := range sorted {
		w, okW := want[rel]
		g, okG := got[rel]
		switch {
		case !okW:
			out = append(out, "unexpected cgroup "+quote(rel))
			continue
		case !okG:
			out = append(out, "missing cgroup "+quote(rel))
			continue
		}
		for f, wv := range w {
			if gv := g[f]; gv != wv {
				out = append(out, quote(rel)+" "+f+": "+quote(gv)+", want "+quote(wv))
			}
		}
		for f := range g {
			if _, ok := w[f]; !ok {
				out = append(out, quote(rel)+" "+f+": unexpected file")
			}
		}
	}
	return out
}
