package workflows

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/node"
)

var fullRun = []string{"EnsureHelper", "Inspect", "StageKubelet", "StopKubelet", "Snapshot", "Mirror", "Move",
	"Commit", "Rebuild", "StartKubelet", "RestartCadvisor", "Verify", "Finish"}

func TestNodeRemediates(t *testing.T) {
	f := newFakeNode(t)
	f.delay["Move"] = 20 * time.Second
	f.delay["Rebuild"] = 30 * time.Second
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeRemediated, res.Outcome)
	require.Equal(t, fullRun, f.names())
	require.True(t, res.Committed)
	require.True(t, res.KubeletRunning)
	require.False(t, res.BudgetExceeded)
	require.Equal(t, 50*time.Second, res.KubeletDown)
	require.Equal(t, StepDone, res.Step)
	require.Empty(t, res.Compensations)
	require.Equal(t, 300, res.Verify.ProcsAlive)
	// Every step after inspect carries inspect's boot id.
	for _, c := range f.calls[2:] {
		if in, ok := c.in.(*activities.NodeStepInput); ok {
			require.Equal(t, "boot-1", in.Flags.BootID, c.name)
		}
	}
	assertKubeletNotLeftStopped(t, f, res)
}

func TestNodeStepFailure(t *testing.T) {
	kernel := nonRetryable(activities.ErrKernel)
	cases := []struct {
		step     string
		outcome  Outcome
		after    []string // successful calls after the failure
		comps    []Step
		warnings int
	}{
		{"StageKubelet", OutcomeFailedRolledBack, nil, nil, 0},
		{"StopKubelet", OutcomeFailedRolledBack, []string{"RestoreKubelet"}, []Step{StepRestoreKubelet}, 0},
		{"Snapshot", OutcomeFailedRolledBack, []string{"Finish", "RestoreKubelet"}, []Step{StepCloseJournal, StepRestoreKubelet}, 0},
		{"Mirror", OutcomeFailedRolledBack, []string{"Restore", "Finish", "RestoreKubelet"}, []Step{StepRestore, StepCloseJournal, StepRestoreKubelet}, 0},
		{"Move", OutcomeFailedRolledBack, []string{"Restore", "Finish", "RestoreKubelet"}, []Step{StepRestore, StepCloseJournal, StepRestoreKubelet}, 0},
		// Past the commit point: no compensation, forward only.
		// ... but kubelet is brought back: the replacement first, then the original.
		{"Commit", OutcomeFailedNeedsAttention, []string{"StartKubelet"}, nil, 0},
		{"Rebuild", OutcomeFailedNeedsAttention, []string{"StartKubelet"}, nil, 0},
		{"StartKubelet", OutcomeFailedNeedsAttention, []string{"RestoreKubelet"}, nil, 0},
		{"Verify", OutcomeFailedNeedsAttention, nil, nil, 0},
		// Optional steps: a warning, the node is remediated.
		{"RestartCadvisor", OutcomeRemediated, []string{"Verify", "Finish"}, nil, 1},
		{"Finish", OutcomeRemediated, nil, nil, 1},
	}
	for _, tc := range cases {
		t.Run(tc.step, func(t *testing.T) {
			f := newFakeNode(t)
			f.failWith(tc.step, kernel)
			res, err := f.run(nil)
			require.NoError(t, err)
			require.Equal(t, tc.outcome, res.Outcome, res.Reasons)
			require.Equal(t, tc.after, f.afterFailure())
			var comps []Step
			for _, c := range res.Compensations {
				require.True(t, c.OK)
				comps = append(comps, c.Step)
			}
			require.Equal(t, tc.comps, comps)
			require.Len(t, res.Warnings, tc.warnings)
			require.Equal(t, 1, f.tries[tc.step], "a non-retryable error is not retried")
			committed := tc.outcome != OutcomeFailedRolledBack
			require.Equal(t, committed, res.Committed)
			if committed && tc.outcome == OutcomeFailedNeedsAttention {
				require.Contains(t, res.Reasons[0], "after the commit point")
			}
			assertKubeletNotLeftStopped(t, f, res)
		})
	}
}

