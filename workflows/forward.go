package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/node"
)

// forwardFailed ends a run whose forward step failed after the commit
// point: nothing can be rolled back, and the result says exactly where the
// node stands and what to do.
func (w *nodeWorkflow) forwardFailed(ctx workflow.Context, err error) (*NodeResult, error) {
	dctx := disconnected(ctx)
	k, m := orDefault(w.s.Kubepods, "kubepods"), orDefault(w.s.Mirror, "kubepods2")
	reasons := []string{fmt.Sprintf("%s failed after the commit point: %v; past the commit point the node cannot be rolled back, only finished forward", w.step, errMsg(err))}
	switch w.step {
	case StepCommit, StepRebuild:
		reasons = append(reasons, fmt.Sprintf(
			"every process runs in %s or %s with its limit; %s is partly removed or not rebuilt. To finish on the node: `systemctl stop %s`, "+
				"`kmemfix-node commit`, `kmemfix-node rebuild`, `systemctl start %s`, `kmemfix-node verify`, `kmemfix-node finish`",
			m, k, k, w.s.KubeletUnit, w.s.KubeletUnit))
		reasons = append(reasons, w.bringKubeletBack(dctx, true))
	case StepStartKubelet:
		reasons = append(reasons, fmt.Sprintf("%s is rebuilt without kmem accounting but the replacement kubelet did not come back healthy: check `journalctl -u %s`",
			k, w.s.KubeletUnit))
		reasons = append(reasons, w.bringKubeletBack(dctx, false))
	case StepVerify:
		reasons = append(reasons, "kubelet is running; the node differs from its snapshot, see verify's problems; the journal stays open for inspection")
		if w.res.Verify != nil {
			reasons = append(reasons, w.res.Verify.Problems...)
		}
	}
	if w.cordoned {
		reasons = append(reasons, fmt.Sprintf("the Kubernetes node stays cordoned until it is finished: then `kubectl uncordon %s`", w.in.Node.Name))
	}
	res, _ := w.end(dctx, OutcomeFailedNeedsAttention, reasons...)
	return res, nil
}

// bringKubeletBack keeps the invariant that no node workflow ends with
// kubelet stopped: a node whose kubelet stays down past the pod eviction
// timeout loses its pods, which is worse than any half-finished tree. It
// starts the installed (replacement) kubelet when tryCurrent, then falls
// back to the original binary; only when both fail is kubelet left stopped,
// and the reason says so.
func (w *nodeWorkflow) bringKubeletBack(ctx workflow.Context, tryCurrent bool) string {
	if tryCurrent {
		w.setStep(ctx, StepStartKubelet)
		err := w.exec(ctx, StepStartKubelet, a.StartKubelet, w.startInput(w.flags), &activities.StartKubeletResult{})
		if err == nil {
			w.kubeletUp(ctx)
			return "kubelet was started again with the replacement build so the node's pods are not evicted; new pods get unaccounted cgroups"
		}
	}
	w.setStep(ctx, StepRestoreKubelet)
	err := w.restoreKubelet(ctx)
	if err == nil {
		return "kubelet was started again with the ORIGINAL build (the replacement would not start): new pods get kmem-accounted cgroups until the replacement is fixed"
	}
	return fmt.Sprintf("kubelet is STOPPED: neither the replacement nor the original build started (%v); start it by hand now: `systemctl start %s`, the original binary is at %s.kmemfix-orig",
		errMsg(err), w.s.KubeletUnit, w.s.KubeletBinary)
}

// rebooted stops the procedure after the node rebooted: the tree it worked
// on no longer exists. It makes sure kubelet runs (service start, without
// the old boot id) and reports.
func (w *nodeWorkflow) rebooted(ctx workflow.Context, err error) (*NodeResult, error) {
	dctx := disconnected(ctx)
	at := w.step
	reasons := []string{fmt.Sprintf("the node rebooted during %s (its boot id changed): the procedure stopped, the cgroup tree it was working on no longer exists (%v)", at, errMsg(err))}
	w.setStep(dctx, StepStartKubelet)
	f := w.flags
	f.BootID = ""
	if serr := w.exec(dctx, StepStartKubelet, a.StartKubelet, w.startInput(f), &activities.StartKubeletResult{}); serr != nil {
		reasons = append(reasons, fmt.Sprintf("kubelet did not come back healthy after the reboot: %v; check `systemctl status %s` on the node", errMsg(serr), w.s.KubeletUnit))
		w.kubeletStopped = true
		res, _ := w.end(dctx, OutcomeFailedNeedsAttention, reasons...)
		return res, nil
	}
	w.kubeletUp(dctx)
	if w.swapped {
		reasons = append(reasons, "kubelet is running and healthy with the replacement build installed before the reboot, so the kubepods it recreated at boot should be unaccounted: retry the node to confirm")
	} else {
		reasons = append(reasons, "kubelet is running and healthy with the original build: retry the node")
	}
	reasons = append(reasons, "the journal of the interrupted run stays on the node")
	w.uncordon(dctx)
	res, _ := w.end(dctx, OutcomeRebooted, reasons...)
	return res, nil
}

// succeeded ends a remediation that verified.
func (w *nodeWorkflow) succeeded(ctx workflow.Context) (*NodeResult, error) {
	var reasons []string
	if v := w.res.Verify; v != nil {
		reasons = append(reasons, fmt.Sprintf("kubepods rebuilt without kmem accounting and verified against the snapshot (%d dirs, %d processes alive, %d exited since)",
			v.Dirs, v.ProcsAlive, v.ProcsExited))
	}
	reasons = append(reasons, fmt.Sprintf("kubelet runs the nokmem replacement and is healthy; it was down for %s (budget %s)",
		w.res.KubeletDown, w.s.KubeletDownBudget))
	if w.res.BudgetExceeded {
		reasons = append(reasons, "the kubelet-down budget was exceeded after the commit point: the workflow finished forward as fast as it could")
	}
	if ctx.Err() != nil {
		reasons = append(reasons, "a cancel arrived after the commit point: the workflow finished forward instead")
	}
	dctx := disconnected(ctx)
	w.uncordon(dctx)
	return w.end(dctx, OutcomeRemediated, reasons...)
}

// errorType is the application error type in err, "Timeout" for an
// activity timeout, "" otherwise.
func errorType(err error) string {
	if t := activities.ErrorType(err); t != "" {
		return t
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return activities.ErrTimeout
	}
	return ""
}

func isTransport(t string) bool {
	switch t {
	case activities.ErrUnreachable, activities.ErrTimeout, activities.ErrTransport, activities.ErrAuth, activities.ErrHostKey, activities.ErrHostUnknown:
		return true
	}
	return false
}

func isCanceled(err error) bool {
	var ce *temporal.CanceledError
	return errors.As(err, &ce)
}

// verifyDetails extracts the verify result carried by a VerifyFailed error.
func verifyDetails(err error) *node.VerifyResult {
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != activities.ErrVerifyFailed || !ae.HasDetails() {
		return nil
	}
	var ne node.Error
	var vr node.VerifyResult
	if ae.Details(&ne, &vr) != nil {
		return nil
	}
	return &vr
}

// errMsg is the message of the application error in err (the activity's
// own words and its type), without the SDK's wrapping.
func errMsg(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return fmt.Sprintf("%s (%s)", ae.Message(), ae.Type())
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "timed out (" + te.TimeoutType().String() + ")"
	}
	return err.Error()
}

// disconnected is a context a workflow cancel does not reach.
func disconnected(ctx workflow.Context) workflow.Context {
	d, _ := workflow.NewDisconnectedContext(ctx)
	return d
}
