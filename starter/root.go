// Package starter is the kmemfix command line: configuration, fleet
// rollouts, surveys, single-node runs, the embedded dev server and the
// simulated fleet. Each command group lives in its own file; the commands
// talk to Temporal through the same workflows, updates and queries an
// operator sees in the Temporal UI.
package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/kube"
	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/telemetry"
	"github.com/kmemfix/kmemfix/worker"
)

// Command returns the root `kmemfix` command with every subcommand.
func Command() *cobra.Command {
	return command(&app{newKube: kube.NewClient, newTelemetry: telemetry.Setup})
}

// command builds the command tree around a's dependencies; tests pass
// fakes (a fake clientset, an in-memory span exporter).
func command(a *app) *cobra.Command {
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
		newInventoryCommand(a),
		newNodeCommand(a),
		newDevCommand(a),
		newSimCommand(a),
		newDemoCommand(a),
	)
	return root
}

// app is what every command shares: the configuration flags, once loaded
// the configuration, and the constructors of what the commands talk to.
type app struct {
	configPath string
	cfg        *config.Config
	// newKube reaches the Kubernetes API (kube.NewClient).
	newKube worker.KubeClientFunc
	// newTelemetry sets up tracing when telemetry.otlpEndpoint is set
	// (telemetry.Setup).
	newTelemetry func(context.Context, telemetry.Config) (*telemetry.Telemetry, error)
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
// do not drown the command's output. With telemetry.otlpEndpoint set, the
// client traces what it starts, signals, updates and queries, so a
// rollout's trace begins at its StartWorkflow here; closing the client
// flushes the spans.
func (a *app) client(cmd *cobra.Command) (client.Client, *config.Config, error) {
	cfg, err := a.config(cmd)
	if err != nil {
		return nil, nil, err
	}
	quiet := cfg.Telemetry
	quiet.LogLevel = "warn"
	logger := quiet.NewLogger(cmd.ErrOrStderr())
	opts, err := worker.ClientOptions(cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	var tel *telemetry.Telemetry
	if cfg.Telemetry.OTLPEndpoint != "" {
		if tel, err = a.newTelemetry(cmd.Context(), telemetry.Config{ServiceName: cfg.Telemetry.ServiceName + "-cli", ServiceVersion: node.Version,
			OTLPEndpoint: cfg.Telemetry.OTLPEndpoint, OTLPInsecure: cfg.Telemetry.OTLPInsecure}); err != nil {
			return nil, nil, err
		}
		if err := tel.Apply(&opts); err != nil {
			return nil, nil, errors.Join(fmt.Errorf("telemetry: %w", err), tel.Shutdown(context.WithoutCancel(cmd.Context())))
		}
	}
	c, err := worker.DialOptions(cmd.Context(), cfg, opts)
	if err != nil {
		if tel != nil {
			err = errors.Join(err, tel.Shutdown(context.WithoutCancel(cmd.Context())))
		}
		return nil, nil, err
	}
	if tel == nil {
		return c, cfg, nil
	}
	return &tracedClient{Client: c, tel: tel, logger: logger}, cfg, nil
}

// tracedClient flushes and stops the CLI's telemetry when it is closed,
// so the spans of a command are exported before the process exits.
type tracedClient struct {
	client.Client
	tel    *telemetry.Telemetry
	logger *slog.Logger
}

func (c *tracedClient) Close() {
	c.Client.Close()
	// Close has no context: Shutdown bounds itself (5s), and it must run
	// even when the command's context was cancelled (Ctrl-C).
	if err := c.tel.Shutdown(context.Background()); err != nil {
		c.logger.Warn("telemetry: spans may be lost", "err", err)
	}
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
	return execute(ctx, Command(), args, stdout, stderr) //nolint:contextcheck // commands get ctx through cmd.Context(), set by ExecuteContext
}

func execute(ctx context.Context, cmd *cobra.Command, args []string, stdout, stderr io.Writer) int {
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "kmemfix: %v\n", err)
		return exitCode(err)
	}
	return 0
}
