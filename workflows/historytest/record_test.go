package historytest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/internal/devserver"
	"github.com/kmemfix/kmemfix/internal/devserver/devservertest"
	"github.com/kmemfix/kmemfix/workflows"
)

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func settings() workflows.NodeSettings {
	return workflows.NodeSettings{
		ReplacementKubelet: "/srv/kubelet-nokmem", ReplacementKubeletSHA256: sha,
		CadvisorCommands: [][]string{{"systemctl", "restart", "cadvisor"}},
	}
}

func inventory(names ...string) []workflows.InventoryNode {
	var out []workflows.InventoryNode
	for i, n := range names {
		out = append(out, workflows.InventoryNode{Name: n, Address: fmt.Sprintf("10.1.0.%d", i+1), Port: 22, User: "root"})
	}
	return out
}

func TestRecordHistories(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	rec, cancel := newRecorder(t, &scriptedShell{failOn: map[string]string{"n-rollback": "move"}})
	defer cancel()
	ctx := rec.ctx

	// Node workflows.
	for _, tc := range []struct {
		file    string
		node    string
		dryRun  bool
		outcome workflows.Outcome
	}{
		{"node-remediated.json", "n-ok", false, workflows.OutcomeRemediated},
		{"node-rolled-back.json", "n-rollback", false, workflows.OutcomeFailedRolledBack},
		{"node-dry-run.json", "n-dry", true, workflows.OutcomePlanned},
	} {
		in := &workflows.NodeInput{Node: activities.NodeRef{Name: tc.node, Address: "10.0.0.9"}, Settings: settings(), DryRun: tc.dryRun}
		run := rec.start(workflows.NodeWorkflowID(tc.node), workflows.NodeWorkflowName, in)
		var res workflows.NodeResult
		require.NoError(t, run.Get(ctx, &res))
		require.Equal(t, tc.outcome, res.Outcome, res.Reasons)
		rec.save(tc.file, run.GetID(), run.GetRunID())
	}

	// A rollout with a pause and a resume.
	in := &workflows.RolloutInput{RolloutID: "rec", Inventory: inventory("r1", "r2", "r3"), Settings: settings(),
		Waves: workflows.WavePlan{{Count: 1}, {Percent: 100}}, Concurrency: []int{2}, FailureBudget: workflows.FailureBudget{Count: 1}}
	run := rec.start(workflows.RolloutWorkflowID("rec"), workflows.RolloutWorkflowName, in)
	rec.update(run, workflows.UpdatePause, workflows.PauseRequest{Reason: "recording a pause"})
	rec.waitFor(run, func(p *workflows.Progress) bool { return p.Running == 0 })
	rec.update(run, workflows.UpdateResume, workflows.ResumeRequest{})
	var p workflows.Progress
	require.NoError(t, run.Get(ctx, &p))
	require.Equal(t, 3, p.Counts[workflows.OutcomeRemediated])
	rec.save("rollout-pause-resume.json", run.GetID(), run.GetRunID())

	// A rollout that continues as new: the first run's history.
	in = &workflows.RolloutInput{RolloutID: "can", Inventory: inventory("c1", "c2", "c3"), Settings: settings(),
		Waves: workflows.WavePlan{{Percent: 100}}, Concurrency: []int{2}, NodesPerRun: 2}
	run = rec.start(workflows.RolloutWorkflowID("can"), workflows.RolloutWorkflowName, in)
	first := run.GetRunID()
	require.NoError(t, run.GetWithOptions(ctx, &p, client.WorkflowRunGetOptions{}))
	require.Equal(t, 3, p.Counts[workflows.OutcomeRemediated])
	require.Equal(t, 2, p.Runs)
	rec.save("rollout-continue-as-new.json", run.GetID(), first)

	// A survey.
	in = &workflows.RolloutInput{RolloutID: "survey", Mode: workflows.ModeSurvey, Inventory: inventory("s1", "s2")}
	run = rec.start(workflows.RolloutWorkflowID("survey"), workflows.RolloutWorkflowName, in)
	require.NoError(t, run.Get(ctx, &p))
	require.Equal(t, 2, p.Fleet.Verdicts["affected"])
	rec.save("rollout-survey.json", run.GetID(), run.GetRunID())
}

