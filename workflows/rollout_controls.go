package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// registerControls installs the pause, resume, abort, skip and retry
// updates. Validators only read; a rejected update leaves no trace in
// history.
func (r *rollout) registerControls(ctx workflow.Context) error {
	type control struct {
		name     string
		handler  any
		validate any
	}
	controls := []control{
		{UpdatePause, r.onPause, r.validatePause},
		{UpdateResume, r.onResume, r.validateResume},
		{UpdateAbort, r.onAbort, r.validateAbort},
		{UpdateSkip, r.onSkip, r.validateSkip},
		{UpdateRetry, r.onRetry, r.validateRetry},
	}
	for _, c := range controls {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, c.name, c.handler, workflow.UpdateHandlerOptions{Validator: c.validate}); err != nil {
			return fmt.Errorf("register %s update: %w", c.name, err)
		}
	}
	return nil
}

func (r *rollout) closed() error {
	switch {
	case r.finished:
		return errors.New("the rollout is over: start a new one (it skips nodes already remediated)")
	case r.s.Aborted:
		return fmt.Errorf("the rollout is aborting (%s)", r.s.AbortReason)
	}
	return nil
}

func (r *rollout) validatePause(req PauseRequest) error {
	if err := r.closed(); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return errors.New("give a reason: it is shown in the UI and in the progress query")
	}
	if r.s.Paused {
		return fmt.Errorf("already paused (%s: %s)", r.s.PauseSource, r.s.PauseReason)
	}
	return nil
}

func (r *rollout) onPause(ctx workflow.Context, req PauseRequest) (string, error) {
	r.pause(ctx, req.Reason, "operator")
	return "paused: nodes in flight finish, no new node starts until resume", nil
}

func (r *rollout) validateResume(ResumeRequest) error {
	if err := r.closed(); err != nil {
		return err
	}
	if !r.s.Paused {
		return errors.New("the rollout is not paused")
	}
	return nil
}

func (r *rollout) onResume(ctx workflow.Context, req ResumeRequest) (string, error) {
	r.s.Paused, r.s.PauseReason, r.s.PauseSource = false, "", ""
	// The failures seen so far are acknowledged: the budget counts anew.
	for w := range r.s.WaveBase {
		r.s.WaveBase[w] = r.waveFailures[w]
	}
	r.logger.Info("resumed", "note", req.Note)
	r.visibility(ctx, true)
	return "resumed", nil
}

func (r *rollout) validateAbort(req AbortRequest) error {
	if err := r.closed(); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return errors.New("give a reason: it is shown in the UI and in the progress query")
	}
	return nil
}

func (r *rollout) onAbort(ctx workflow.Context, req AbortRequest) (string, error) {
	r.s.Aborted, r.s.AbortReason = true, req.Reason
	r.logger.Warn("abort requested", "reason", req.Reason, "inFlight", r.inFlight)
	r.visibility(ctx, true)
	return fmt.Sprintf("aborting: no new node starts; %d node(s) in flight finish their procedure", r.inFlight), nil
}

func (r *rollout) validateSkip(req SkipRequest) error {
	if err := r.closed(); err != nil {
		return err
	}
	i, ok := r.index[req.Node]
	if !ok {
		return fmt.Errorf("node %q is not in the inventory", req.Node)
	}
	if st := r.s.Nodes[i]; st.State != NodePending {
		return fmt.Errorf("node %q is %s (%s): only a node not started yet can be skipped", req.Node, st.State, st.Outcome)
	}
	return nil
}

func (r *rollout) onSkip(ctx workflow.Context, req SkipRequest) (string, error) {
	i := r.index[req.Node]
	st := &r.s.Nodes[i]
	st.State, st.Outcome = NodeDone, OutcomeSkippedByOperator
	st.Wave = r.waveOf(i) + 1
	r.count(st.Wave-1, st.Outcome, 1)
	r.details(ctx)
	return "skipped " + req.Node, nil
}

// waveOf is the wave whose inventory range holds node i.
func (r *rollout) waveOf(i int) int {
	for w, end := range r.ends {
		if i < end {
			return w
		}
	}
	return len(r.ends) - 1
}

