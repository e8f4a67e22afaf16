package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayRecordedHistories replays every history recorded on a real
// server (see package historytest) with today's workflow code: a change
// that is not replay-safe fails here; guard it with workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 8, "recorded histories are missing: run KMEMFIX_RECORD_HISTORIES=1 go test ./workflows/historytest")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			Register(r)
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}

// TestReplayCatchesNonDeterminism proves the replay test has teeth: a
// node workflow that skips a step cannot replay a recorded remediation.
func TestReplayCatchesNonDeterminism(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in *NodeInput) (*NodeResult, error) {
		return &NodeResult{Node: in.Node.Name, Outcome: OutcomeRemediated}, nil
	}, workflow.RegisterOptions{Name: NodeWorkflowName})
	err := r.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("testdata", "histories", "node-remediated.json"))
	require.Error(t, err)
	b, rerr := os.ReadFile(filepath.Join("testdata", "histories", "node-remediated.json"))
	require.NoError(t, rerr)
	require.Contains(t, string(b), "StopKubelet")
}
