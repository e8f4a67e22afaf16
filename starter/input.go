package starter

import (
	"fmt"
	"path"
	"strings"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/inventory"
	"github.com/kmemfix/kmemfix/workflows"
)

// nodeSettings is the node section as the workflows take it. It holds no
// secret: credentials stay in the worker.
func nodeSettings(cfg *config.Config, r config.Rollout) workflows.NodeSettings {
	n := cfg.Node
	return workflows.NodeSettings{
		CgroupRoot:               n.CgroupRoot,
		Kubepods:                 n.Kubepods,
		Mirror:                   n.Mirror,
		JournalDir:               n.JournalDir,
		KubeletUnit:              n.KubeletUnit,
		KubeletBinary:            n.KubeletBinary,
		ReplacementKubelet:       n.ReplacementKubelet.Path,
		ReplacementKubeletSHA256: strings.ToLower(n.ReplacementKubelet.SHA256),
		StagedKubelet:            path.Join(n.JournalDir, "kubelet.nokmem"),
		CadvisorCommands:         n.CadvisorCommands,
		KubeletDownBudget:        r.KubeletDownBudget,
		HeadroomMargin:           n.HeadroomMargin,
		UnknownHeadroom:          n.HeadroomPolicy(),
		Cordon:                   r.Cordon,
	}
}

// inventoryNodes converts loaded inventory nodes.
func inventoryNodes(nodes []inventory.Node) []workflows.InventoryNode {
	out := make([]workflows.InventoryNode, len(nodes))
	for i, n := range nodes {
		out[i] = workflows.InventoryNode{Name: n.Name, Address: n.Address, Port: n.Port, User: n.User, Labels: n.Labels}
	}
	return out
}

// rolloutInput builds the rollout workflow's input from a checked plan.
// A dry run is a survey: every node is inspected and nothing changes.
func rolloutInput(cfg *config.Config, p *plan, id string) (*workflows.RolloutInput, error) {
	r := p.Spec.Rollout
	in := &workflows.RolloutInput{
		RolloutID:   id,
		Mode:        workflows.ModeRemediate,
		Inventory:   inventoryNodes(p.Nodes),
		Concurrency: []int{r.Concurrency},
		SoakTime:    r.Soak,
		Settings:    nodeSettings(cfg, r),
	}
	if p.Spec.DryRun {
		in.Mode = workflows.ModeSurvey
	}
	for _, s := range r.Waves {
		w, err := workflows.ParseWaveSize(s)
		if err != nil {
			return nil, err
		}
		in.Waves = append(in.Waves, w)
	}
	budget, err := workflows.ParseFailureBudget(r.FailureBudget)
	if err != nil {
		return nil, err
	}
	budget.CountUnreachable = r.CountUnreachable
	in.FailureBudget = budget
	in.HealthGate = healthGate(r.HealthGate)
	if r.MaintenanceWindow.Set() {
		in.Window = &workflows.MaintenanceWindow{Start: r.MaintenanceWindow.Start, Duration: r.MaintenanceWindow.Length(), Days: r.MaintenanceWindow.Days}
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("the rollout input is not valid: %w", err)
	}
	return in, nil
}

func healthGate(g config.HealthGate) *activities.HealthGate {
	switch g.Type {
	case config.GateHTTP:
		return &activities.HealthGate{HTTP: &activities.HTTPProbe{URL: g.URL}}
	case config.GateCommand:
		return &activities.HealthGate{Command: &activities.CommandProbe{Argv: g.Argv, Sample: g.Sample}}
	case config.GatePrometheus:
		return &activities.HealthGate{Prometheus: &activities.PrometheusProbe{URL: g.URL, Query: g.Query}}
	}
	return nil
}