// retryable is what retry without names re-queues; by name, a node that
// needs attention can be retried too (after a human fixed it).
func retryable(o Outcome, byName bool) bool {
	switch o {
	case OutcomeFailedRolledBack, OutcomeUnreachable, OutcomeRebooted, OutcomeBusy:
		return true
	case OutcomeFailedNeedsAttention:
		return byName
	}
	return false
}

func (r *rollout) retryTargets(req RetryRequest) ([]int, error) {
	if len(req.Nodes) == 0 {
		var out []int
		for i, st := range r.s.Nodes {
			if st.State == NodeDone && retryable(st.Outcome, false) {
				out = append(out, i)
			}
		}
		if len(out) == 0 {
			return nil, errors.New("no failed node to retry")
		}
		return out, nil
	}
	var out []int
	var errs []error
	for _, name := range req.Nodes {
		i, ok := r.index[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("node %q is not in the inventory", name))
		case r.s.Nodes[i].State != NodeDone || !retryable(r.s.Nodes[i].Outcome, true):
			errs = append(errs, fmt.Errorf("node %q is %s %s: only a failed node can be retried", name, r.s.Nodes[i].State, r.s.Nodes[i].Outcome))
		default:
			out = append(out, i)
		}
	}
	return out, errors.Join(errs...)
}

func (r *rollout) validateRetry(req RetryRequest) error {
	if err := r.closed(); err != nil {
		return err
	}
	_, err := r.retryTargets(req)
	return err
}

func (r *rollout) onRetry(ctx workflow.Context, req RetryRequest) (string, error) {
	targets, err := r.retryTargets(req)
	if err != nil {
		return "", err
	}
	for _, i := range targets {
		st := &r.s.Nodes[i]
		w := st.Wave - 1
		if r.in.FailureBudget.Counts(st.Outcome) && r.s.WaveBase[w] > 0 {
			r.s.WaveBase[w]--
		}
		r.count(w, st.Outcome, -1)
		st.State, st.Outcome, st.Reasons = NodePending, "", nil
		r.s.Retry = append(r.s.Retry, i)
	}
	r.details(ctx)
	return fmt.Sprintf("queued %d node(s) for retry", len(targets)), nil
}

// pause stops starting nodes and says why everywhere an SRE looks.
func (r *rollout) pause(ctx workflow.Context, reason, source string) {
	r.s.Paused, r.s.PauseReason, r.s.PauseSource = true, reason, source
	r.logger.Warn("rollout paused", "source", source, "reason", reason)
	r.visibility(ctx, true)
}

func (r *rollout) state() string {
	switch {
	case r.wasCancelled:
		return StateCancelled
	case r.finished && r.s.Aborted:
		return StateAborted
	case r.finished:
		return StateDone
	case r.s.Aborted:
		return StateAborting
	case r.s.Paused:
		return StatePaused
	}
	return StateRunning
}

// visibility upserts the search attributes (when they change: each upsert
// is a history event) and the current details.
func (r *rollout) visibility(ctx workflow.Context, attrs bool) {
	if attrs {
		err := workflow.UpsertTypedSearchAttributes(ctx,
			SARollout.ValueSet(r.in.RolloutID),
			SAState.ValueSet(r.state()),
			SAPauseReason.ValueSet(r.s.PauseReason),
			SAWave.ValueSet(int64(min(r.s.Wave, len(r.ends)-1)+1)))
		if err != nil {
			r.logger.Warn("upsert search attributes", "error", err)
		}
	}
	r.details(ctx)
}

func (r *rollout) details(ctx workflow.Context) {
	w := min(r.s.Wave, len(r.ends)-1)
	d := fmt.Sprintf("**rollout** %s (%s) · **%s** · wave %d/%d · in flight %d", r.in.RolloutID, r.in.Mode, r.state(), w+1, len(r.ends), r.inFlight)
	if r.activity != "" {
		d += " · " + r.activity
	}
	if r.s.Paused {
		d += fmt.Sprintf("\n\n**paused** (%s): %s", r.s.PauseSource, r.s.PauseReason)
	}
	if r.s.Aborted {
		d += "\n\n**aborted**: " + r.s.AbortReason
	}
	workflow.SetCurrentDetails(ctx, d)
}
