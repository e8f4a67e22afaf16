package starter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/workflows"
)

func newRolloutCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Start, follow and steer fleet rollouts",
		Long: `A rollout remediates every node of an inventory in waves. It is a Temporal
workflow (ID kmemfix-rollout-NAME) with one child workflow per node; everything
here is also visible, and the same controls exist, in the Temporal UI.

ROLLOUT arguments take the full ID or the NAME alone.`,
	}
	cmd.AddCommand(
		newRolloutStartCommand(a),
		newRolloutStatusCommand(a),
		newRolloutWatchCommand(a),
		newRolloutListCommand(a),
		newControlCommand(a, "pause ROLLOUT", "Pause: nodes in flight finish, no new node starts",
			workflows.UpdatePause, 1, true, func(args []string, reason string) any { return workflows.PauseRequest{Reason: reason} }),
		newControlCommand(a, "resume ROLLOUT", "Resume a paused rollout (its failure budget counts anew)",
			workflows.UpdateResume, 1, false, func(args []string, note string) any { return workflows.ResumeRequest{Note: note} }),
		newControlCommand(a, "abort ROLLOUT", "Abort: no new node starts; nodes in flight finish their own procedure",
			workflows.UpdateAbort, 1, true, func(args []string, reason string) any { return workflows.AbortRequest{Reason: reason} }),
		newControlCommand(a, "skip ROLLOUT NODE", "Skip a node that has not started yet",
			workflows.UpdateSkip, 2, false, func(args []string, _ string) any { return workflows.SkipRequest{Node: args[1]} }),
		newControlCommand(a, "retry ROLLOUT [NODE...]", "Re-queue failed nodes (all that failed, or the ones named)",
			workflows.UpdateRetry, -1, false, func(args []string, _ string) any { return workflows.RetryRequest{Nodes: args[1:]} }),
	)
	return cmd
}

func newRolloutStartCommand(a *app) *cobra.Command {
	f := &startFlags{}
	var wait bool
	cmd := &cobra.Command{
		Use:   "start (-f rollout.yaml | --inventory FILE) [flags]",
		Short: "Start a rollout and print its ID and Temporal UI link",
		Long: `start checks the rollout spec (or the flags), the inventory and the waves, listing
every problem at once, then starts the rollout workflow. Settings not given in
the spec or the flags come from the config file's rollout section.

--dry-run starts a survey instead: every node is inspected, nothing changes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config(cmd)
			if err != nil {
				return err
			}
			p, err := loadPlan(cfg, f, cmd.Flags())
			if err != nil {
				return err
			}
			c, cfg, err := a.client(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			id, runID, err := startRollout(cmd.Context(), c, cfg, p, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if !wait {
				return nil
			}
			return watchRollout(cmd, c, id, runID, 2*time.Second)
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&wait, "watch", false, "follow the rollout until it ends (as `rollout watch`)")
	return cmd
}

// startRollout starts the rollout workflow of a checked plan and prints
// its ID, its Temporal UI link and how to follow it.
func startRollout(ctx context.Context, c client.Client, cfg *config.Config, p *plan, out io.Writer) (id, runID string, err error) {
	id = workflows.RolloutWorkflowID(orWord(p.Spec.Name, newName()))
	in, err := rolloutInput(cfg, p, id)
	if err != nil {
		return "", "", usageError(err)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                cfg.Temporal.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary:            fmt.Sprintf("kmemfix %s of %d nodes in %d wave(s)", in.Mode, len(in.Inventory), len(p.WaveSizes)),
		StaticDetails: fmt.Sprintf("inventory %s, waves %s, concurrency %d, failure budget %s, cordon %t",
			p.Spec.Inventory, strings.Join(p.Spec.Waves, ","), p.Spec.Concurrency, p.Spec.FailureBudget, in.Settings.Cordon),
	}, workflows.RolloutWorkflowName, in)
	if err != nil {
		return "", "", fmt.Errorf("start rollout %s: %w", id, err)
	}
	fmt.Fprintf(out, "Started %s %s: %d node(s) in %d wave(s) %v\n", in.Mode, id, len(in.Inventory), len(p.WaveSizes), p.WaveSizes)
	if u := workflowURL(cfg, id); u != "" {
		fmt.Fprintf(out, "Temporal UI: %s\n", u)
	}
	fmt.Fprintf(out, "Follow it:   kmemfix rollout watch %s\n", id)
	return id, run.GetRunID(), nil
}

// newName is a rollout name unique enough for humans: date, time, 4 random hex.
func newName() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

func newRolloutStatusCommand(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status ROLLOUT",
		Short: "Print a rollout's progress: waves, outcomes, kubelet-down time, failing nodes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.client(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			id := workflows.RolloutWorkflowID(args[0])
			p, _, err := (&temporalProgress{c: c, id: id}).Progress(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			writeStatus(cmd.OutOrStdout(), id, p, false)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the progress query's JSON")
	return cmd
}

func newRolloutWatchCommand(a *app) *cobra.Command {
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "watch ROLLOUT",
		Short: "Follow a rollout live until it ends",
		Long: `watch redraws the rollout's picture in place on a terminal (a progress bar per
wave, counts per outcome, failing nodes with their reasons, kubelet-down times);
piped or redirected, it prints one plain line per change instead. It exits 0
when the rollout completed and no node failed, 3 when it completed with failing
nodes, 1 when it was aborted or the workflow failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.client(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			return watchRollout(cmd, c, workflows.RolloutWorkflowID(args[0]), "", interval)
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "time between two looks at the rollout")
	return cmd
}