func TestNodeVerifyProblemsReported(t *testing.T) {
	f := newFakeNode(t)
	vr := node.VerifyResult{Dirs: 3, Problems: []string{"pid 42: in kubepods/x, snapshot says kubepods/y"}}
	f.failWith("Verify", temporal.NewNonRetryableApplicationError("differs", activities.ErrVerifyFailed, nil,
		node.Error{Code: node.CodeVerify, Message: "differs"}, vr))
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeFailedNeedsAttention, res.Outcome)
	require.Equal(t, vr.Problems, res.Verify.Problems)
	require.Contains(t, strings.Join(res.Reasons, "\n"), "pid 42")
	require.True(t, res.KubeletRunning)
}

func TestNodeCompensationFailureNeedsAttention(t *testing.T) {
	f := newFakeNode(t)
	f.failWith("Move", nonRetryable(activities.ErrNotConverged))
	f.failWith("Restore", nonRetryable(activities.ErrKernel))
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeFailedNeedsAttention, res.Outcome)
	all := strings.Join(res.Reasons, "\n")
	require.Contains(t, all, "compensation restore failed")
	require.Contains(t, all, "kmemfix-node restore")
	// The saga goes on: kubelet is brought back all the same.
	require.Equal(t, []string{"Finish", "RestoreKubelet"}, f.afterFailure()[0:2])
	require.True(t, res.KubeletRunning)
	assertKubeletNotLeftStopped(t, f, res)
}

func TestNodeKubeletRestoreFailureSaysKubeletStopped(t *testing.T) {
	f := newFakeNode(t)
	f.failWith("Mirror", nonRetryable(activities.ErrKernel))
	f.failWith("RestoreKubelet", nonRetryable(activities.ErrService))
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeFailedNeedsAttention, res.Outcome)
	require.False(t, res.KubeletRunning)
	assertKubeletNotLeftStopped(t, f, res)
}

func TestNodeRetryableErrorIsRetried(t *testing.T) {
	f := newFakeNode(t)
	f.fail["Mirror"] = func(attempt int) error {
		if attempt < 3 {
			return temporal.NewApplicationError("EBUSY", activities.ErrKernel)
		}
		return nil
	}
	f.fail["Move"] = func(attempt int) error {
		if attempt == 1 {
			return temporal.NewApplicationError("locked", activities.ErrLocked)
		}
		return nil
	}
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeRemediated, res.Outcome)
	require.Equal(t, 3, f.tries["Mirror"])
	require.Equal(t, 2, f.tries["Move"])
}

func TestNodeTransportClassification(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		attempts int
		advice   string
	}{
		{"auth failure is not retried", nonRetryable(activities.ErrAuth), 1, "SSH user or key"},
		{"host key mismatch is not retried", nonRetryable(activities.ErrHostKey), 1, "known_hosts"},
		{"unreachable retries with backoff", temporal.NewApplicationError("no route", activities.ErrUnreachable), 5, "reachable over SSH"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNode(t)
			f.failWith("EnsureHelper", tc.err)
			res, err := f.run(nil)
			require.NoError(t, err)
			require.Equal(t, OutcomeUnreachable, res.Outcome)
			require.Equal(t, tc.attempts, f.tries["EnsureHelper"])
			require.Contains(t, res.Reasons[0], tc.advice)
			require.Contains(t, res.Reasons[0], "nothing was changed")
			require.NotContains(t, f.names(), "StopKubelet")
		})
	}
}

func TestNodeBadInputNotRetried(t *testing.T) {
	f := newFakeNode(t)
	f.failWith("StageKubelet", nonRetryable(activities.ErrChecksum))
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeFailedRolledBack, res.Outcome)
	require.Equal(t, 1, f.tries["StageKubelet"])
	require.Contains(t, strings.Join(res.Reasons, " "), "kubelet was not stopped")
}

func TestNodeBudgetExceededBeforeCommitRollsBack(t *testing.T) {
	f := newFakeNode(t)
	f.delay["Move"] = 10 * time.Minute // a move that would outlast the 3m budget
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeFailedRolledBack, res.Outcome)
	require.Contains(t, res.Reasons[0], "kubelet-down budget of 3m0s ran out during move")
	require.True(t, res.BudgetExceeded)
	require.False(t, res.Committed)
	require.NotContains(t, f.names(), "Commit")
	require.Equal(t, []Step{StepRestore, StepCloseJournal, StepRestoreKubelet}, compSteps(res))
	// Rolled back as soon as the budget ran out, not when the move ended.
	require.Equal(t, 3*time.Minute, res.KubeletDown)
	assertKubeletNotLeftStopped(t, f, res)
}

