package starter

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/workflows"
)

// TestRolloutInputCarriesSettingsButNoSecret builds the workflow input from
// a configuration holding secrets: everything the nodes need is there, no
// secret is (workflow inputs are stored in Temporal's history and shown in
// its UI).
func TestRolloutInputCarriesSettingsButNoSecret(t *testing.T) {
	const apiKey, passphrase = "tmprl-api-key-very-secret", "my-ssh-passphrase"
	cfg := config.Default()
	cfg.Temporal.APIKey, cfg.SSH.KeyPassphrase = config.Secret(apiKey), config.Secret(passphrase)
	cfg.Node.ReplacementKubelet = config.Artifact{Path: "/srv/kubelet-nokmem", SHA256: strings.Repeat("AB", 32)}
	cfg.Node.CadvisorCommands = [][]string{{"systemctl", "restart", "cadvisor"}}
	cfg.Node.UnknownHeadroom = "refuse"
	cfg.Rollout.HealthGate = config.HealthGate{Type: config.GatePrometheus, URL: "http://prom:9090", Query: `ALERTS{severity="critical"}`, Timeout: 10 * time.Second}
	cfg.Rollout.MaintenanceWindow = config.MaintenanceWindow{Start: "22:00", End: "04:00", Days: []string{"mon"}}
	inv, _ := filepath.Abs("testdata/nodes.yaml")
	f := &startFlags{}
	fs := pflag.NewFlagSet("start", pflag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse([]string{"--inventory", inv, "--waves", "1,50%,100%", "--failure-budget", "3", "--soak", "90s"}); err != nil {
		t.Fatal(err)
	}
	p, err := loadPlan(&cfg, f, fs)
	if err != nil {
		t.Fatal(err)
	}
	in, err := rolloutInput(&cfg, p, "kmemfix-rollout-x")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(in)
	if s := string(js); strings.Contains(s, apiKey) || strings.Contains(s, passphrase) {
		t.Fatalf("a secret reached the workflow input: %s", s)
	}
	st := in.Settings
	if st.ReplacementKubeletSHA256 != strings.Repeat("ab", 32) || st.UnknownHeadroom != workflows.UnknownHeadroomSkip ||
		st.KubeletDownBudget != cfg.Rollout.KubeletDownBudget || len(st.CadvisorCommands) != 1 {
		t.Errorf("settings %+v", st)
	}
	if len(in.Inventory) != 4 || in.SoakTime != 90*time.Second || in.FailureBudget.Count != 3 || len(in.Waves) != 3 {
		t.Errorf("input %+v", in)
	}
	if in.HealthGate == nil || in.HealthGate.Prometheus == nil || in.Window == nil || in.Window.Duration != 6*time.Hour {
		t.Errorf("gate %+v window %+v", in.HealthGate, in.Window)
	}
}

// TestCordonReachesTheNodeSettings: rollout.cordon from the config, the
// spec's cordon key and --cordon, each overriding the one before.
func TestCordonReachesTheNodeSettings(t *testing.T) {
	inv, _ := filepath.Abs("testdata/nodes.yaml")
	spec := filepath.Join(t.TempDir(), "rollout.yaml")
	cases := []struct {
		name   string
		config bool
		spec   string
		flags  []string
		want   bool
	}{
		{name: "config off", want: false},
		{name: "config on", config: true, want: true},
		{name: "spec turns it off", config: true, spec: "cordon: false\n", want: false},
		{name: "spec turns it on", spec: "cordon: true\n", want: true},
		{name: "flag over spec", spec: "cordon: false\n", flags: []string{"--cordon"}, want: true},
		{name: "flag off over config", config: true, flags: []string{"--cordon=false"}, want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Node.ReplacementKubelet = config.Artifact{Path: "/srv/kubelet-nokmem", SHA256: strings.Repeat("ab", 32)}
			cfg.Rollout.Cordon = tc.config
			f := &startFlags{}
			fs := pflag.NewFlagSet("start", pflag.ContinueOnError)
			f.register(fs)
			if err := fs.Parse(append([]string{"--inventory", inv}, tc.flags...)); err != nil {
				t.Fatal(err)
			}
			if tc.spec != "" {
				write(t, spec, tc.spec)
				f.file = spec
			}
			p, err := loadPlan(&cfg, f, fs)
			if err != nil {
				t.Fatal(err)
			}
			in, err := rolloutInput(&cfg, p, "kmemfix-rollout-x")
			if err != nil {
				t.Fatal(err)
			}
			if in.Settings.Cordon != tc.want {
				t.Errorf("Settings.Cordon = %v, want %v", in.Settings.Cordon, tc.want)
			}
		})
	}
}

// TestSingleNodeRemediationOwnsItsCordon: the cordon annotation needs an
// owner; a `node remediate` run is its own.
func TestSingleNodeRemediationOwnsItsCordon(t *testing.T) {
	cfg := config.Default()
	n := workflows.InventoryNode{Name: "node-001", Address: "10.0.0.1", Port: 22, User: "root"}
	id := workflows.NodeWorkflowID(n.Name)
	if in := nodeInput(&cfg, n, id, false); in.RolloutID != "" || in.Settings.Cordon {
		t.Errorf("cordon off: rolloutID %q cordon %v, want none", in.RolloutID, in.Settings.Cordon)
	}
	cfg.Rollout.Cordon = true
	if in := nodeInput(&cfg, n, id, false); in.RolloutID != id || !in.Settings.Cordon {
		t.Errorf("cordon on: rolloutID %q cordon %v, want %q and true", in.RolloutID, in.Settings.Cordon, id)
	}
	if in := nodeInput(&cfg, n, "inspect", true); in.RolloutID != "" {
		t.Errorf("an inspection cordons nothing, yet has owner %q", in.RolloutID)
	}
}
