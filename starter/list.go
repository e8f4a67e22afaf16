package starter

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/kmemfix/kmemfix/workflows"
)

func newRolloutListCommand(a *app) *cobra.Command {
	var limit int
	var running bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List rollouts and surveys, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, cfg, err := a.client(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			query := fmt.Sprintf("WorkflowType = '%s'", workflows.RolloutWorkflowName)
			if running {
				query += " AND ExecutionStatus = 'Running'"
			}
			t := newTable(cmd.OutOrStdout(), "ROLLOUT", "STATUS", "STATE", "STARTED (UTC)", "CLOSED (UTC)")
			var token []byte
			n := 0
			for n < limit {
				resp, err := c.ListWorkflow(cmd.Context(), &workflowservice.ListWorkflowExecutionsRequest{
					Namespace: cfg.Temporal.Namespace, Query: query, PageSize: int32(min(limit-n, 100)), NextPageToken: token,
				})
				if err != nil {
					return fmt.Errorf("list rollouts: %w", err)
				}
				for _, e := range resp.GetExecutions() {
					if n == limit {
						break
					}
					n++
					state := ""
					if p := e.GetSearchAttributes().GetIndexedFields()[workflows.SAState.GetName()]; p != nil {
						_ = converter.GetDefaultDataConverter().FromPayload(p, &state)
					}
					closed := ""
					if ct := e.GetCloseTime(); ct != nil && ct.IsValid() && !ct.AsTime().IsZero() {
						closed = ct.AsTime().UTC().Format(time.DateTime)
					}
					status := strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))
					_ = t.Append(e.GetExecution().GetWorkflowId(), status, state, e.GetStartTime().AsTime().UTC().Format(time.DateTime), closed)
				}
				token = resp.GetNextPageToken()
				if len(token) == 0 {
					break
				}
			}
			if n == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "No rollouts yet: start one with `kmemfix rollout start -f rollout.yaml`.")
				return nil
			}
			return t.Render()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most this many")
	cmd.Flags().BoolVar(&running, "running", false, "only rollouts still running")
	return cmd
}
