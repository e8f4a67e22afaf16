package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/node"
)

func TestRolloutWavesSlidingWindow(t *testing.T) {
	f := newFleet(t)
	in := rolloutInput(60, "1,10,50%,100%")
	in.Concurrency = []int{1, 3, 5}
	f.took = func(name string) time.Duration { return time.Duration(len(name)) * time.Minute }
	p := f.run(in)

	require.Equal(t, StateDone, p.State)
	require.Equal(t, 60, p.Counts[OutcomeRemediated])
	require.Equal(t, 5, f.maxSeen, "the widest window is reached and never passed")
	var sizes []int
	for _, w := range p.Waves {
		sizes = append(sizes, w.Size)
		require.Equal(t, w.Size, w.Done)
	}
	require.Equal(t, []int{1, 9, 20, 30}, sizes)
	// Waves never overlap, and each respects its own window.
	lastEnd := map[int]time.Time{}
	firstStart := map[int]time.Time{}
	for _, s := range f.spans {
		if e, ok := lastEnd[s.wave]; !ok || s.end.After(e) {
			lastEnd[s.wave] = s.end
		}
		if b, ok := firstStart[s.wave]; !ok || s.start.Before(b) {
			firstStart[s.wave] = s.start
		}
	}
	for w := 1; w < 4; w++ {
		require.False(t, firstStart[w+1].Before(lastEnd[w]), "wave %d started before wave %d ended", w+1, w)
	}
	window := map[int]int{1: 1, 2: 3, 3: 5, 4: 5}
	for _, s := range f.spans {
		overlap := 0
		for _, o := range f.spans {
			if o.start.Compare(s.start) <= 0 && o.end.After(s.start) {
				overlap++
			}
		}
		require.LessOrEqual(t, overlap, window[s.wave], "node %s", s.node)
	}
	// Children are the node workflows, by node ID, with the rollout's settings.
	require.Equal(t, NodeWorkflowID("n7"), f.ids["n7"])
	require.Equal(t, "r1", f.inputs["n7"].RolloutID)
	require.Equal(t, 2, f.inputs["n7"].Wave)
	require.False(t, f.inputs["n7"].DryRun)
	// Kubelet-down stats over remediated nodes: 2m for n1..n9, 3m for n10..n60.
	require.Equal(t, 60, p.KubeletDown.Count)
	require.Equal(t, 3*time.Minute, p.KubeletDown.P50)
	require.Equal(t, 3*time.Minute, p.KubeletDown.Max)
}

func TestRolloutMaxInFlightCap(t *testing.T) {
	if testing.Short() {
		t.Skip("350 child workflows")
	}
	f := newFleet(t)
	in := rolloutInput(350, "100%")
	in.Concurrency = []int{5000}
	p := f.run(in)
	require.Equal(t, 350, p.Counts[OutcomeRemediated])
	require.Equal(t, MaxInFlight, f.maxSeen)
}

func TestRolloutFailureBudgetAutoPause(t *testing.T) {
	f := newFleet(t)
	in := rolloutInput(12, "6,100%")
	in.FailureBudget = FailureBudget{Count: 1}
	f.outcome = func(name string, run int) Outcome {
		if name == "n2" || name == "n3" {
			return OutcomeFailedRolledBack
		}
		if name == "n4" {
			return OutcomeUnreachable // does not count by default
		}
		return OutcomeRemediated
	}
	f.queryAt(10 * time.Minute) // n3 failed at 3m: paused since
	f.update(11*time.Minute, UpdateResume, ResumeRequest{Note: "n2 and n3 are known bad hardware"}, "")
	p := f.run(in)

	paused := f.progress[0]
	require.Equal(t, StatePaused, paused.State)
	require.Equal(t, "failure-budget", paused.PauseSource)
	require.Contains(t, paused.PauseReason, "wave 1 exceeded its failure budget: 2 failed, 1 allowed")
	require.Contains(t, paused.PauseReason, "n2: failed-rolled-back")
	require.Equal(t, 3, paused.Done, "nothing started while paused")
	require.Equal(t, 2, paused.Waves[0].Failures)
	require.Len(t, paused.Failing, 2)

	require.Equal(t, StateDone, p.State)
	require.Equal(t, 9, p.Counts[OutcomeRemediated])
	require.Equal(t, 1, p.Counts[OutcomeUnreachable])
	first := f.spans[0].start
	for _, sp := range f.spans {
		if sp.node == "n4" {
			require.Equal(t, first.Add(11*time.Minute), sp.start, "n4 started at the resume, not before")
		}
	}
}

