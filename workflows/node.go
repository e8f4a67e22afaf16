package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/telemetry"
)

// NodeWorkflow remediates one node: ensure the helper, inspect, then the
// nine steps with a saga before the commit point and forward-only after
// it, within the kubelet-down budget. See docs in procedure.go.
func NodeWorkflow(ctx workflow.Context, in *NodeInput) (*NodeResult, error) {
	w := &nodeWorkflow{in: in, s: in.Settings.WithDefaults()}
	w.res = NodeResult{Node: in.Node.Name, KubeletRunning: true}
	if err := w.setup(ctx); err != nil {
		return nil, err
	}
	return w.run(ctx)
}

type nodeWorkflow struct {
	in     *NodeInput
	s      NodeSettings
	flags  activities.Flags
	res    NodeResult
	logger log.Logger

	step            Step
	committed       bool
	kubeletStopped  bool
	stoppedAt       time.Time
	overrun         bool // the kubelet-down budget ran out
	budgetCancel    bool // ... and it cancelled the steps (before the commit)
	swapped         bool // the replacement kubelet was installed
	cordoned        bool // this run cordoned the Kubernetes node
	comps           []compensation
	resumeCommitted bool
	context         []string // what inspect found, appended after the outcome's reasons // the node was found past the commit point
}

func (w *nodeWorkflow) setup(ctx workflow.Context) error {
	w.logger = log.With(workflow.GetLogger(ctx), "node", w.in.Node.Name)
	w.flags = activities.Flags{
		CgroupRoot: w.s.CgroupRoot, Kubepods: w.s.Kubepods, Mirror: w.s.Mirror, JournalDir: w.s.JournalDir,
		KubeletUnit: w.s.KubeletUnit,
	}
	if err := workflow.SetQueryHandler(ctx, QueryCurrentStep, func() (CurrentStep, error) {
		return CurrentStep{
			Node: w.in.Node.Name, Step: w.step, Committed: w.committed,
			KubeletStopped: w.kubeletStopped, KubeletStoppedAt: w.stoppedAt, BudgetExceeded: w.overrun,
		}, nil
	}); err != nil {
		return fmt.Errorf("register %s query: %w", QueryCurrentStep, err)
	}
	upd := []temporal.SearchAttributeUpdate{SANode.ValueSet(w.in.Node.Name)}
	if w.in.RolloutID != "" {
		upd = append(upd, SARollout.ValueSet(w.in.RolloutID), SAWave.ValueSet(int64(w.in.Wave)))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, upd...); err != nil {
		return fmt.Errorf("upsert search attributes: %w", err)
	}
	return nil
}

// setStep makes the step visible: query, search attribute, current details.
func (w *nodeWorkflow) setStep(ctx workflow.Context, s Step) {
	w.step = s
	w.res.Step = s
	if err := workflow.UpsertTypedSearchAttributes(ctx, SAStep.ValueSet(string(s))); err != nil {
		w.logger.Warn("upsert step search attribute", "error", err)
	}
	w.details(ctx)
}

func (w *nodeWorkflow) details(ctx workflow.Context) {
	d := fmt.Sprintf("**node** %s · **step** %s", w.in.Node.Name, w.step)
	if w.committed {
		d += " · past the commit point: forward only"
	}
	if w.kubeletStopped {
		d += fmt.Sprintf(" · kubelet stopped since %s (budget %s)", w.stoppedAt.UTC().Format(time.RFC3339), w.s.KubeletDownBudget)
	}
	if w.res.Outcome != "" {
		d += fmt.Sprintf(" · **outcome** %s", w.res.Outcome)
	}
	workflow.SetCurrentDetails(ctx, d)
}

func (w *nodeWorkflow) run(ctx workflow.Context) (*NodeResult, error) {
	if err := w.s.Validate(w.in.DryRun); err != nil {
		return w.end(ctx, OutcomeFailedRolledBack, "the procedure settings are invalid, nothing was changed: "+err.Error())
	}
	w.setStep(ctx, StepEnsureHelper)
	var helper activities.EnsureHelperResult
	if err := w.exec(ctx, StepEnsureHelper, a.EnsureHelper, &activities.EnsureHelperInput{Node: w.in.Node}, &helper); err != nil {
		return w.beforeChange(ctx, err)
	}
	w.setStep(ctx, StepInspect)
	var ins activities.InspectResult
	if err := w.exec(ctx, StepInspect, a.Inspect, &activities.InspectInput{
		Node: w.in.Node, Flags: w.flags, KubeletUnit: w.s.KubeletUnit, KubeletBinary: w.s.KubeletBinary, Margin: w.s.HeadroomMargin,
	}, &ins); err != nil {
		return w.beforeChange(ctx, err)
	}
	w.res.Inspect = &ins.Inspect
	w.flags.BootID = ins.Inspect.BootID
	seq, outcome, reasons := w.decide(&ins.Inspect)
	if seq == nil {
		return w.end(ctx, outcome, reasons...)
	}
	for _, r := range reasons {
		w.context = append(w.context, "inspect: "+r)
	}
	if w.in.DryRun {
		w.res.DryRun = true
		w.res.Plan = plan(seq)
		return w.end(ctx, OutcomePlanned, fmt.Sprintf("would run %d steps; nothing was changed (dry-run)", len(seq)))
	}
	return w.remediate(ctx, seq)
}