func TestNodeBudgetExceededAfterCommitFinishesForward(t *testing.T) {
	f := newFakeNode(t)
	f.delay["Rebuild"] = 4 * time.Minute
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeRemediated, res.Outcome)
	require.True(t, res.BudgetExceeded)
	require.Empty(t, res.Compensations)
	require.Equal(t, 4*time.Minute, res.KubeletDown)
	require.Contains(t, strings.Join(res.Reasons, "\n"), "exceeded after the commit point")
	assertKubeletNotLeftStopped(t, f, res)
}

func TestNodeRebootMidProcedure(t *testing.T) {
	f := newFakeNode(t)
	f.failWith("Move", nonRetryable(activities.ErrRebooted))
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeRebooted, res.Outcome)
	require.Equal(t, []string{"StartKubelet"}, f.afterFailure(), "no compensation on a tree that no longer exists")
	last := f.calls[len(f.calls)-1].in.(*activities.StartKubeletInput)
	require.Empty(t, last.Flags.BootID, "kubelet is checked without the old boot id")
	require.Contains(t, strings.Join(res.Reasons, "\n"), "replacement build")
	assertKubeletNotLeftStopped(t, f, res)
}

func TestNodeRebootAndKubeletUnhealthyNeedsAttention(t *testing.T) {
	f := newFakeNode(t)
	f.failWith("Commit", nonRetryable(activities.ErrRebooted))
	f.failWith("StartKubelet", nonRetryable(activities.ErrService))
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeFailedNeedsAttention, res.Outcome)
	require.False(t, res.KubeletRunning)
	require.Contains(t, strings.Join(res.Reasons, "\n"), "did not come back healthy")
}

func TestNodeCancelBeforeCommitRollsBack(t *testing.T) {
	f := newFakeNode(t)
	f.delay["Move"] = time.Minute
	f.env.RegisterDelayedCallback(f.env.CancelWorkflow, 30*time.Second)
	_, err := f.run(nil)
	var ce *temporal.CanceledError
	require.ErrorAs(t, err, &ce, "%v", err)
	var res NodeResult
	require.NoError(t, ce.Details(&res))
	require.Equal(t, OutcomeFailedRolledBack, res.Outcome)
	require.Contains(t, res.Reasons[0], "cancelled during move")
	require.Equal(t, []Step{StepRestore, StepCloseJournal, StepRestoreKubelet}, compSteps(&res))
	require.True(t, res.KubeletRunning)
	require.Contains(t, f.names(), "RestoreKubelet")
}

func TestNodeCancelAfterCommitFinishesForward(t *testing.T) {
	f := newFakeNode(t)
	f.delay["Rebuild"] = time.Minute
	f.env.RegisterDelayedCallback(f.env.CancelWorkflow, 30*time.Second)
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeRemediated, res.Outcome)
	require.Equal(t, fullRun, f.names())
	require.Contains(t, strings.Join(res.Reasons, "\n"), "cancel arrived after the commit point")
}

func TestNodeVerdicts(t *testing.T) {
	unknown := affectedNode()
	unknown.Headroom = node.Headroom{Known: false, Available: -1}
	notAffected := affectedNode()
	notAffected.Verdict = node.VerdictNotAffected
	remediated := notAffected
	remediated.Kubelet.SHA256 = testSHA
	reboot := affectedNode()
	reboot.Verdict = node.VerdictNeedsReboot
	reboot.Headroom = node.Headroom{Known: true, Required: 900, Available: 12}
	unsupported := affectedNode()
	unsupported.Verdict = node.VerdictUnsupported
	cases := []struct {
		name    string
		inspect node.InspectResult
		policy  string
		outcome Outcome
		reason  string
	}{
		{"not affected", notAffected, "", OutcomeSkippedNotAffected, "not kmem-accounted"},
		{"already remediated", remediated, "", OutcomeSkippedNotAffected, "already remediated"},
		{"needs reboot", reboot, "", OutcomeNeedsReboot, "needs 900 free css ids, 12 are available"},
		{"unsupported", unsupported, "", OutcomeUnsupported, "not one kmemfix can remediate"},
		{"unknown headroom, default skip", unknown, "", OutcomeSkippedUnknownHeadroom, "Install systemtap"},
		{"unknown headroom, reboot", unknown, UnknownHeadroomReboot, OutcomeNeedsReboot, "reboot list"},
		{"unknown headroom, proceed", unknown, UnknownHeadroomProceed, OutcomeRemediated, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNode(t)
			f.inspect = tc.inspect
			in := &NodeInput{Node: activities.NodeRef{Name: "n1"}, Settings: testSettings()}
			in.Settings.UnknownHeadroom = tc.policy
			res, err := f.run(in)
			require.NoError(t, err)
			require.Equal(t, tc.outcome, res.Outcome)
			require.Contains(t, strings.Join(res.Reasons, "\n"), tc.reason)
			if tc.outcome != OutcomeRemediated {
				require.Equal(t, []string{"EnsureHelper", "Inspect"}, f.names())
			} else {
				require.Len(t, res.Warnings, 1)
			}
		})
	}
}

