package workflows

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// fleet fakes the node workflows a rollout starts: each child sleeps for
// took(name) on the workflow clock and returns outcome(name, run).
type fleet struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	current  int
	maxSeen  int
	runs     map[string]int
	spans    []span
	ids      map[string]string
	inputs   map[string]*NodeInput
	took     func(name string) time.Duration
	outcome  func(name string, run int) Outcome
	result   func(name string) *NodeResult // overrides outcome
	progress []*Progress
}

type span struct {
	node       string
	wave       int
	start, end time.Time
}

func newFleet(t *testing.T) *fleet {
	var s testsuite.WorkflowTestSuite
	f := &fleet{
		t: t, env: s.NewTestWorkflowEnvironment(), runs: map[string]int{}, ids: map[string]string{}, inputs: map[string]*NodeInput{},
		took:    func(string) time.Duration { return time.Minute },
		outcome: func(string, int) Outcome { return OutcomeRemediated },
	}
	f.env.SetTestTimeout(2 * time.Minute)
	Register(f.env)
	f.env.OnWorkflow(NodeWorkflowName, mock.Anything, mock.Anything).Return(f.child)
	return f
}

func (f *fleet) child(ctx workflow.Context, in *NodeInput) (*NodeResult, error) {
	name := in.Node.Name
	f.mu.Lock()
	f.current++
	f.maxSeen = max(f.maxSeen, f.current)
	f.runs[name]++
	run := f.runs[name]
	f.ids[name] = workflow.GetInfo(ctx).WorkflowExecution.ID
	f.inputs[name] = in
	took := f.took(name)
	f.mu.Unlock()
	start := workflow.Now(ctx)
	if err := workflow.Sleep(ctx, took); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.current--
	f.spans = append(f.spans, span{node: name, wave: in.Wave, start: start, end: workflow.Now(ctx)})
	o := f.outcome(name, run)
	result := f.result
	f.mu.Unlock()
	if result != nil {
		return result(name), nil
	}
	res := &NodeResult{Node: name, Outcome: o, KubeletRunning: true, Reasons: []string{fmt.Sprintf("fake %s", o)}}
	if o == OutcomeRemediated {
		res.KubeletDown = took
	}
	return res, nil
}

func inventory(n int) []InventoryNode {
	out := make([]InventoryNode, n)
	for i := range out {
		out[i] = InventoryNode{Name: fmt.Sprintf("n%d", i+1), Address: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), Port: 22, User: "root"}
	}
	return out
}

func rolloutInput(n int, waves string) *RolloutInput {
	p, err := ParseWavePlan(waves)
	if err != nil {
		panic(err)
	}
	return &RolloutInput{RolloutID: "r1", Inventory: inventory(n), Waves: p, Settings: testSettings(), Concurrency: []int{1}}
}

// queryAt records the progress at a point of workflow time.
func (f *fleet) queryAt(d time.Duration) {
	f.env.RegisterDelayedCallback(func() {
		v, err := f.env.QueryWorkflow(QueryProgress)
		require.NoError(f.t, err)
		var p Progress
		require.NoError(f.t, v.Get(&p))
		f.progress = append(f.progress, &p)
	}, d)
}

// update sends an update at a point of workflow time; rejected says
// whether the validator must reject it (with wantErr in the message).
func (f *fleet) update(d time.Duration, name string, arg any, wantErr string) {
	f.env.RegisterDelayedCallback(func() {
		f.env.UpdateWorkflow(name, fmt.Sprintf("%s-%d", name, d), &testsuite.TestUpdateCallback{
			OnAccept: func() {
				if wantErr != "" {
					f.t.Errorf("update %s %+v accepted, want rejection %q", name, arg, wantErr)
				}
			},
			OnReject: func(err error) {
				if wantErr == "" {
					f.t.Errorf("update %s %+v rejected: %v", name, arg, err)
				} else {
					require.ErrorContains(f.t, err, wantErr)
				}
			},
			OnComplete: func(any, error) {},
		}, arg)
	}, d)
}

func (f *fleet) run(in *RolloutInput) *Progress {
	f.t.Helper()
	f.env.ExecuteWorkflow(RolloutWorkflowName, in)
	require.True(f.t, f.env.IsWorkflowCompleted())
	require.NoError(f.t, f.env.GetWorkflowError())
	var p Progress
	require.NoError(f.t, f.env.GetWorkflowResult(&p))
	return &p
}

// continued runs a rollout that must continue as new and returns the
// input of the next run.
func (f *fleet) continued(in *RolloutInput) *RolloutInput {
	f.t.Helper()
	f.env.ExecuteWorkflow(RolloutWorkflowName, in)
	require.True(f.t, f.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(f.t, f.env.GetWorkflowError(), &can, "want continue-as-new, got %v", f.env.GetWorkflowError())
	var next RolloutInput
	require.NoError(f.t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	return &next
}
