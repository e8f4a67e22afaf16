// Package starter is the kmemfix command line: configuration, fleet
// rollouts, surveys, single-node runs, the embedded dev server and the
// simulated fleet. Each command group lives in its own file; the commands
// talk to Temporal through the same workflows, updates and queries an
// operator sees in the Temporal UI.
package starter

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/worker"
)

// Command returns the root `kmemfix` command with every subcommand.
func Command() *cobra.Command {
	a := &app{}
	root := &cobra.Command{
		Use:   "kmemfix",
		Short: "Repair the kmem-accounting memory-cgroup leak on Kubernetes nodes without a reboot",
		Long: `kmemfix repairs the kmem-accounting memory-cgroup leak of CentOS 7 / kernel 3.10
Kubernetes nodes without a reboot. Each node runs a nine-step procedure as a
Temporal workflow; a rollout runs them in waves you can pause, resume and abort
from here or from the Temporal UI.

Configuration: --config FILE (or $KMEMFIX_CONFIG), KMEMFIX_* environment
variables and the flags below, in the order flags > environment > file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "configuration file (YAML; default $KMEMFIX_CONFIG, else built-in defaults)")
	config.RegisterFlags(pf)
	root.AddCommand(
		newConfigCommand(a),
		newRolloutCommand(a),
		newSurveyCommand(a),
		newNodeCommand(a),
		newDevCommand(a),
		newSimCommand(a),
		newDemoCommand(a),
	)
	return root
}

// app is what every command shares: the configuration flags and, once
// loaded, the configuration.
type app struct {
	configPath string
	cfg        *config.Config
}

// config loads and validates the configuration once per invocation.
func (a *app) config(cmd *cobra.Command) (*config.Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	cfg, err := config.Load(a.configPath, cmd.Flags())
	if err != nil {
		return nil, err
	}
	a.cfg = cfg
	return cfg, nil
}

// logger writes the CLI's own logs to stderr, as the configuration says.
func (a *app) logger(cmd *cobra.Command, cfg *config.Config) *slog.Logger {
	return cfg.Telemetry.NewLogger(cmd.ErrOrStderr())
}

// client dials Temporal. The SDK's own logs are kept to warnings so they
// do not drown the command's output.
func (a *app) client(cmd *cobra.Command) (client.Client, *config.Config, error) {
	cfg, err := a.config(cmd)
	if err != nil {
		return nil, nil, err
	}
	quiet := cfg.Telemetry
	quiet.LogLevel = "warn"
	c, err := worker.Dial(cmd.Context(), cfg, quiet.NewLogger(cmd.ErrOrStderr()))
	if err != nil {
		return nil, nil, err
	}
	return c, cfg, nil
}

// workflowURL is the Temporal UI page of a workflow, or "" without a UI.
func workflowURL(cfg *config.Config, workflowID string) string {
	if cfg.Temporal.UIAddress == "" {
		return ""
	}
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", cfg.Temporal.UIAddress, cfg.Temporal.Namespace, workflowID)
}

// Main runs the command line with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := Command() //nolint:contextcheck // commands get ctx through cmd.Context(), set by ExecuteContext below
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "kmemfix: %v\n", err)
		return exitCode(err)
	}
	return 0
}