func TestNodeResumesPastCommitForwardOnly(t *testing.T) {
	f := newFakeNode(t)
	f.inspect.Phase = node.PhaseCommitting
	f.failWith("Restore", errors.New("restore must not run past the commit point"))
	f.failWith("Rebuild", nonRetryable(activities.ErrKernel))
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, []string{"EnsureHelper", "Inspect", "StageKubelet", "StopKubelet", "Commit", "Rebuild!", "StartKubelet"}, f.names())
	require.Equal(t, OutcomeFailedNeedsAttention, res.Outcome)
	require.True(t, res.Committed)
	assertKubeletNotLeftStopped(t, f, res)
}

func TestNodeResumesRebuiltWithoutRemovingKubepods(t *testing.T) {
	f := newFakeNode(t)
	f.inspect.Phase = node.PhaseRebuilt
	f.inspect.Verdict = node.VerdictNotAffected
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeRemediated, res.Outcome)
	require.Equal(t, []string{"EnsureHelper", "Inspect", "StageKubelet", "StopKubelet", "StartKubelet", "RestartCadvisor", "Verify", "Finish"}, f.names())
}

func TestNodeDryRunPlans(t *testing.T) {
	f := newFakeNode(t)
	in := &NodeInput{Node: activities.NodeRef{Name: "n1"}, Settings: NodeSettings{}, DryRun: true}
	res, err := f.run(in)
	require.NoError(t, err)
	require.Equal(t, OutcomePlanned, res.Outcome)
	require.True(t, res.DryRun)
	require.Equal(t, []string{"EnsureHelper", "Inspect"}, f.names())
	var steps []Step
	for _, p := range res.Plan {
		steps = append(steps, p.Step)
	}
	require.Equal(t, []Step{StepStageKubelet, StepStopKubelet, StepSnapshot, StepMirror, StepMove, StepCommit, StepRebuild,
		StepStartKubelet, StepVerify, StepFinish}, steps, "no cadvisor step when no command is configured")
	require.Equal(t, StepRestoreKubelet, res.Plan[1].Compensation)
	require.False(t, res.Plan[4].ForwardOnly)
	require.True(t, res.Plan[5].ForwardOnly)
	require.Contains(t, res.Plan[5].Does, "COMMIT POINT")
}

func TestNodeInvalidSettingsChangeNothing(t *testing.T) {
	f := newFakeNode(t)
	in := &NodeInput{Node: activities.NodeRef{Name: "n1"}, Settings: NodeSettings{ReplacementKubeletSHA256: "abc"}}
	res, err := f.run(in)
	require.NoError(t, err)
	require.Equal(t, OutcomeFailedRolledBack, res.Outcome)
	require.Contains(t, res.Reasons[0], "replacementKubelet is empty")
	require.Empty(t, f.names())
}

func TestNodeQueryCurrentStep(t *testing.T) {
	f := newFakeNode(t)
	f.delay["Move"] = time.Minute
	var got CurrentStep
	f.env.RegisterDelayedCallback(func() {
		v, err := f.env.QueryWorkflow(QueryCurrentStep)
		require.NoError(t, err)
		require.NoError(t, v.Get(&got))
	}, 30*time.Second)
	_, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, StepMove, got.Step)
	require.True(t, got.KubeletStopped)
	require.False(t, got.Committed)
}