// TestCancelRolloutRollsBackNodesInFlight cancels a rollout while its two
// nodes are in the middle of move: the cancel reaches the move activity
// through its heartbeat, each node rolls back, and the rollout reports.
func TestCancelRolloutRollsBackNodesInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	rec, cancel := newRecorder(t, &scriptedShell{})
	defer cancel()
	in := &workflows.RolloutInput{RolloutID: "cancel", Inventory: inventory("slow1", "slow2", "late"), Settings: settings(),
		Waves: workflows.WavePlan{{Percent: 100}}, Concurrency: []int{2}}
	run := rec.start(workflows.RolloutWorkflowID("cancel"), workflows.RolloutWorkflowName, in)
	for _, n := range []string{"slow1", "slow2"} {
		require.Eventually(t, func() bool {
			v, err := rec.c.QueryWorkflow(rec.ctx, workflows.NodeWorkflowID(n), "", workflows.QueryCurrentStep)
			var cs workflows.CurrentStep
			return err == nil && v.Get(&cs) == nil && cs.Step == workflows.StepMove
		}, time.Minute, 100*time.Millisecond)
	}
	require.NoError(t, rec.c.CancelWorkflow(rec.ctx, run.GetID(), run.GetRunID()))
	err := run.Get(rec.ctx, nil)
	var ce *temporal.CanceledError
	require.ErrorAs(t, err, &ce)
	var p workflows.Progress
	require.NoError(t, ce.Details(&p))
	require.Equal(t, workflows.StateCancelled, p.State)
	require.Equal(t, 2, p.Counts[workflows.OutcomeFailedRolledBack])
	require.Equal(t, 1, p.Pending, "no node starts after the cancel")

	child := rec.c.GetWorkflow(rec.ctx, workflows.NodeWorkflowID("slow1"), "")
	require.ErrorAs(t, child.Get(rec.ctx, nil), &ce)
	var res workflows.NodeResult
	require.NoError(t, ce.Details(&res))
	require.Equal(t, workflows.OutcomeFailedRolledBack, res.Outcome)
	require.True(t, res.KubeletRunning)
	require.Len(t, res.Compensations, 3)
	rec.save("node-cancelled.json", child.GetID(), child.GetRunID())
	rec.save("rollout-cancelled.json", run.GetID(), run.GetRunID())
}

func newRecorder(t *testing.T, shell *scriptedShell) (recorder, context.CancelFunc) {
	attrs := map[string]enumspb.IndexedValueType{}
	for _, sa := range workflows.SearchAttributes {
		attrs[sa.Name] = sa.Type
	}
	srv := devservertest.Start(t, func(o *devserver.Options) { o.SearchAttributes = attrs })
	c := devservertest.Client(t, srv)
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	workflows.Register(w)
	w.RegisterActivity(&activities.Activities{Shell: shell})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	return recorder{t: t, c: c, ctx: ctx}, cancel
}

type recorder struct {
	t   *testing.T
	c   client.Client
	ctx context.Context
}

func (r recorder) start(id, name string, in any) client.WorkflowRun {
	run, err := r.c.ExecuteWorkflow(r.ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, name, in)
	require.NoError(r.t, err)
	return run
}

func (r recorder) update(run client.WorkflowRun, name string, arg any) {
	h, err := r.c.UpdateWorkflow(r.ctx, client.UpdateWorkflowOptions{
		WorkflowID: run.GetID(), RunID: run.GetRunID(), UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	require.NoError(r.t, err)
	var msg string
	require.NoError(r.t, h.Get(r.ctx, &msg))
}

func (r recorder) waitFor(run client.WorkflowRun, cond func(*workflows.Progress) bool) {
	require.Eventually(r.t, func() bool {
		v, err := r.c.QueryWorkflow(r.ctx, run.GetID(), run.GetRunID(), workflows.QueryProgress)
		if err != nil {
			return false
		}
		var p workflows.Progress
		return v.Get(&p) == nil && cond(&p)
	}, time.Minute, 50*time.Millisecond)
}

// save writes the history of one run when KMEMFIX_RECORD_HISTORIES=1.
func (r recorder) save(file, id, runID string) {
	var h historypb.History
	it := r.c.GetWorkflowHistory(r.ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(r.t, err)
		h.Events = append(h.Events, e)
	}
	require.NotEmpty(r.t, h.Events)
	if os.Getenv("KMEMFIX_RECORD_HISTORIES") != "1" {
		return
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	require.NoError(r.t, err)
	path := filepath.Join("..", "testdata", "histories", file)
	require.NoError(r.t, os.WriteFile(path, append(b, '\n'), 0o644))
	r.t.Logf("wrote %s (%d events)", path, len(h.Events))
}
