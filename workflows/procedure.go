package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/node"
)

// stepDef is one step of the remediation: what it does, the compensation
// registered before it runs, whether it is the commit point, and whether
// its failure is only a warning.
type stepDef struct {
	step     Step
	does     string
	comp     Step
	commit   bool
	optional bool
	run      func(ctx workflow.Context) error
}

// sequence is the steps to run from a phase found on the node. From idle,
// snapshotted or mirrored the whole procedure runs (every step resumes from
// the node's state); from committing or rebuilt only forward.
func (w *nodeWorkflow) sequence(phase string) []stepDef {
	k, m := orDefault(w.s.Kubepods, "kubepods"), orDefault(w.s.Mirror, "kubepods2")
	stage := stepDef{step: StepStageKubelet, run: w.stageKubelet,
		does: fmt.Sprintf("upload the replacement kubelet to %s and check its sha256 (kubelet still running)", w.s.StagedKubelet)}
	stop := stepDef{step: StepStopKubelet, run: w.stopKubelet, comp: StepRestoreKubelet,
		does: fmt.Sprintf("stop %s, check it is inactive, install the replacement over %s (backup + atomic rename); starts the kubelet-down budget of %s",
			w.s.KubeletUnit, w.s.KubeletBinary, w.s.KubeletDownBudget)}
	snapshot := stepDef{step: StepSnapshot, run: w.snapshot, comp: StepCloseJournal,
		does: fmt.Sprintf("record every dir, pid and preserved value of %s in the node's journal", k)}
	mirror := stepDef{step: StepMirror, run: w.treeStep(StepMirror, a.Mirror), comp: StepRestore,
		does: fmt.Sprintf("build %s with every preserved value and move_charge_at_immigrate=3, before any process moves", m)}
	move := stepDef{step: StepMove, run: w.treeStep(StepMove, a.Move), comp: StepRestore,
		does: fmt.Sprintf("move every process from %s into %s until the sources are empty; nothing removed", k, m)}
	commit := stepDef{step: StepCommit, run: w.treeStep(StepCommit, a.Commit), commit: true,
		does: fmt.Sprintf("COMMIT POINT: remove %s leaf-first; from here the only way is forward", k)}
	rebuild := stepDef{step: StepRebuild, run: w.treeStep(StepRebuild, a.Rebuild),
		does: fmt.Sprintf("recreate %s unaccounted, move everything back, remove %s, restore move_charge values", k, m)}
	start := stepDef{step: StepStartKubelet, run: w.startKubelet,
		does: fmt.Sprintf("start %s and wait for %s", w.s.KubeletUnit, w.s.KubeletHealthzURL)}
	cadvisor := stepDef{step: StepRestartCadvisor, run: w.restartCadvisor, optional: true,
		does: fmt.Sprintf("run %d configured command(s) restarting cadvisor and monitoring agents", len(w.s.CadvisorCommands))}
	verify := stepDef{step: StepVerify, run: w.verify,
		does: "compare the node with the snapshot: same paths per pid, same values, nothing accounted, mkdir works"}
	finish := stepDef{step: StepFinish, run: w.finish, optional: true, does: "close the node's journal"}

	var seq []stepDef
	switch phase {
	case node.PhaseCommitting:
		stop.comp = ""
		w.resumeCommitted = true
		seq = []stepDef{stage, stop, commit, rebuild, start, cadvisor, verify, finish}
	case node.PhaseRebuilt:
		stop.comp = ""
		w.resumeCommitted = true
		seq = []stepDef{stage, stop, start, cadvisor, verify, finish}
	default:
		seq = []stepDef{stage, stop, snapshot, mirror, move, commit, rebuild, start, cadvisor, verify, finish}
	}
	if w.s.Cordon {
		cordon := stepDef{step: StepCordon, run: w.cordon, comp: StepUncordon,
			does: "cordon the Kubernetes node (unless someone already did) so no pod is scheduled while kubelet is down"}
		for i, d := range seq {
			if d.step == StepStopKubelet {
				seq = append(seq[:i], append([]stepDef{cordon}, seq[i:]...)...)
				break
			}
		}
	}
	if len(w.s.CadvisorCommands) == 0 {
		out := seq[:0]
		for _, d := range seq {
			if d.step != StepRestartCadvisor {
				out = append(out, d)
			}
		}
		seq = out
	}
	return seq
}