func compSteps(res *NodeResult) []Step {
	var out []Step
	for _, c := range res.Compensations {
		out = append(out, c.Step)
	}
	return out
}

func TestNodeRebootDuringRollback(t *testing.T) {
	f := newFakeNode(t)
	f.failWith("Move", nonRetryable(activities.ErrNotConverged))
	f.failWith("Restore", nonRetryable(activities.ErrRebooted))
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeRebooted, res.Outcome)
	require.Equal(t, []string{"StartKubelet"}, f.afterFailure()[len(f.afterFailure())-1:])
	require.Contains(t, res.Reasons[0], "move failed")
	assertKubeletNotLeftStopped(t, f, res)
}

// TestNodeKubeletBroughtBackAfterForwardFailure: past the commit point a
// failed step still ends with kubelet running: the replacement if it
// starts, else the original build; only when both fail is it left stopped,
// and the outcome says so.
func TestNodeKubeletBroughtBackAfterForwardFailure(t *testing.T) {
	cases := []struct {
		name    string
		fail    []string
		after   []string
		running bool
		says    string
	}{
		{"replacement starts", []string{"Commit"}, []string{"StartKubelet"}, true, "replacement build"},
		{"original starts", []string{"Commit", "StartKubelet"}, []string{"RestoreKubelet"}, true, "ORIGINAL build"},
		{"nothing starts", []string{"Rebuild", "StartKubelet", "RestoreKubelet"}, nil, false, "kubelet is STOPPED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNode(t)
			for _, step := range tc.fail {
				f.failWith(step, nonRetryable(activities.ErrKernel))
			}
			res, err := f.run(nil)
			require.NoError(t, err)
			require.Equal(t, OutcomeFailedNeedsAttention, res.Outcome)
			require.Equal(t, tc.after, f.afterFailure())
			require.Equal(t, tc.running, res.KubeletRunning)
			require.Contains(t, strings.Join(res.Reasons, "\n"), tc.says)
			assertKubeletNotLeftStopped(t, f, res)
		})
	}
}

// TestNodeForwardRetriesAreBounded: past the commit point a step failing
// transiently is retried for about one kubelet-down budget, not forever:
// then kubelet is brought back and the outcome says what is left.
func TestNodeForwardRetriesAreBounded(t *testing.T) {
	f := newFakeNode(t)
	f.fail["Rebuild"] = func(int) error { return temporal.NewApplicationError("EBUSY", activities.ErrKernel) }
	res, err := f.run(nil)
	require.NoError(t, err)
	require.Equal(t, OutcomeFailedNeedsAttention, res.Outcome)
	require.Greater(t, f.tries["Rebuild"], 3, "a forward step retries more than a pre-commit one")
	require.True(t, res.KubeletRunning)
	require.Equal(t, []string{"StartKubelet"}, f.afterFailure())
	assertKubeletNotLeftStopped(t, f, res)
}

// TestNodeCordon: with cordon on, the node is cordoned before its kubelet
// stops and uncordoned when it is remediated or rolled back; past the
// commit point a failed node stays cordoned and the result says so.
func TestNodeCordon(t *testing.T) {
	cases := []struct {
		name     string
		fail     string
		outcome  Outcome
		uncordon bool
	}{
		{"remediated", "", OutcomeRemediated, true},
		{"rolled back", "Move", OutcomeFailedRolledBack, true},
		{"needs attention past commit", "Rebuild", OutcomeFailedNeedsAttention, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNode(t)
			if tc.fail != "" {
				f.failWith(tc.fail, nonRetryable(activities.ErrKernel))
			}
			in := &NodeInput{RolloutID: "r1", Node: activities.NodeRef{Name: "n1"}, Settings: testSettings()}
			in.Settings.Cordon = true
			res, err := f.run(in)
			require.NoError(t, err)
			require.Equal(t, tc.outcome, res.Outcome, res.Reasons)
			names := f.names()
			require.Less(t, slices.Index(names, "CordonNode"), slices.Index(names, "StopKubelet"), names)
			require.Equal(t, tc.uncordon, slices.Contains(names, "UncordonNode"), names)
			if !tc.uncordon {
				require.Contains(t, strings.Join(res.Reasons, "\n"), "stays cordoned")
			}
		})
	}
}
