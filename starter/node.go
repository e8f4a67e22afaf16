package starter

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/workflows"
)

func newNodeCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Inspect or remediate one node, outside any rollout",
	}
	cmd.AddCommand(
		newNodeRunCommand(a, "inspect NODE -i INVENTORY", "Inspect one node and show what a remediation would do; changes nothing", true),
		newNodeRunCommand(a, "remediate NODE -i INVENTORY", "Run the nine-step procedure on one node and wait for its outcome", false),
	)
	return cmd
}

func newNodeRunCommand(a *app, use, short string, dryRun bool) *cobra.Command {
	var invPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config(cmd)
			if err != nil {
				return err
			}
			inv, err := loadInventory(invPath)
			if err != nil {
				return err
			}
			var found *workflows.InventoryNode
			for _, n := range inventoryNodes(inv.Resolved()) {
				if n.Name == args[0] {
					found = &n
					break
				}
			}
			if found == nil {
				return usageError(fmt.Errorf("node %q is not in %s", args[0], invPath))
			}
			id := workflows.NodeWorkflowID(found.Name)
			if dryRun {
				id = workflows.NodeSurveyWorkflowID("inspect-"+newName(), found.Name)
			}
			in := nodeInput(cfg, *found, id, dryRun)
			if err := in.Settings.Validate(dryRun); err != nil {
				return usageError(fmt.Errorf("node settings: %w", err))
			}
			c, cfg, err := a.client(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			run, err := c.ExecuteWorkflow(cmd.Context(), client.StartWorkflowOptions{
				ID: id, TaskQueue: cfg.Temporal.TaskQueue,
				WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
				StaticSummary:            fmt.Sprintf("kmemfix %s of node %s", strings.Fields(use)[0], found.Name),
			}, workflows.NodeWorkflowName, in)
			if err != nil {
				return fmt.Errorf("start %s: %w (is another remediation of this node running?)", id, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", id, orWord(workflowURL(cfg, id), "started"))
			var res workflows.NodeResult
			if err := run.Get(cmd.Context(), &res); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				writeNodeResult(cmd.OutOrStdout(), &res)
			}
			if failed(res.Outcome) {
				return fmt.Errorf("node %s: %s", res.Node, res.Outcome)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&invPath, "inventory", "i", "", "inventory file that lists the node (YAML or CSV; required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the workflow's result as JSON")
	return cmd
}

// nodeInput is the input of a single-node run whose workflow ID is id.
// With rollout.cordon on, the run is its own owner of the cordon: the node
// is annotated with id, and only this run uncordons it.
func nodeInput(cfg *config.Config, n workflows.InventoryNode, id string, dryRun bool) *workflows.NodeInput {
	in := &workflows.NodeInput{
		Node:     activities.NodeRef{Name: n.Name, Address: n.Address, Port: n.Port, User: n.User},
		Settings: nodeSettings(cfg, cfg.Rollout),
		DryRun:   dryRun,
	}
	if in.Settings.Cordon && !dryRun {
		in.RolloutID = id
	}
	return in
}

func failed(o workflows.Outcome) bool {
	switch o {
	case workflows.OutcomeFailedRolledBack, workflows.OutcomeFailedNeedsAttention, workflows.OutcomeUnreachable, workflows.OutcomeRebooted:
		return true
	}
	return false
}

func writeNodeResult(w io.Writer, r *workflows.NodeResult) {
	fmt.Fprintf(w, "Node %s: %s (last step %s)\n", r.Node, r.Outcome, r.Step)
	for _, s := range r.Reasons {
		fmt.Fprintf(w, "  reason: %s\n", s)
	}
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", s)
	}
	if i := r.Inspect; i != nil {
		ids := "unknown"
		if i.IDsInUse >= 0 {
			ids = fmt.Sprintf("%d in use, %d leaked", i.IDsInUse, i.LeakedIDs)
		}
		fmt.Fprintf(w, "Inspect: kernel %s (%s), verdict %s, phase %s\n", i.Kernel, i.KernelGeneration, i.Verdict, i.Phase)
		fmt.Fprintf(w, "  kubepods accounted %v, %d dirs, %d procs; css ids %s; headroom %d needed, %d available\n",
			i.KubepodsKmem, i.SubtreeDirs, i.SubtreeProcs, ids, i.Headroom.Required, i.Headroom.Available)
		fmt.Fprintf(w, "  kubelet %s (%s, %s)\n", i.Kubelet.State, i.Kubelet.Binary, orWord(i.Kubelet.Version, "version unknown"))
	}
	if len(r.Plan) > 0 {
		fmt.Fprintln(w, "Plan:")
		for i, s := range r.Plan {
			extra := ""
			if s.Compensation != "" {
				extra = " (undo: " + string(s.Compensation) + ")"
			}
			if s.ForwardOnly {
				extra = " (forward only)"
			}
			fmt.Fprintf(w, "  %2d. %-16s %s%s\n", i+1, s.Step, s.Does, extra)
		}
	}
	if r.KubeletDown > 0 {
		fmt.Fprintf(w, "Kubelet was down %s\n", short(r.KubeletDown))
	}
	for _, c := range r.Compensations {
		fmt.Fprintf(w, "Compensation %s: ok=%v %s\n", c.Step, c.OK, c.Error)
	}
}
