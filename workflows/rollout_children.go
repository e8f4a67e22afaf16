package workflows

import (
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// start runs inventory node i as a child workflow in wave w.
func (r *rollout) start(ctx workflow.Context, i, w int) {
	n := r.in.Inventory[i]
	st := &r.s.Nodes[i]
	st.State, st.Wave, st.Outcome, st.Reasons = NodeRunning, w+1, "", nil
	st.Runs++
	r.inFlight++
	r.startedThisRun++
	r.waveStarted[w]++
	survey := r.in.Mode == ModeSurvey
	id := NodeWorkflowID(n.Name)
	if survey {
		id = NodeSurveyWorkflowID(r.in.RolloutID, n.Name)
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: id,
		// A node may be remediated again once its previous run closed
		// (a restarted rollout, a retry); while one runs, a second start
		// fails and the node is reported busy.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WaitForCancellation:   true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			SARollout.ValueSet(r.in.RolloutID), SANode.ValueSet(n.Name), SAWave.ValueSet(int64(w+1))),
		StaticSummary: fmt.Sprintf("kmemfix %s: node %s (rollout %s, wave %d)", r.in.Mode, n.Name, r.in.RolloutID, w+1),
	})
	f := workflow.ExecuteChildWorkflow(cctx, NodeWorkflowName, &NodeInput{
		RolloutID: r.in.RolloutID, Wave: w + 1, Node: n.ref(), Settings: r.in.Settings, DryRun: survey,
	})
	workflow.Go(ctx, func(gctx workflow.Context) {
		var res NodeResult
		err := f.Get(gctx, &res)
		if err != nil {
			res = r.childError(id, n.Name, err)
		}
		r.record(gctx, i, &res)
	})
	r.details(ctx)
}

// childError turns a child that ended without a result into one.
func (r *rollout) childError(id, name string, err error) NodeResult {
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return NodeResult{Node: name, Outcome: OutcomeBusy, KubeletRunning: true, Reasons: []string{fmt.Sprintf(
			"another run is working on this node right now (workflow %s): nothing was started; retry the node once that run ends", id)}}
	}
	var ce *temporal.CanceledError
	if errors.As(err, &ce) {
		var res NodeResult
		if ce.HasDetails() && ce.Details(&res) == nil && res.Outcome != "" {
			return res
		}
	}
	return NodeResult{Node: name, Outcome: OutcomeFailedNeedsAttention, Reasons: []string{fmt.Sprintf(
		"the node's workflow %s ended without a result: %s; open it in the Temporal UI: if it stopped kubelet, check kubelet on the node", id, errMsg(err))}}
}

// record stores a node's outcome, updates the counters and checks the
// wave's failure budget.
func (r *rollout) record(ctx workflow.Context, i int, res *NodeResult) {
	st := &r.s.Nodes[i]
	st.State, st.Outcome = NodeDone, res.Outcome
	st.KubeletDownMS = res.KubeletDown.Milliseconds()
	if isFailure(res.Outcome) {
		st.Reasons = res.Reasons[:min(3, len(res.Reasons))]
	}
	if r.in.Mode == ModeSurvey {
		st.Survey = surveyNode(res)
	}
	r.inFlight--
	w := st.Wave - 1
	r.count(w, res.Outcome, 1)
	r.checkBudget(ctx, w)
	r.details(ctx)
}

func isFailure(o Outcome) bool {
	switch o {
	case OutcomeRemediated, OutcomeSkippedNotAffected, OutcomePlanned, OutcomeSkippedByOperator:
		return false
	}
	return true
}

// checkBudget pauses the rollout when wave w has more failures, since the
// last resume, than its budget allows.
func (r *rollout) checkBudget(ctx workflow.Context, w int) {
	if r.in.Mode != ModeRemediate || r.s.Paused || r.s.Aborted {
		return
	}
	failures := r.waveFailures[w] - r.s.WaveBase[w]
	allowed := r.in.FailureBudget.Allowed(r.waveSize(w))
	if failures <= allowed {
		return
	}
	var who []string
	for i := r.waveStart(w); i < r.ends[w] && len(who) < 5; i++ {
		if st := r.s.Nodes[i]; st.State == NodeDone && st.Wave == w+1 && r.in.FailureBudget.Counts(st.Outcome) {
			who = append(who, fmt.Sprintf("%s: %s", r.in.Inventory[i].Name, st.Outcome))
		}
	}
	r.pause(ctx, fmt.Sprintf("wave %d exceeded its failure budget: %d failed, %d allowed (%s); resume to go on, retry to re-run them, abort to stop",
		w+1, failures, allowed, strings.Join(who, ", ")), "failure-budget")
}

func surveyNode(res *NodeResult) *SurveyNode {
	s := &SurveyNode{Node: res.Node, Outcome: res.Outcome, Available: -1, LeakedIDs: -1}
	if len(res.Reasons) > 0 {
		s.Reason = res.Reasons[0]
	}
	if in := res.Inspect; in != nil {
		s.Verdict, s.Phase = in.Verdict, in.Phase
		s.Known, s.Required, s.Available, s.LeakedIDs = in.Headroom.Known, in.Headroom.Required, in.Headroom.Available, in.LeakedIDs
		s.Kernel, s.Kubelet = in.Kernel, in.Kubelet.Version
	}
	return s
}
