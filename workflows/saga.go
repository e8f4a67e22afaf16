package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kmemfix/kmemfix/activities"
)

// compensation undoes one step before the commit point. state says in
// what state the node is left when it fails, for the human who takes over.
type compensation struct {
	step  Step
	state string
	run   func(ctx workflow.Context) error
}

// remediate runs seq. Each step's compensation is registered before it
// runs. Until the commit point the steps run on a context that the
// kubelet-down budget and a workflow cancel can cancel (the saga then rolls
// back on a disconnected context); from the commit point on they run on a
// disconnected context: neither can stop them, the node only goes forward.
func (w *nodeWorkflow) remediate(ctx workflow.Context, seq []stepDef) (*NodeResult, error) {
	stepsCtx, cancelSteps := workflow.WithCancel(ctx)
	forwardCtx := disconnected(ctx)
	budgetCtx, stopBudget := workflow.WithCancel(forwardCtx)
	defer stopBudget()
	if w.resumeCommitted {
		w.markCommitted(ctx)
	}
	for _, d := range seq {
		if d.commit {
			w.markCommitted(ctx)
		}
		if d.comp != "" {
			w.register(d.comp)
		}
		if d.step == StepStopKubelet && !w.kubeletStopped {
			w.kubeletStopped = true
			w.stoppedAt = workflow.Now(ctx)
			w.startBudget(budgetCtx, cancelSteps)
		}
		w.setStep(ctx, d.step)
		runCtx := stepsCtx
		if w.committed {
			runCtx = forwardCtx
		}
		err := d.run(runCtx)
		switch {
		case err != nil && d.optional:
			w.res.Warnings = append(w.res.Warnings, fmt.Sprintf("%s failed (the node is remediated all the same): %v", d.step, errMsg(err)))
		case err != nil:
			return w.fail(ctx, err)
		}
		if d.step == StepStartKubelet {
			w.kubeletUp(ctx)
			stopBudget()
		}
	}
	return w.succeeded(ctx)
}

func (w *nodeWorkflow) markCommitted(ctx workflow.Context) {
	w.committed = true
	w.res.Committed = true
	w.comps = nil // nothing before the commit point can be undone any more
	w.details(ctx)
}

// startBudget races a timer against the steps: past the budget before the
// commit point it cancels them (and the saga rolls back); after it, it
// only records the overrun.
func (w *nodeWorkflow) startBudget(budgetCtx workflow.Context, cancelSteps func()) {
	timer := workflow.NewTimer(budgetCtx, w.s.KubeletDownBudget)
	workflow.Go(budgetCtx, func(gctx workflow.Context) {
		if err := timer.Get(gctx, nil); err != nil {
			return // kubelet came back in time
		}
		w.overrun = true
		w.res.BudgetExceeded = true
		if !w.committed {
			w.budgetCancel = true
			w.logger.Warn("kubelet-down budget exceeded before the commit point: rolling back", "step", w.step)
			cancelSteps()
		} else {
			w.logger.Warn("kubelet-down budget exceeded after the commit point: finishing forward", "step", w.step)
		}
	})
}

// kubeletUp records kubelet healthy again.
func (w *nodeWorkflow) kubeletUp(ctx workflow.Context) {
	if !w.kubeletStopped {
		return
	}
	w.kubeletStopped = false
	w.res.KubeletDown = workflow.Now(ctx).Sub(w.stoppedAt)
	if w.res.KubeletDown > w.s.KubeletDownBudget {
		w.res.BudgetExceeded = true
	}
}

// restoreKubelet puts the original kubelet binary back and starts it.
func (w *nodeWorkflow) restoreKubelet(ctx workflow.Context) error {
	err := w.exec(ctx, StepRestoreKubelet, a.RestoreKubelet, &activities.RestoreKubeletInput{
		Node: w.in.Node, Flags: w.flags, Unit: w.s.KubeletUnit, Binary: w.s.KubeletBinary,
		HealthzURL: w.s.KubeletHealthzURL, Timeout: w.s.ServiceTimeout,
	}, &activities.RestoreKubeletResult{})
	if err == nil {
		w.kubeletUp(ctx)
	}
	return err
}

func (w *nodeWorkflow) register(step Step) {
	for _, c := range w.comps {
		if c.step == step {
			return
		}
	}
	w.comps = append(w.comps, w.compensationFor(step))
}

