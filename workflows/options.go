package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kmemfix/kmemfix/activities"
)

// nonRetryable lists the error types never worth a retry, on top of the
// NonRetryable flag the activities set themselves.
var nonRetryableTypes = []string{
	activities.ErrAuth, activities.ErrHostKey, activities.ErrHostUnknown, activities.ErrBadInput, activities.ErrChecksum,
	activities.ErrRebooted, activities.ErrPastCommit, activities.ErrRefused, activities.ErrTreeChanged,
	activities.ErrVerifyFailed, activities.ErrNeedsAttention, activities.ErrProtocol,
}

// stepOptions is the timeout and retry policy of each step. Before the
// commit point a step gives up after a few attempts (the saga then rolls
// back, within the kubelet-down budget); after it, commit and rebuild retry
// transient failures for about one more budget (the only way out is
// through, but kubelet is down meanwhile: past that the workflow brings
// kubelet back and says what is left). Starting the same kubelet again
// rarely helps, so start-kubelet keeps its few attempts and then falls
// back to the original build.
func stepOptions(step Step, committed bool, budget time.Duration) workflow.ActivityOptions {
	o := workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		WaitForCancellation: true, // a compensation never races the step it undoes
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        20 * time.Second,
			MaximumAttempts:        3,
			NonRetryableErrorTypes: nonRetryableTypes,
		},
	}
	switch step {
	case StepEnsureHelper, StepStageKubelet:
		o.StartToCloseTimeout = 5 * time.Minute
		o.RetryPolicy.MaximumAttempts = 5
	case StepInspect:
		o.StartToCloseTimeout = 3 * time.Minute
		o.RetryPolicy.MaximumAttempts = 5
	case StepSnapshot, StepMirror, StepMove, StepCommit, StepRebuild, StepVerify:
		o.StartToCloseTimeout = 10 * time.Minute
	case StepStopKubelet, StepStartKubelet:
		o.StartToCloseTimeout = 3 * time.Minute
	}
	switch {
	case step == StepRestoreKubelet:
		// Bringing kubelet back: keep trying for about one budget; a
		// kubelet that still will not start needs a human, and the
		// workflow must say so rather than retry for many minutes more.
		o.RetryPolicy.MaximumAttempts = 0
		o.ScheduleToCloseTimeout = max(budget, 2*time.Minute)
	case isCompensation(step):
		// Compensations: keep trying transient failures for a while; the
		// result says if they ran out.
		o.RetryPolicy.MaximumAttempts = 0
		o.ScheduleToCloseTimeout = 20 * time.Minute
	case committed && step != StepStartKubelet:
		o.RetryPolicy.MaximumAttempts = 0
		o.ScheduleToCloseTimeout = max(budget, 2*time.Minute)
	}
	return o
}

func isCompensation(s Step) bool {
	return s == StepRestore || s == StepRestoreKubelet || s == StepCloseJournal
}
