package workflows

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/node"
)

// call is one activity attempt the fake node saw.
type call struct {
	name string
	in   any
	err  error
}

// fakeNode mocks every activity of the node workflow. fail and delay are
// keyed by activity name; fail gets the attempt number (1-based).
type fakeNode struct {
	t       *testing.T
	env     *testsuite.TestWorkflowEnvironment
	mu      sync.Mutex
	calls   []call
	tries   map[string]int
	fail    map[string]func(attempt int) error
	delay   map[string]time.Duration
	inspect node.InspectResult
	verify  node.VerifyResult
}

const testSHA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func affectedNode() node.InspectResult {
	return node.InspectResult{
		Verdict: node.VerdictAffected, Phase: node.PhaseIdle, BootID: "boot-1", KubepodsKmem: true,
		Headroom: node.Headroom{Known: true, Required: 400, Available: 20000},
		Reasons:  []string{"kubepods has memory.kmem.slabinfo"},
	}
}

func testSettings() NodeSettings {
	return NodeSettings{
		ReplacementKubelet: "/srv/kubelet-nokmem", ReplacementKubeletSHA256: testSHA,
		CadvisorCommands:  [][]string{{"systemctl", "restart", "cadvisor"}},
		KubeletDownBudget: 3 * time.Minute,
	}
}

func newFakeNode(t *testing.T) *fakeNode {
	var s testsuite.WorkflowTestSuite
	f := &fakeNode{
		t: t, env: s.NewTestWorkflowEnvironment(),
		tries: map[string]int{}, fail: map[string]func(int) error{}, delay: map[string]time.Duration{},
		inspect: affectedNode(),
		verify:  node.VerifyResult{Dirs: 120, ProcsAlive: 300, ProcsExited: 2},
	}
	f.env.SetTestTimeout(time.Minute)
	stub(f, "EnsureHelper", a.EnsureHelper, func() *activities.EnsureHelperResult {
		return &activities.EnsureHelperResult{RemotePath: "/var/lib/kmemfix/kmemfix-node"}
	})
	stub(f, "Inspect", a.Inspect, func() *activities.InspectResult { return &activities.InspectResult{Inspect: f.inspect} })
	stub(f, "StageKubelet", a.StageKubelet, func() *activities.StageKubeletResult { return &activities.StageKubeletResult{} })
	stub(f, "StopKubelet", a.StopKubelet, func() *activities.StopKubeletResult { return &activities.StopKubeletResult{} })
	stub(f, "Snapshot", a.Snapshot, func() *activities.SnapshotResult {
		return &activities.SnapshotResult{Snapshot: node.SnapshotResult{Dirs: 120, Procs: 302, Digest: "sha256:abc"}}
	})
	for name, act := range map[string]func(context.Context, *activities.NodeStepInput) (*activities.TreeStepResult, error){
		"Mirror": a.Mirror, "Move": a.Move, "Commit": a.Commit, "Rebuild": a.Rebuild, "Restore": a.Restore,
	} {
		stub(f, name, act, func() *activities.TreeStepResult { return &activities.TreeStepResult{} })
	}
	stub(f, "StartKubelet", a.StartKubelet, func() *activities.StartKubeletResult {
		return &activities.StartKubeletResult{Service: node.ServiceResult{State: "active", Healthy: true}}
	})
	stub(f, "RestartCadvisor", a.RestartCadvisor, func() *activities.RestartCadvisorResult { return &activities.RestartCadvisorResult{} })
	stub(f, "Verify", a.Verify, func() *activities.VerifyResult { return &activities.VerifyResult{Verify: f.verify} })
	stub(f, "Finish", a.Finish, func() *activities.FinishResult { return &activities.FinishResult{} })
	stub(f, "RestoreKubelet", a.RestoreKubelet, func() *activities.RestoreKubeletResult { return &activities.RestoreKubeletResult{} })
	stub(f, "CordonNode", a.CordonNode, func() *activities.CordonResult { return &activities.CordonResult{Changed: true} })
	stub(f, "UncordonNode", a.UncordonNode, func() *activities.CordonResult { return &activities.CordonResult{Changed: true} })
	return f
}

func stub[I, O any](f *fakeNode, name string, act func(context.Context, *I) (*O, error), ok func() *O) {
	f.env.OnActivity(act, mock.Anything, mock.Anything).AfterFn(func() time.Duration {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.delay[name]
	}).Return(func(_ context.Context, in *I) (*O, error) {
		f.mu.Lock()
		f.tries[name]++
		attempt := f.tries[name]
		fail := f.fail[name]
		f.mu.Unlock()
		var err error
		if fail != nil {
			err = fail(attempt)
		}
		f.mu.Lock()
		f.calls = append(f.calls, call{name: name, in: in, err: err})
		f.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return ok(), nil
	}).Maybe()
}

// failWith makes an activity fail on every attempt.
func (f *fakeNode) failWith(name string, err error) {
	f.fail[name] = func(int) error { return err }
}

func nonRetryable(typ string) error {
	return temporal.NewNonRetryableApplicationError("injected "+typ, typ, nil)
}

func (f *fakeNode) run(in *NodeInput) (*NodeResult, error) {
	f.t.Helper()
	if in == nil {
		in = &NodeInput{Node: activities.NodeRef{Name: "n1", Address: "10.0.0.1"}, Settings: testSettings(), RolloutID: "r1", Wave: 2}
	}
	f.env.ExecuteWorkflow(NodeWorkflow, in)
	require.True(f.t, f.env.IsWorkflowCompleted())
	if err := f.env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var res NodeResult
	require.NoError(f.t, f.env.GetWorkflowResult(&res))
	return &res, nil
}

// names lists the activities that ran, in order; a failed attempt is
// marked with "!".
func (f *fakeNode) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		n := c.name
		if c.err != nil {
			n += "!"
		}
		out = append(out, n)
	}
	return out
}

// after returns the successful calls after the first failed one.
func (f *fakeNode) afterFailure() []string {
	var out []string
	seen := false
	for _, n := range f.names() {
		if strings.HasSuffix(n, "!") {
			seen = true
			continue
		}
		if seen {
			out = append(out, n)
		}
	}
	return out
}

// assertKubeletNotLeftStopped is the invariant every path must keep:
// once StopKubelet ran, a later StartKubelet or RestoreKubelet succeeded,
// or the outcome is failed-needs-attention and says kubelet is stopped.
func assertKubeletNotLeftStopped(t *testing.T, f *fakeNode, res *NodeResult) {
	t.Helper()
	names := f.names()
	stopped := false
	for _, n := range names {
		switch n {
		case "StopKubelet", "StopKubelet!":
			stopped = true
		case "StartKubelet", "RestoreKubelet":
			stopped = false
		}
	}
	if !stopped {
		require.True(t, res.KubeletRunning, "kubelet reported not running although it was started: %v", names)
		return
	}
	require.False(t, res.KubeletRunning, "kubelet left stopped but the result says running: %v", names)
	require.Equal(t, OutcomeFailedNeedsAttention, res.Outcome, "kubelet left stopped: %v", names)
	require.Contains(t, strings.Join(res.Reasons, "\n"), "kubelet is STOPPED")
}
