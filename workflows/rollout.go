package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kmemfix/kmemfix/activities"
)

// RolloutWorkflow runs the node workflow over an inventory in waves, each
// a sliding window of child workflows, pausing itself when a wave exceeds
// its failure budget or the health gate fails. Operators steer it with the
// pause, resume, abort, skip and retry updates and watch it with the
// progress query. In survey mode it inspects every node and changes
// nothing.
//
// Abort stops starting nodes; nodes in flight finish their own procedure
// (rolled back if the budget or a failure says so, finished forward if
// past the commit point): cancelling them would only trigger the same
// rollback with less information. The rollout then ends "aborted".
//
// Children use ParentClosePolicy ABANDON: terminating or continuing the
// rollout never kills a node mid-procedure (that could leave kubelet
// stopped). The rollout drains its children before continue-as-new.
func RolloutWorkflow(ctx workflow.Context, in *RolloutInput) (*Progress, error) {
	if in.RolloutID == "" {
		in.RolloutID = workflow.GetInfo(ctx).WorkflowExecution.ID
	}
	if err := in.Validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError("invalid rollout input: "+err.Error(), "BadRolloutInput", err)
	}
	r := newRollout(in)
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	p, err := r.run(ctx)
	if isCanceled(err) {
		return nil, r.cancelled(ctx)
	}
	return p, err
}

// cancelled waits for the nodes in flight, which the cancel reached too
// (before their commit point they roll back, after it they finish
// forward), and returns the cancel with the final progress as details.
func (r *rollout) cancelled(ctx workflow.Context) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	r.activity = "cancelled: waiting for the nodes in flight"
	r.details(dctx)
	if err := workflow.Await(dctx, func() bool { return r.inFlight == 0 }); err != nil {
		return err
	}
	r.finished, r.wasCancelled = true, true
	r.activity = "cancelled"
	r.visibility(dctx, true)
	return temporal.NewCanceledError(*r.progress())
}