// plan is the dry-run view of a sequence.
func plan(seq []stepDef) []PlanStep {
	out := make([]PlanStep, 0, len(seq))
	forward := false
	for _, d := range seq {
		forward = forward || d.commit
		out = append(out, PlanStep{Step: d.step, Does: d.does, Compensation: d.comp, ForwardOnly: forward})
	}
	return out
}

func (w *nodeWorkflow) stageKubelet(ctx workflow.Context) error {
	return w.exec(ctx, StepStageKubelet, a.StageKubelet, &activities.StageKubeletInput{
		Node: w.in.Node, LocalPath: w.s.ReplacementKubelet, RemotePath: w.s.StagedKubelet, SHA256: w.s.ReplacementKubeletSHA256,
	}, &activities.StageKubeletResult{})
}

func (w *nodeWorkflow) cordon(ctx workflow.Context) error {
	var out activities.CordonResult
	if err := w.exec(ctx, StepCordon, a.CordonNode, w.cordonInput(), &out); err != nil {
		return err
	}
	w.cordoned = true
	return nil
}

func (w *nodeWorkflow) cordonInput() *activities.CordonInput {
	return &activities.CordonInput{Node: w.in.Node, RolloutID: w.in.RolloutID}
}

// uncordon restores the node's schedulable state once the node is done
// with (remediated, rebooted); a failure is a warning, not an outcome.
func (w *nodeWorkflow) uncordon(ctx workflow.Context) {
	if !w.cordoned {
		return
	}
	w.setStep(ctx, StepUncordon)
	if err := w.exec(ctx, StepUncordon, a.UncordonNode, w.cordonInput(), &activities.CordonResult{}); err != nil {
		w.res.Warnings = append(w.res.Warnings, fmt.Sprintf("uncordon failed: %v; the node is still cordoned: `kubectl uncordon %s`", errMsg(err), w.in.Node.Name))
		return
	}
	w.cordoned = false
}

func (w *nodeWorkflow) stopKubelet(ctx workflow.Context) error {
	err := w.exec(ctx, StepStopKubelet, a.StopKubelet, &activities.StopKubeletInput{
		Node: w.in.Node, Flags: w.flags, Unit: w.s.KubeletUnit, Binary: w.s.KubeletBinary,
		NewBinary: w.s.StagedKubelet, SHA256: w.s.ReplacementKubeletSHA256, Timeout: w.s.ServiceTimeout,
	}, &activities.StopKubeletResult{})
	w.swapped = err == nil
	return err
}

func (w *nodeWorkflow) snapshot(ctx workflow.Context) error {
	var out activities.SnapshotResult
	if err := w.exec(ctx, StepSnapshot, a.Snapshot, w.stepInput(), &out); err != nil {
		return err
	}
	w.res.Snapshot = &out.Snapshot
	return nil
}

func (w *nodeWorkflow) treeStep(step Step, activity any) func(workflow.Context) error {
	return func(ctx workflow.Context) error {
		return w.exec(ctx, step, activity, w.stepInput(), &activities.TreeStepResult{})
	}
}

func (w *nodeWorkflow) startKubelet(ctx workflow.Context) error {
	return w.exec(ctx, StepStartKubelet, a.StartKubelet, w.startInput(w.flags), &activities.StartKubeletResult{})
}

func (w *nodeWorkflow) startInput(f activities.Flags) *activities.StartKubeletInput {
	return &activities.StartKubeletInput{
		Node: w.in.Node, Flags: f, Unit: w.s.KubeletUnit, HealthzURL: w.s.KubeletHealthzURL, Timeout: w.s.ServiceTimeout,
	}
}

func (w *nodeWorkflow) restartCadvisor(ctx workflow.Context) error {
	return w.exec(ctx, StepRestartCadvisor, a.RestartCadvisor, &activities.RestartCadvisorInput{
		Node: w.in.Node, Flags: w.flags, Commands: w.s.CadvisorCommands,
	}, &activities.RestartCadvisorResult{})
}

func (w *nodeWorkflow) verify(ctx workflow.Context) error {
	var out activities.VerifyResult
	err := w.exec(ctx, StepVerify, a.Verify, w.stepInput(), &out)
	if err != nil {
		if vr := verifyDetails(err); vr != nil {
			w.res.Verify = vr
		}
		return err
	}
	w.res.Verify = &out.Verify
	return nil
}

func (w *nodeWorkflow) finish(ctx workflow.Context) error {
	return w.exec(ctx, StepFinish, a.Finish, w.stepInput(), &activities.FinishResult{})
}

func (w *nodeWorkflow) stepInput() *activities.NodeStepInput {
	return &activities.NodeStepInput{Node: w.in.Node, Flags: w.flags}
}