func TestRolloutFailureBudgetPercentAndUnreachable(t *testing.T) {
	f := newFleet(t)
	in := rolloutInput(10, "100%")
	in.FailureBudget = FailureBudget{Percent: 10, CountUnreachable: true} // 1 of 10
	f.outcome = func(name string, run int) Outcome {
		if name == "n1" || name == "n2" {
			return OutcomeUnreachable
		}
		return OutcomeRemediated
	}
	f.queryAt(5 * time.Minute)
	f.update(6*time.Minute, UpdateAbort, AbortRequest{Reason: "network trouble"}, "")
	p := f.run(in)
	require.Equal(t, StatePaused, f.progress[0].State)
	require.Contains(t, f.progress[0].PauseReason, "2 failed, 1 allowed")
	require.Equal(t, StateAborted, p.State)
	require.Equal(t, 8, p.Pending)
}

func TestRolloutControls(t *testing.T) {
	f := newFleet(t)
	in := rolloutInput(8, "100%")
	// n1 runs 0-1m, n2 1-2m, ...
	f.update(30*time.Second, UpdatePause, PauseRequest{}, "give a reason")
	f.update(31*time.Second, UpdateResume, ResumeRequest{}, "not paused")
	f.update(32*time.Second, UpdatePause, PauseRequest{Reason: "lunch"}, "")
	f.update(33*time.Second, UpdatePause, PauseRequest{Reason: "again"}, "already paused (operator: lunch)")
	f.update(34*time.Second, UpdateSkip, SkipRequest{Node: "nope"}, "not in the inventory")
	f.update(35*time.Second, UpdateSkip, SkipRequest{Node: "n1"}, "only a node not started yet can be skipped")
	f.update(36*time.Second, UpdateSkip, SkipRequest{Node: "n2"}, "")
	f.update(37*time.Second, UpdateRetry, RetryRequest{}, "no failed node to retry")
	f.queryAt(10 * time.Minute)
	f.update(11*time.Minute, UpdateResume, ResumeRequest{}, "")
	f.update(12*time.Minute+30*time.Second, UpdateAbort, AbortRequest{}, "give a reason")
	f.update(12*time.Minute+31*time.Second, UpdateAbort, AbortRequest{Reason: "stop here"}, "")
	f.update(12*time.Minute+32*time.Second, UpdateResume, ResumeRequest{}, "aborting")
	p := f.run(in)

	paused := f.progress[0]
	require.Equal(t, StatePaused, paused.State)
	require.Equal(t, "lunch", paused.PauseReason)
	require.Equal(t, 1, paused.Counts[OutcomeRemediated], "only n1, in flight when paused, finished")
	require.Equal(t, 1, paused.Counts[OutcomeSkippedByOperator])

	require.Equal(t, StateAborted, p.State)
	require.Equal(t, "stop here", p.AbortReason)
	// n1 before the pause; n3 from 11m to 12m; n4 was in flight at the abort
	// and finished its procedure; nothing after.
	require.Equal(t, 3, p.Counts[OutcomeRemediated])
	require.Equal(t, 4, p.Pending)
	require.NotContains(t, f.runs, "n2")
	require.NotContains(t, f.runs, "n5")
}

func TestRolloutRetryFailedNodes(t *testing.T) {
	f := newFleet(t)
	in := rolloutInput(5, "100%")
	f.outcome = func(name string, run int) Outcome {
		if name == "n2" && run == 1 {
			return OutcomeFailedRolledBack
		}
		if name == "n3" && run == 1 {
			return OutcomeFailedNeedsAttention
		}
		return OutcomeRemediated
	}
	// budget 0: paused after n2 failed at 2m
	f.update(4*time.Minute, UpdateRetry, RetryRequest{Nodes: []string{"n1"}}, `node "n1" is done remediated: only a failed node can be retried`)
	f.update(4*time.Minute+time.Second, UpdateRetry, RetryRequest{Nodes: []string{"n9"}}, "not in the inventory")
	f.update(4*time.Minute+2*time.Second, UpdateRetry, RetryRequest{}, "")
	f.update(5*time.Minute, UpdateResume, ResumeRequest{}, "")
	f.queryAt(30 * time.Minute)
	f.update(31*time.Minute, UpdateRetry, RetryRequest{Nodes: []string{"n3"}}, "")
	f.update(31*time.Minute+time.Second, UpdateResume, ResumeRequest{}, "")
	p := f.run(in)

	mid := f.progress[0]
	require.Equal(t, StatePaused, mid.State, "n3 needs attention: paused again")
	require.Equal(t, 1, mid.Counts[OutcomeFailedNeedsAttention])
	require.Equal(t, StateDone, p.State)
	require.Equal(t, 5, p.Counts[OutcomeRemediated])
	require.Equal(t, 2, f.runs["n2"])
	require.Equal(t, 2, f.runs["n3"], "a node that needs attention is retried only by name")
	require.Empty(t, p.Failing)
}