func watchRollout(cmd *cobra.Command, c client.Client, id, runID string, interval time.Duration) error {
	p, err := followRollout(cmd.Context(), cmd.OutOrStdout(), c, id, runID, interval, nil)
	if err != nil {
		return err
	}
	return rolloutVerdict(id, p)
}

// followRollout shows a rollout on out until it ends: live on a terminal,
// plain lines otherwise. It returns the final progress.
func followRollout(ctx context.Context, out io.Writer, c client.Client, id, runID string, interval time.Duration,
	until func(*workflows.Progress) bool) (*workflows.Progress, error) {
	w := &watcher{id: id, src: &temporalProgress{c: c, id: id, runID: runID}, out: out, interval: interval, live: isTerminal(out), until: until}
	return w.run(ctx)
}

// rolloutVerdict is nil for a rollout that completed without failing
// nodes, else an error carrying the exit code.
func rolloutVerdict(id string, p *workflows.Progress) error {
	if p.State != workflows.StateDone {
		return fmt.Errorf("rollout %s ended %s: %s", id, p.State, orWord(p.AbortReason, "see `kmemfix rollout status`"))
	}
	if n := len(p.Failing); n > 0 {
		return &exitError{code: ExitNodesFailed, err: fmt.Errorf("rollout %s completed with %d failing node(s): see `kmemfix rollout status %s`; `kmemfix rollout retry` re-queues them while a rollout runs", id, n, id)}
	}
	return nil
}

// temporalProgress reads a rollout's progress from Temporal: the progress
// query while it runs, its result once it has ended.
type temporalProgress struct {
	c         client.Client
	id, runID string
}

func (t *temporalProgress) Progress(ctx context.Context) (*workflows.Progress, bool, error) {
	desc, err := t.c.DescribeWorkflowExecution(ctx, t.id, t.runID)
	if err != nil {
		return nil, false, fmt.Errorf("rollout %s: %w (list rollouts with `kmemfix rollout list`)", t.id, err)
	}
	var p workflows.Progress
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		v, err := t.c.QueryWorkflow(ctx, t.id, t.runID, workflows.QueryProgress)
		if err != nil {
			return nil, false, fmt.Errorf("query rollout %s: %w (is a kmemfix worker running?)", t.id, err)
		}
		if err := v.Get(&p); err != nil {
			return nil, false, fmt.Errorf("decode progress of %s: %w", t.id, err)
		}
		return &p, false, nil
	}
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
		t.runID = "" // follow the new run
		return t.Progress(ctx)
	}
	if err := t.c.GetWorkflow(ctx, t.id, info.GetExecution().GetRunId()).Get(ctx, &p); err != nil {
		return nil, true, fmt.Errorf("rollout %s ended %s: %w", t.id, strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")), err)
	}
	return &p, true, nil
}

// newControlCommand builds pause, resume, abort, skip and retry: each
// sends one update to the rollout and prints the workflow's answer. nargs
// is the exact argument count, or -1 for at least one.
func newControlCommand(a *app, use, short, update string, nargs int, needReason bool, req func(args []string, text string) any) *cobra.Command {
	var text string
	args := cobra.ExactArgs(nargs)
	if nargs < 0 {
		args = cobra.MinimumNArgs(1)
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			if needReason && strings.TrimSpace(text) == "" {
				return usageError(errors.New("give --reason: it is shown in the Temporal UI and in `rollout status`"))
			}
			c, _, err := a.client(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			id := workflows.RolloutWorkflowID(args[0])
			h, err := c.UpdateWorkflow(cmd.Context(), client.UpdateWorkflowOptions{
				WorkflowID:   id,
				UpdateName:   update,
				Args:         []any{req(args, text)},
				WaitForStage: client.WorkflowUpdateStageCompleted,
			})
			var notFound *serviceerror.NotFound
			if errors.As(err, &notFound) {
				return fmt.Errorf("%s %s: the rollout is not running (%w): it has ended or the ID is wrong; see `kmemfix rollout list`", update, id, err)
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", update, id, err)
			}
			var answer string
			if err := h.Get(cmd.Context(), &answer); err != nil {
				return fmt.Errorf("%s %s: %w", update, id, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", id, answer)
			return nil
		},
	}
	switch update {
	case workflows.UpdatePause, workflows.UpdateAbort:
		cmd.Flags().StringVar(&text, "reason", "", "why (required; shown in the UI)")
	case workflows.UpdateResume:
		cmd.Flags().StringVar(&text, "note", "", "a note for the rollout's log")
	}
	return cmd
}