// exec runs one activity with the step's options.
func (w *nodeWorkflow) exec(ctx workflow.Context, step Step, activity, in, out any) error {
	ctx = workflow.WithActivityOptions(ctx, stepOptions(step, w.committed, w.s.KubeletDownBudget))
	return workflow.ExecuteActivity(ctx, activity, in).Get(ctx, out)
}

// end records the outcome and returns the result.
func (w *nodeWorkflow) end(ctx workflow.Context, o Outcome, reasons ...string) (*NodeResult, error) {
	w.res.Outcome = o
	w.res.Reasons = append(append(w.res.Reasons, reasons...), w.context...)
	w.context = nil
	w.res.KubeletRunning = !w.kubeletStopped
	if w.step != StepDone && o == OutcomeRemediated {
		w.setStep(ctx, StepDone)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, SAOutcome.ValueSet(string(o))); err != nil {
		w.logger.Warn("upsert outcome search attribute", "error", err)
	}
	w.details(ctx)
	telemetry.RecordNode(workflow.GetMetricsHandler(ctx), string(o), w.res.KubeletDown)
	w.logger.Info("node workflow ended", "outcome", o, "reasons", w.res.Reasons)
	res := w.res
	return &res, nil
}

// beforeChange ends a run whose helper install or inspect failed: nothing
// was changed on the node.
func (w *nodeWorkflow) beforeChange(ctx workflow.Context, err error) (*NodeResult, error) {
	if isCanceled(err) {
		res, _ := w.end(ctx, OutcomeFailedRolledBack, fmt.Sprintf("cancelled during %s; nothing was changed on the node", w.step))
		return res, temporal.NewCanceledError(*res)
	}
	if t := errorType(err); isTransport(t) {
		return w.end(ctx, OutcomeUnreachable, fmt.Sprintf("%s failed (%s): %v; nothing was changed on the node. %s", w.step, t, errMsg(err), transportAdvice(t)))
	}
	return w.end(ctx, OutcomeFailedRolledBack, fmt.Sprintf("%s failed: %v; nothing was changed on the node", w.step, errMsg(err)))
}

func transportAdvice(t string) string {
	switch t {
	case activities.ErrAuth:
		return "Fix the SSH user or key for this node in the worker's configuration."
	case activities.ErrHostKey:
		return "The node's host key does not match known_hosts: check the node is the one you expect, then update known_hosts."
	case activities.ErrHostUnknown:
		return "The node's host key is in no known_hosts file: verify it and add it, then retry the node."
	case activities.ErrBadInput:
		return "Fix the node's address, port or user in the inventory."
	}
	return "Check the node is up and reachable over SSH from the worker, then retry it."
}

// decide turns inspect's verdict into the steps to run, or an outcome.
func (w *nodeWorkflow) decide(ins *node.InspectResult) (seq []stepDef, o Outcome, reasons []string) {
	if ins.Phase != "" && ins.Phase != node.PhaseIdle {
		return w.sequence(ins.Phase), "", []string{fmt.Sprintf(
			"found a remediation in progress on the node (phase %s): resuming from the node's real state", ins.Phase)}
	}
	switch ins.Verdict {
	case node.VerdictNotAffected:
		r := append([]string{"kubepods is not kmem-accounted: nothing to do"}, ins.Reasons...)
		if w.s.ReplacementKubeletSHA256 != "" && ins.Kubelet.SHA256 == w.s.ReplacementKubeletSHA256 {
			r = append([]string{"already remediated: kubelet is the replacement build and kubepods is not accounted"}, ins.Reasons...)
		}
		return nil, OutcomeSkippedNotAffected, r
	case node.VerdictNeedsReboot:
		return nil, OutcomeNeedsReboot, append([]string{fmt.Sprintf(
			"not attempted: the procedure needs %d free css ids, %d are available; drain and reboot the node (the replacement kubelet must be installed before it restarts)",
			ins.Headroom.Required, ins.Headroom.Available)}, ins.Reasons...)
	case node.VerdictUnsupported:
		return nil, OutcomeUnsupported, append([]string{"the node is not one kmemfix can remediate; nothing was changed"}, ins.Reasons...)
	case node.VerdictAffected:
	default:
		return nil, OutcomeFailedRolledBack, []string{fmt.Sprintf("inspect returned verdict %q this worker does not know: upgrade the worker; nothing was changed", ins.Verdict)}
	}
	if !ins.Headroom.Known {
		unknown := fmt.Sprintf("the css ids in use cannot be read (%s), so the headroom is unknown", orDefault(ins.IDsSource, "no systemtap"))
		switch w.s.UnknownHeadroom {
		case UnknownHeadroomProceed:
			w.res.Warnings = append(w.res.Warnings, unknown+"; proceeding because the policy says proceed")
		case UnknownHeadroomReboot:
			return nil, OutcomeNeedsReboot, []string{unknown + "; the policy sends such nodes to the reboot list"}
		default:
			return nil, OutcomeSkippedUnknownHeadroom, []string{unknown + "; not attempted. Install systemtap on the node, or set unknownHeadroom to proceed or reboot"}
		}
	}
	return w.sequence(node.PhaseIdle), "", append([]string{"kubepods is kmem-accounted"}, ins.Reasons...)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