func TestRolloutContinueAsNewCarriesStateAndControls(t *testing.T) {
	f := newFleet(t)
	in := rolloutInput(10, "100%")
	in.Concurrency = []int{2}
	in.NodesPerRun = 4
	f.outcome = func(name string, run int) Outcome {
		if name == "n1" {
			return OutcomeFailedRolledBack
		}
		return OutcomeRemediated
	}
	in.FailureBudget = FailureBudget{Count: 5}
	// n1..n4 run in two pairs (0-2m); while they drain, an operator pauses
	// and skips n9.
	f.update(90*time.Second, UpdatePause, PauseRequest{Reason: "change freeze"}, "")
	f.update(91*time.Second, UpdateSkip, SkipRequest{Node: "n9"}, "")
	next := f.continued(in)

	require.NotNil(t, next.Carry)
	require.Equal(t, 1, next.Carry.Runs)
	require.True(t, next.Carry.Paused)
	require.Equal(t, "change freeze", next.Carry.PauseReason)
	require.Equal(t, OutcomeSkippedByOperator, next.Carry.Nodes[8].Outcome)
	require.Equal(t, OutcomeFailedRolledBack, next.Carry.Nodes[0].Outcome)
	require.Len(t, f.spans, 4, "drained: every started node finished before continuing")
	require.Len(t, next.Inventory, 10)

	// The next run starts paused, with the same controls.
	g := newFleet(t)
	next.NodesPerRun = 100
	g.queryAt(time.Minute)
	g.update(2*time.Minute, UpdateSkip, SkipRequest{Node: "n9"}, `node "n9" is done`)
	g.update(3*time.Minute, UpdateRetry, RetryRequest{Nodes: []string{"n1"}}, "")
	g.update(4*time.Minute, UpdateResume, ResumeRequest{}, "")
	p := g.run(next)
	require.Equal(t, StatePaused, g.progress[0].State)
	require.Equal(t, 5, g.progress[0].Done, "n1..n4 and n9 carried")
	require.Equal(t, StateDone, p.State)
	require.Equal(t, 2, p.Runs)
	require.Equal(t, 9, p.Counts[OutcomeRemediated])
	require.Equal(t, 1, p.Counts[OutcomeSkippedByOperator])
	for _, n := range []string{"n2", "n3", "n4", "n9"} {
		require.NotContains(t, g.runs, n, "carried nodes are not run again")
	}
	require.Equal(t, 1, g.runs["n1"])
}

func TestRolloutSurveyAggregates(t *testing.T) {
	f := newFleet(t)
	in := rolloutInput(5, "100%")
	in.Mode = ModeSurvey
	in.Waves = nil
	in.Settings = NodeSettings{} // a survey needs no replacement kubelet
	in.Concurrency = []int{3}
	verdicts := map[string]string{"n1": node.VerdictAffected, "n2": node.VerdictNotAffected, "n3": node.VerdictNeedsReboot, "n4": node.VerdictAffected}
	f.result = func(name string) *NodeResult {
		if name == "n5" {
			return &NodeResult{Node: name, Outcome: OutcomeUnreachable, Reasons: []string{"no route to host"}}
		}
		ins := &node.InspectResult{Verdict: verdicts[name], Phase: node.PhaseIdle, LeakedIDs: 4000,
			Headroom: node.Headroom{Known: true, Required: 200, Available: 19000}}
		o := OutcomePlanned
		switch ins.Verdict {
		case node.VerdictNotAffected:
			o = OutcomeSkippedNotAffected
		case node.VerdictNeedsReboot:
			o = OutcomeNeedsReboot
		}
		return &NodeResult{Node: name, Outcome: o, DryRun: true, Inspect: ins, Reasons: []string{"fake"}}
	}
	p := f.run(in)
	require.Equal(t, StateDone, p.State)
	require.NotNil(t, p.Fleet)
	require.Equal(t, map[string]int{node.VerdictAffected: 2, node.VerdictNotAffected: 1, node.VerdictNeedsReboot: 1}, p.Fleet.Verdicts)
	require.Equal(t, 1, p.Fleet.Unreachable)
	require.Len(t, p.Fleet.Nodes, 5)
	require.Equal(t, 19000, p.Fleet.Nodes[0].Available)
	require.Equal(t, 200, p.Fleet.Nodes[0].Required)
	require.True(t, f.inputs["n1"].DryRun)
	require.Equal(t, NodeSurveyWorkflowID("r1", "n1"), f.ids["n1"])
	require.Empty(t, p.PauseReason, "a survey never pauses")
}

