package starter

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/inventory"
	"github.com/kmemfix/kmemfix/report"
	"github.com/kmemfix/kmemfix/workflows"
)

func newSurveyCommand(a *app) *cobra.Command {
	var invPath, htmlPath string
	var concurrency int
	var asJSON, asCSV bool
	cmd := &cobra.Command{
		Use:   "survey -i INVENTORY",
		Short: "Inspect every node of an inventory and report which are affected; changes nothing",
		Long: `survey runs a rollout in survey mode: each node is inspected (kmem accounting
of kubepods, css ids in use and leaked, headroom, kubelet) and nothing is
changed. It waits for the end and prints one row per node, as a table, --json
or --csv. --html FILE also writes a self-contained page to read or share:
counts per verdict, a histogram of free css ids, the nodes that need a reboot.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && asCSV {
				return usageError(errors.New("choose one of --json and --csv"))
			}
			cfg, err := a.config(cmd)
			if err != nil {
				return err
			}
			inv, err := loadInventory(invPath)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("concurrency") {
				concurrency = cfg.Rollout.Concurrency
			}
			c, cfg, err := a.client(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			p, err := runSurvey(cmd.Context(), c, cfg, inventoryNodes(inv.Resolved()), concurrency, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if htmlPath != "" {
				if err := writeSurveyHTML(htmlPath, p, time.Now()); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Report: %s\n", htmlPath)
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(p.Fleet)
			case asCSV:
				return writeSurveyCSV(out, p.Fleet)
			}
			return writeSurveyTable(out, p.Fleet)
		},
	}
	cmd.Flags().StringVarP(&invPath, "inventory", "i", "", "inventory file (YAML or CSV; required)")
	cmd.Flags().IntVar(&concurrency, "concurrency", 0, "nodes inspected at once (default rollout.concurrency)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	cmd.Flags().StringVar(&htmlPath, "html", "", "also write the survey as a self-contained HTML page to FILE")
	return cmd
}

// writeSurveyHTML writes the survey's report page. The survey does not
// read kernel and kubelet versions, so the page shows them as unknown.
func writeSurveyHTML(path string, p *workflows.Progress, now time.Time) (err error) {
	s := report.FromFleet(p.RolloutID, p.Fleet, nil)
	s.Generated = now
	f, err := os.Create(path) //nolint:gosec // the operator names the report file
	if err != nil {
		return fmt.Errorf("survey report: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("survey report: %w", cerr)
		}
	}()
	return report.WriteHTML(f, s)
}

// runSurvey runs a survey of nodes to its end and returns its progress,
// whose Fleet is the picture. It says on w where to follow it.
func runSurvey(ctx context.Context, c client.Client, cfg *config.Config, nodes []workflows.InventoryNode, concurrency int, w io.Writer) (*workflows.Progress, error) {
	id := workflows.RolloutWorkflowID("survey-" + newName())
	in := &workflows.RolloutInput{
		RolloutID: id, Mode: workflows.ModeSurvey, Inventory: nodes,
		Concurrency: []int{concurrency}, Settings: nodeSettings(cfg, cfg.Rollout),
	}
	if err := in.Validate(); err != nil {
		return nil, usageError(fmt.Errorf("survey input: %w", err))
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: cfg.Temporal.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary:            fmt.Sprintf("kmemfix survey of %d nodes", len(nodes)),
	}, workflows.RolloutWorkflowName, in)
	if err != nil {
		return nil, fmt.Errorf("start survey: %w", err)
	}
	fmt.Fprintf(w, "Surveying %d node(s): %s\n", len(nodes), orWord(workflowURL(cfg, id), id))
	var p workflows.Progress
	if err := run.Get(ctx, &p); err != nil {
		return nil, fmt.Errorf("survey %s: %w", id, err)
	}
	if p.Fleet == nil {
		return nil, fmt.Errorf("survey %s ended %s without a fleet picture", id, p.State)
	}
	return &p, nil
}

func loadInventory(path string) (*inventory.Inventory, error) {
	if path == "" {
		return nil, usageError(errors.New("give the inventory with -i FILE (YAML or CSV)"))
	}
	inv, err := inventory.Load(path)
	if err != nil {
		return nil, usageError(err)
	}
	return inv, nil
}

var surveyColumns = []string{"node", "outcome", "verdict", "phase", "headroom", "required", "available", "leakedIDs", "reason"}

func surveyRow(n workflows.SurveyNode) []string {
	headroom := "unknown"
	if n.Known {
		headroom = "ok"
		if n.Available < n.Required {
			headroom = "short"
		}
	}
	return []string{n.Node, string(n.Outcome), n.Verdict, n.Phase, headroom, count(n.Required),
		count(n.Available), count(n.LeakedIDs), n.Reason}
}

// count prints a css id count; the node reports -1 when it could not tell.
func count(n int) string {
	if n < 0 {
		return "?"
	}
	return strconv.Itoa(n)
}

func writeSurveyCSV(w io.Writer, f *workflows.FleetPicture) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(surveyColumns)
	for _, n := range f.Nodes {
		_ = cw.Write(surveyRow(n))
	}
	cw.Flush()
	return cw.Error()
}

func writeSurveyTable(w io.Writer, f *workflows.FleetPicture) error {
	t := newTable(w, "NODE", "OUTCOME", "VERDICT", "PHASE", "HEADROOM", "NEEDS", "FREE", "LEAKED", "REASON")
	for _, n := range f.Nodes {
		if err := t.Append(surveyRow(n)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	var parts []string
	for _, v := range sortedKeys(f.Verdicts) {
		parts = append(parts, fmt.Sprintf("%s %d", v, f.Verdicts[v]))
	}
	if f.Unreachable > 0 {
		parts = append(parts, fmt.Sprintf("unreachable %d", f.Unreachable))
	}
	_, err := fmt.Fprintf(w, "%d node(s): %s\n", len(f.Nodes), strings.Join(parts, ", "))
	return err
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