// Validate reports every problem of the input at once.
func (in *RolloutInput) Validate() error {
	var errs []error
	switch in.Mode {
	case "", ModeRemediate:
		if err := in.Waves.Validate(); err != nil {
			errs = append(errs, err)
		}
	case ModeSurvey:
	default:
		errs = append(errs, fmt.Errorf("mode %q: use remediate or survey", in.Mode))
	}
	if len(in.Inventory) == 0 {
		errs = append(errs, errors.New("the inventory is empty"))
	}
	seen := make(map[string]bool, len(in.Inventory))
	for i, n := range in.Inventory {
		switch {
		case n.Name == "" || strings.ContainsAny(n.Name, " \t\n/"):
			errs = append(errs, fmt.Errorf("inventory[%d]: name %q must be non-empty, without spaces or slashes", i, n.Name))
		case seen[n.Name]:
			errs = append(errs, fmt.Errorf("inventory[%d]: node %q appears twice", i, n.Name))
		case n.Address == "":
			errs = append(errs, fmt.Errorf("inventory[%d]: node %q has no address", i, n.Name))
		case n.Port < 0 || n.Port > 65535:
			errs = append(errs, fmt.Errorf("inventory[%d]: node %q port %d is not a TCP port", i, n.Name, n.Port))
		}
		seen[n.Name] = true
	}
	for i, c := range in.Concurrency {
		if c < 1 {
			errs = append(errs, fmt.Errorf("concurrency[%d] = %d: give at least 1", i, c))
		}
	}
	if b := in.FailureBudget; b.Count < 0 || b.Percent < 0 || b.Percent > 100 {
		errs = append(errs, fmt.Errorf("failure budget %+v: a count >= 0 or a percent in [0, 100]", b))
	}
	if in.SoakTime < 0 {
		errs = append(errs, fmt.Errorf("soak time %s is negative", in.SoakTime))
	}
	if in.Window != nil {
		if err := in.Window.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if in.HealthGate != nil {
		if err := in.HealthGate.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := in.Settings.Validate(in.Mode == ModeSurvey); err != nil {
		errs = append(errs, err)
	}
	if in.Carry != nil && len(in.Carry.Nodes) != len(in.Inventory) {
		errs = append(errs, fmt.Errorf("carried state has %d nodes, the inventory %d", len(in.Carry.Nodes), len(in.Inventory)))
	}
	return errors.Join(errs...)
}

type rollout struct {
	in     *RolloutInput
	s      *RolloutState
	ends   []int // end index of each wave in the inventory
	index  map[string]int
	logger log.Logger

	inFlight       int
	startedThisRun int
	cursor         int // next inventory index to look at in the current wave
	activity       string
	finished       bool
	wasCancelled   bool

	// Counters rebuilt from s.Nodes at setup, kept up to date after.
	waveCounts   []map[Outcome]int
	waveFailures []int
	waveStarted  []int
	waveDone     []int
}

func newRollout(in *RolloutInput) *rollout {
	r := &rollout{in: in, index: make(map[string]int, len(in.Inventory))}
	if in.Mode == "" {
		in.Mode = ModeRemediate
	}
	if in.Mode == ModeSurvey {
		r.ends = []int{len(in.Inventory)}
	} else {
		r.ends = in.Waves.Resolve(len(in.Inventory))
	}
	for i, n := range in.Inventory {
		r.index[n.Name] = i
	}
	r.s = in.Carry
	in.Carry = nil
	if r.s == nil {
		r.s = &RolloutState{Nodes: make([]NodeStatus, len(in.Inventory))}
		for i := range r.s.Nodes {
			r.s.Nodes[i].State = NodePending
		}
	}
	r.s.Runs++
	nw := len(r.ends)
	r.s.WaveBase = grow(r.s.WaveBase, nw)
	r.s.Gates = grow(r.s.Gates, nw)
	r.s.WaveEnded = grow(r.s.WaveEnded, nw)
	r.waveCounts = make([]map[Outcome]int, nw)
	r.waveFailures, r.waveStarted, r.waveDone = make([]int, nw), make([]int, nw), make([]int, nw)
	for w := range r.waveCounts {
		r.waveCounts[w] = map[Outcome]int{}
	}
	for i := range r.s.Nodes {
		st := &r.s.Nodes[i]
		if st.State == NodeRunning {
			// Only possible if a run ended without draining: the child
			// was abandoned; run it again (its workflow ID protects it).
			st.State = NodePending
		}
		if st.Wave > 0 && st.Wave <= nw && st.State == NodeDone {
			r.count(st.Wave-1, st.Outcome, 1)
			r.waveStarted[st.Wave-1]++
		}
	}
	if r.s.Wave < nw {
		r.cursor = r.waveStart(r.s.Wave)
	}
	return r
}

func grow[T any](s []T, n int) []T {
	for len(s) < n {
		var zero T
		s = append(s, zero)
	}
	return s
}

func (r *rollout) count(w int, o Outcome, delta int) {
	r.waveCounts[w][o] += delta
	r.waveDone[w] += delta
	if r.in.FailureBudget.Counts(o) {
		r.waveFailures[w] += delta
	}
}

func (r *rollout) waveStart(w int) int {
	if w == 0 {
		return 0
	}
	return r.ends[w-1]
}

func (r *rollout) waveSize(w int) int { return r.ends[w] - r.waveStart(w) }

// window is the sliding window of wave w.
func (r *rollout) window(w int) int {
	c := 10
	if n := len(r.in.Concurrency); n > 0 {
		c = r.in.Concurrency[min(w, n-1)]
	}
	return max(1, min(c, MaxInFlight))
}

func (r *rollout) setup(ctx workflow.Context) error {
	r.logger = log.With(workflow.GetLogger(ctx), "rollout", r.in.RolloutID)
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (*Progress, error) { return r.progress(), nil }); err != nil {
		return fmt.Errorf("register %s query: %w", QueryProgress, err)
	}
	if err := r.registerControls(ctx); err != nil {
		return err
	}
	r.visibility(ctx, true)
	return nil
}

func (r *rollout) run(ctx workflow.Context) (*Progress, error) {
	for r.s.Wave < len(r.ends) {
		if err := r.runWave(ctx); err != nil {
			return nil, err
		}
		if r.s.Aborted {
			break
		}
		if len(r.s.Retry) > 0 {
			continue // retries queued while the wave drained: run them in this wave
		}
		if err := r.endWave(ctx); err != nil {
			return nil, err
		}
		if r.s.Aborted {
			break
		}
		if len(r.s.Retry) > 0 {
			continue
		}
		r.s.Wave++
		if r.s.Wave < len(r.ends) {
			r.cursor = r.waveStart(r.s.Wave)
			r.visibility(ctx, true)
		}
	}
	if err := workflow.Await(ctx, func() bool { return r.inFlight == 0 }); err != nil {
		return nil, err
	}
	r.finished = true
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return nil, err
	}
	r.activity = ""
	r.visibility(ctx, true)
	r.logger.Info("rollout ended", "state", r.state())
	return r.progress(), nil
}

// runWave starts the wave's nodes in a sliding window until every one is
// started and done, or the rollout is aborted.
func (r *rollout) runWave(ctx workflow.Context) error {
	w := r.s.Wave
	for {
		err := workflow.Await(ctx, func() bool {
			if r.s.Aborted {
				return true
			}
			if !r.hasNext(w) {
				return r.inFlight == 0
			}
			return r.runIsFull(ctx) || (!r.s.Paused && r.inFlight < r.window(w))
		})
		if err != nil {
			return err
		}
		if r.s.Aborted || !r.hasNext(w) {
			return nil
		}
		if r.runIsFull(ctx) {
			// Paused or not: stop starting, drain, hand over.
			return r.continueAsNew(ctx)
		}
		if r.in.Window != nil {
			if wait := r.in.Window.NextOpen(workflow.Now(ctx)); wait > 0 {
				r.activity = fmt.Sprintf("waiting %s for the maintenance window (%s UTC)", wait, r.in.Window.Start)
				r.details(ctx)
				if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return r.s.Aborted }); err != nil {
					return err
				}
				r.activity = ""
				continue
			}
		}
		r.start(ctx, r.next(w), w)
	}
}