func TestRolloutHealthGateFailurePausesAfterSoak(t *testing.T) {
	f := newFleet(t)
	in := rolloutInput(4, "2,100%")
	in.Concurrency = []int{2}
	in.SoakTime = 10 * time.Minute
	in.HealthGate = &activities.HealthGate{Command: &activities.CommandProbe{Argv: []string{"kubectl", "get", "node"}, Sample: 1}}
	var gateAt time.Time
	var gateIn *activities.HealthGateInput
	f.env.OnActivity(a.CheckHealthGate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in *activities.HealthGateInput) (*activities.HealthGateResult, error) {
			gateAt, gateIn = f.env.Now(), in
			return &activities.HealthGateResult{Passed: false, Reason: "kubectl get node exited 1 on n1"}, nil
		})
	f.queryAt(30 * time.Minute)
	f.update(31*time.Minute, UpdateResume, ResumeRequest{Note: "flaky probe"}, "")
	p := f.run(in)
	start := f.spans[0].start
	require.Equal(t, start.Add(11*time.Minute).UTC(), gateAt.UTC(), "gate after wave 1 (1m) and the soak (10m)")
	require.Len(t, gateIn.Nodes, 1)
	paused := f.progress[0]
	require.Equal(t, StatePaused, paused.State)
	require.Equal(t, "health-gate", paused.PauseSource)
	require.Contains(t, paused.PauseReason, "health gate after wave 1 failed: kubectl get node exited 1 on n1")
	require.Equal(t, 2, paused.Done)
	require.Equal(t, StateDone, p.State)
	require.Equal(t, 4, p.Counts[OutcomeRemediated])
	require.Contains(t, p.Waves[0].Gate, "exited 1")
}

func TestRolloutWaitsForMaintenanceWindow(t *testing.T) {
	f := newFleet(t)
	start := time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)
	f.env.SetStartTime(start)
	in := rolloutInput(3, "100%")
	in.Window = &MaintenanceWindow{Start: "22:00", Duration: 90 * time.Minute}
	f.took = func(string) time.Duration { return time.Hour }
	p := f.run(in)
	require.Equal(t, 3, p.Counts[OutcomeRemediated])
	require.Equal(t, start.Add(2*time.Hour), f.spans[0].start.UTC())
	require.Equal(t, start.Add(3*time.Hour), f.spans[1].start.UTC())
	// n3 would start at 00:00, after the window closed (23:30): next day.
	require.Equal(t, start.Add(26*time.Hour), f.spans[2].start.UTC())
}

func TestRolloutInvalidInput(t *testing.T) {
	in := rolloutInput(3, "100%")
	in.Inventory[2].Name = "n1"
	in.Inventory[1].Address = ""
	in.Concurrency = []int{0}
	in.Waves = WavePlan{{Count: 1}}
	err := in.Validate()
	for _, want := range []string{`node "n1" appears twice`, `node "n2" has no address`, "concurrency[0] = 0", `end the plan with "100%"`} {
		require.ErrorContains(t, err, want)
	}
	f := newFleet(t)
	f.env.ExecuteWorkflow(RolloutWorkflowName, in)
	var ae *temporal.ApplicationError
	require.ErrorAs(t, f.env.GetWorkflowError(), &ae)
	require.Equal(t, "BadRolloutInput", ae.Type())
	require.Contains(t, ae.Error(), "appears twice")
}

func TestChildErrorBusy(t *testing.T) {
	r := &rollout{}
	res := r.childError(NodeWorkflowID("n1"), "n1", &temporal.ChildWorkflowExecutionAlreadyStartedError{})
	require.Equal(t, OutcomeBusy, res.Outcome)
	require.Contains(t, res.Reasons[0], "another run is working on this node")
	res = r.childError("id", "n1", temporal.NewApplicationError("boom", "Panic"))
	require.Equal(t, OutcomeFailedNeedsAttention, res.Outcome)
}

// The test environment does not pass a parent's cancel to mocked children
// (package historytest shows it on a real server): here, the rollout
// waits for its nodes in flight and returns the final progress.
func TestRolloutCancelWaitsForInFlightNodes(t *testing.T) {
	f := newFleet(t)
	in := rolloutInput(6, "100%")
	in.Concurrency = []int{3}
	f.env.RegisterDelayedCallback(f.env.CancelWorkflow, 30*time.Second)
	f.env.ExecuteWorkflow(RolloutWorkflowName, in)
	require.True(t, f.env.IsWorkflowCompleted())
	var ce *temporal.CanceledError
	require.ErrorAs(t, f.env.GetWorkflowError(), &ce)
	var p Progress
	require.NoError(t, ce.Details(&p))
	require.Equal(t, 3, p.Done, "the nodes in flight were waited for")
	require.Zero(t, p.Running)
	require.Equal(t, 3, p.Pending)
	require.Equal(t, StateCancelled, p.State)
	require.NotContains(t, f.runs, "n4")
}
