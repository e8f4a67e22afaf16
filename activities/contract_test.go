package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/sim/simnode"
)

// simShell runs the real node helper in-process against a simulated node:
// the contract between the activities' argv and the helper's flags is
// checked by the helper itself, not by a fake that agrees with us.
type simShell struct{ n *simnode.Node }

func (s simShell) RunHelper(ctx context.Context, _ NodeRef, args []string, progress func(node.Progress)) ([]byte, int, error) {
	var stdout, stderr bytes.Buffer
	exit := helper.Main(ctx, args, nil, &stdout, &stderr, s.n)
	dec := json.NewDecoder(&stderr)
	for {
		var p node.Progress
		if dec.Decode(&p) != nil {
			break
		}
		progress(p)
	}
	return stdout.Bytes(), exit, nil
}

func (s simShell) EnsureHelper(context.Context, NodeRef) (string, error) {
	return "/usr/local/lib/kmemfix/kmemfix-node", nil
}

func (s simShell) EnsureFile(_ context.Context, _ NodeRef, local, remote, _ string) error {
	data, err := os.ReadFile(local)
	if err != nil {
		return err
	}
	if err := s.n.MkdirAll("/var/lib/kmemfix"); err != nil {
		return err
	}
	return s.n.WriteFileAtomic(remote, bytes.NewReader(data), 0o755)
}

// TestActivitiesAgainstTheRealHelper runs every step's activity, in the
// workflow's order, through the real helper on a simulated affected node;
// and the compensations after move.
func TestActivitiesAgainstTheRealHelper(t *testing.T) {
	t.Run("forward", func(t *testing.T) { runAgainstHelper(t, false) })
	t.Run("compensate", func(t *testing.T) { runAgainstHelper(t, true) })
}

func runAgainstHelper(t *testing.T, compensate bool) {
	n := simnode.New(simnode.Config{Kubelet: simnode.KubeletConfig{Buggy: true}, Stap: true, Seed: 5})
	require.NoError(t, n.AddPods(simnode.PodsSpec{Containers: 30, Forker: true}))
	kubelet := simnode.KubeletBinary("v1.12.3-nokmem", false)
	local := t.TempDir() + "/kubelet"
	require.NoError(t, os.WriteFile(local, kubelet, 0o600))
	sum := sha256.Sum256(kubelet)
	sha := hex.EncodeToString(sum[:])

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &Activities{Shell: simShell{n}, Classifier: classifier{}}
	env.RegisterActivity(a)
	flags := Flags{CgroupRoot: "/sys/fs/cgroup/memory", Kubepods: "kubepods", Mirror: "kubepods2", JournalDir: "/var/lib/kmemfix", KubeletUnit: "kubelet"}
	node1 := NodeRef{Name: "n1"}

	v, err := env.ExecuteActivity(a.Inspect, &InspectInput{Node: node1, Flags: flags, KubeletUnit: "kubelet", KubeletBinary: "/usr/bin/kubelet", Margin: 256})
	require.NoError(t, err)
	var ins InspectResult
	require.NoError(t, v.Get(&ins))
	require.Equal(t, node.VerdictAffected, ins.Inspect.Verdict, ins.Inspect.Reasons)
	flags.BootID = ins.Inspect.BootID

	staged := "/var/lib/kmemfix/kubelet.nokmem"
	steps := []step{
		{"StageKubelet", a.StageKubelet, &StageKubeletInput{Node: node1, LocalPath: local, RemotePath: staged, SHA256: sha}},
		{"StopKubelet", a.StopKubelet, &StopKubeletInput{Node: node1, Flags: flags, Unit: "kubelet", Binary: "/usr/bin/kubelet", NewBinary: staged, SHA256: sha}},
		{"Snapshot", a.Snapshot, &NodeStepInput{Node: node1, Flags: flags}},
		{"Mirror", a.Mirror, &NodeStepInput{Node: node1, Flags: flags}},
		{"Move", a.Move, &NodeStepInput{Node: node1, Flags: flags}},
		{"Commit", a.Commit, &NodeStepInput{Node: node1, Flags: flags}},
		{"Rebuild", a.Rebuild, &NodeStepInput{Node: node1, Flags: flags}},
		{"StartKubelet", a.StartKubelet, &StartKubeletInput{Node: node1, Flags: flags, Unit: "kubelet", HealthzURL: simnode.HealthzURL}},
		{"RestartCadvisor", a.RestartCadvisor, &RestartCadvisorInput{Node: node1, Flags: flags, Commands: [][]string{{"systemctl", "restart", "cadvisor"}}}},
		{"Verify", a.Verify, &NodeStepInput{Node: node1, Flags: flags}},
		{"Finish", a.Finish, &NodeStepInput{Node: node1, Flags: flags}},
	}
	run := func(steps []step) {
		for _, st := range steps {
			_, err := env.ExecuteActivity(st.fn, st.in)
			require.NoError(t, err, st.name)
		}
	}
	if compensate {
		run(steps[:5]) // through move
		run([]step{
			{"Restore", a.Restore, &NodeStepInput{Node: node1, Flags: flags}},
			{"RestoreKubelet", a.RestoreKubelet, &RestoreKubeletInput{Node: node1, Flags: flags, Unit: "kubelet", Binary: "/usr/bin/kubelet", HealthzURL: simnode.HealthzURL}},
		})
		require.Equal(t, "active", n.ServiceState("kubelet"))
		require.True(t, n.RunningKubelet().Kmem, "the original kubelet is back")
		_, mirror := n.Cgroup("/kubepods2")
		require.False(t, mirror, "mirror left behind")
		return
	}
	run(steps)
	require.Equal(t, "active", n.ServiceState("kubelet"))
	require.False(t, n.RunningKubelet().Kmem, "kubelet still the buggy build")
	require.Equal(t, 1, n.CadvisorRestarts())
}

type step struct {
	name string
	fn   any
	in   any
}

type refusingCordoner struct{ err error }

func (c refusingCordoner) Cordon(context.Context, string, string) (bool, error) { return false, c.err }
func (c refusingCordoner) Uncordon(context.Context, string, string) error       { return c.err }

// TestCordonKeepsNonRetryableErrors: a cordoner's non-retryable error stays
// the outermost one, so Temporal does not retry a missing node.
func TestCordonKeepsNonRetryableErrors(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &Activities{Cordoner: refusingCordoner{temporal.NewNonRetryableApplicationError("node n1 not found", ErrBadInput, nil)}}
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.CordonNode, &CordonInput{Node: NodeRef{Name: "n1"}, RolloutID: "r1"})
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.NonRetryable(), "a missing node must not be retried")
	require.Equal(t, ErrBadInput, ae.Type())
}