func (w *nodeWorkflow) compensationFor(step Step) compensation {
	m := orDefault(w.s.Mirror, "kubepods2")
	k := orDefault(w.s.Kubepods, "kubepods")
	switch step {
	case StepRestoreKubelet:
		return compensation{step: step,
			state: fmt.Sprintf("kubelet may be STOPPED or running the replacement binary: on the node run `kmemfix-node kubelet restore --binary %s` then `systemctl start %s`",
				w.s.KubeletBinary, w.s.KubeletUnit),
			run: w.restoreKubelet}
	case StepRestore:
		return compensation{step: step,
			state: fmt.Sprintf("processes may be split between %s and %s (each keeps its memory limit: %s carries them); on the node run `kmemfix-node restore` until it succeeds", k, m, m),
			run: func(ctx workflow.Context) error {
				return w.exec(ctx, step, a.Restore, w.stepInput(), &activities.TreeStepResult{})
			}}
	case StepUncordon:
		return compensation{step: step,
			state: fmt.Sprintf("the Kubernetes node may still be cordoned: `kubectl uncordon %s` once it is healthy", w.in.Node.Name),
			run: func(ctx workflow.Context) error {
				err := w.exec(ctx, step, a.UncordonNode, w.cordonInput(), &activities.CordonResult{})
				if err == nil {
					w.cordoned = false
				}
				return err
			}}
	default: // StepCloseJournal
		return compensation{step: StepCloseJournal,
			state: "the node's journal stays open: the next run finds phase snapshotted and resumes from it",
			run: func(ctx workflow.Context) error {
				return w.exec(ctx, StepCloseJournal, a.Finish, w.stepInput(), &activities.FinishResult{})
			}}
	}
}

// fail handles a failed step: reboot, forward failure or rollback.
func (w *nodeWorkflow) fail(ctx workflow.Context, err error) (*NodeResult, error) {
	switch {
	case errorType(err) == activities.ErrRebooted:
		return w.rebooted(ctx, err)
	case w.committed:
		return w.forwardFailed(ctx, err)
	}
	return w.rollback(ctx, err)
}

// rollback runs the registered compensations in reverse on a disconnected
// context. Every compensation runs even when an earlier one failed: a
// running kubelet matters more than a tidy tree, and the mirror keeps each
// container's limit. The result says what failed and the node's state.
func (w *nodeWorkflow) rollback(ctx workflow.Context, err error) (*NodeResult, error) {
	failed := w.step
	cause := fmt.Sprintf("%s failed: %v", failed, errMsg(err))
	cancelled := false
	switch {
	case w.budgetCancel:
		cause = fmt.Sprintf("the kubelet-down budget of %s ran out during %s (before the commit point)", w.s.KubeletDownBudget, failed)
	case isCanceled(err):
		cause = fmt.Sprintf("the workflow was cancelled during %s (before the commit point)", failed)
		cancelled = true
	}
	if len(w.comps) == 0 {
		o := OutcomeFailedRolledBack
		if isTransport(errorType(err)) {
			o = OutcomeUnreachable
		}
		res, _ := w.end(ctx, o, cause, "nothing was changed on the node; kubelet was not stopped")
		return w.ret(res, cancelled)
	}
	dctx := disconnected(ctx)
	var broken, done []string
	for i := len(w.comps) - 1; i >= 0; i-- {
		c := w.comps[i]
		w.setStep(dctx, c.step)
		cerr := c.run(dctx)
		if errorType(cerr) == activities.ErrRebooted {
			// The node rebooted under the saga: the tree it would restore
			// is gone; make sure kubelet runs and report the reboot.
			w.res.Reasons = append(w.res.Reasons, cause)
			return w.rebooted(ctx, cerr)
		}
		rec := CompensationRecord{Step: c.step, OK: cerr == nil}
		if cerr != nil {
			rec.Error = errMsg(cerr)
			broken = append(broken, fmt.Sprintf("compensation %s failed: %v; %s", c.step, errMsg(cerr), c.state))
		} else {
			done = append(done, string(c.step))
		}
		w.res.Compensations = append(w.res.Compensations, rec)
	}
	var res *NodeResult
	if len(broken) == 0 {
		res, _ = w.end(dctx, OutcomeFailedRolledBack, cause, fmt.Sprintf(
			"rolled back (%s): the original kubepods tree and the original kubelet are in place and kubelet is healthy", strings.Join(done, ", ")))
	} else {
		reasons := append([]string{cause}, broken...)
		if w.kubeletStopped {
			reasons = append(reasons, "kubelet is STOPPED: start it by hand once the tree is restored")
		} else {
			reasons = append(reasons, "kubelet is running the original binary (restore-kubelet succeeded)")
		}
		res, _ = w.end(dctx, OutcomeFailedNeedsAttention, reasons...)
	}
	return w.ret(res, cancelled)
}

func (w *nodeWorkflow) ret(res *NodeResult, cancelled bool) (*NodeResult, error) {
	if cancelled {
		return res, temporal.NewCanceledError(*res)
	}
	return res, nil
}