// runIsFull says this execution's history has had its share: it started
// NodesPerRun nodes, or the server suggests continuing as new.
func (r *rollout) runIsFull(ctx workflow.Context) bool {
	return r.startedThisRun >= r.nodesPerRun() || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
}

func (r *rollout) nodesPerRun() int {
	if r.in.NodesPerRun > 0 {
		return r.in.NodesPerRun
	}
	return defaultNodesPerRun
}

// hasNext says whether wave w has a node to start (retries first).
func (r *rollout) hasNext(w int) bool {
	for len(r.s.Retry) > 0 && r.s.Nodes[r.s.Retry[0]].State != NodePending {
		r.s.Retry = r.s.Retry[1:] // skipped after it was queued
	}
	if len(r.s.Retry) > 0 {
		return true
	}
	for r.cursor < r.ends[w] && r.s.Nodes[r.cursor].State != NodePending {
		r.cursor++
	}
	return r.cursor < r.ends[w]
}

func (r *rollout) next(w int) int {
	r.hasNext(w)
	if len(r.s.Retry) > 0 {
		i := r.s.Retry[0]
		r.s.Retry = r.s.Retry[1:]
		return i
	}
	return r.cursor
}

// continueAsNew drains the children in flight and the update handlers,
// then hands the whole state to a new run.
func (r *rollout) continueAsNew(ctx workflow.Context) error {
	r.activity = "draining before continue-as-new"
	r.details(ctx)
	if err := workflow.Await(ctx, func() bool { return r.inFlight == 0 }); err != nil {
		return err
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	next := *r.in
	next.Carry = r.s
	r.logger.Info("continuing as new", "runs", r.s.Runs, "wave", r.s.Wave+1)
	return workflow.NewContinueAsNewError(ctx, RolloutWorkflowName, &next)
}

// endWave soaks, runs the health gate and waits for a resume when paused.
func (r *rollout) endWave(ctx workflow.Context) error {
	w := r.s.Wave
	last := w == len(r.ends)-1
	notPaused := func() bool { return r.s.Aborted || !r.s.Paused }
	if !r.s.WaveEnded[w] && !last && r.in.Mode == ModeRemediate {
		if err := workflow.Await(ctx, notPaused); err != nil {
			return err
		}
		if r.in.SoakTime > 0 && !r.s.Aborted {
			r.activity = fmt.Sprintf("soaking %s after wave %d", r.in.SoakTime, w+1)
			r.details(ctx)
			if _, err := workflow.AwaitWithTimeout(ctx, r.in.SoakTime, func() bool { return r.s.Aborted }); err != nil {
				return err
			}
		}
		if r.in.HealthGate != nil && !r.s.Aborted {
			r.activity = fmt.Sprintf("health gate after wave %d", w+1)
			r.details(ctx)
			passed, reason := r.runGate(ctx, w)
			r.s.Gates[w] = reason
			if !passed {
				r.pause(ctx, fmt.Sprintf("health gate after wave %d failed: %s", w+1, reason), "health-gate")
			}
		}
		r.s.WaveEnded[w] = true
		r.activity = ""
	}
	if r.s.Paused && !r.s.Aborted {
		r.activity = fmt.Sprintf("paused after wave %d", w+1)
		r.details(ctx)
	}
	err := workflow.Await(ctx, func() bool { return notPaused() || len(r.s.Retry) > 0 })
	r.activity = ""
	return err
}

func (r *rollout) runGate(ctx workflow.Context, w int) (bool, string) {
	in := &activities.HealthGateInput{Gate: *r.in.HealthGate, Flags: activities.Flags{
		CgroupRoot: r.in.Settings.CgroupRoot, Kubepods: r.in.Settings.Kubepods, Mirror: r.in.Settings.Mirror, JournalDir: r.in.Settings.JournalDir,
	}}
	if c := r.in.HealthGate.Command; c != nil {
		in.Nodes = r.sample(w, c.Sample)
		if len(in.Nodes) == 0 {
			return true, "no remediated node in the wave to run the command on"
		}
	}
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3, InitialInterval: 5 * time.Second},
	}
	var res activities.HealthGateResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.CheckHealthGate, in).Get(ctx, &res); err != nil {
		return false, "the gate could not be evaluated: " + errMsg(err)
	}
	return res.Passed, res.Reason
}

// sample picks up to n remediated nodes of wave w, spread evenly.
func (r *rollout) sample(w, n int) []activities.NodeRef {
	if n <= 0 {
		n = 3
	}
	var ok []int
	for i := r.waveStart(w); i < r.ends[w]; i++ {
		if r.s.Nodes[i].Outcome == OutcomeRemediated {
			ok = append(ok, i)
		}
	}
	var out []activities.NodeRef
	for k := 0; k < min(n, len(ok)); k++ {
		out = append(out, r.in.Inventory[ok[k*len(ok)/min(n, len(ok))]].ref())
	}
	return out
}
