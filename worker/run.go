package worker

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/kube"
	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/telemetry"
	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/workflows"
)

// Run is the production worker: it connects to Temporal, opens the SSH
// pool, and serves the kmemfix task queue until ctx is done (the caller
// cancels it on SIGTERM/SIGINT). Then running activities get
// worker.stopTimeout to finish before they are cancelled.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	if err := cfg.CheckFiles(); err != nil {
		return err
	}
	helpers, err := findHelpers(helperBinDir(cfg))
	if err != nil {
		return err
	}
	tel, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: cfg.Telemetry.ServiceName, ServiceVersion: node.Version,
		OTLPEndpoint: cfg.Telemetry.OTLPEndpoint, OTLPInsecure: cfg.Telemetry.OTLPInsecure})
	if err != nil {
		return err
	}
	defer func() { _ = tel.Shutdown(context.WithoutCancel(ctx)) }()
	// Records logged with a context carry the rollout, node, step and trace.
	logger = slog.New(telemetry.WrapLogHandler(logger.Handler()))
	tcfg, err := transportConfig(cfg, logger)
	if err != nil {
		return err
	}
	pool, err := transport.New(tcfg)
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	defer pool.Close()
	if err := tel.ObserveSSHPool(pool.Stats); err != nil {
		return err
	}
	shell, err := newSSHShell(pool, cfg, helpers)
	if err != nil {
		return err
	}
	shell.tracer = tel.Metrics
	opts, err := ClientOptions(cfg, logger)
	if err != nil {
		return err
	}
	if err := tel.Apply(&opts); err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	c, err := dial(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	if cfg.Worker.MetricsAddress != "" {
		stop, err := serveMetrics(ctx, cfg.Worker.MetricsAddress, tel.Handler(), logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	acts, err := newActivities(cfg, shell, kube.NewClient, logger)
	if err != nil {
		return err
	}
	return Serve(ctx, c, cfg, acts, logger)
}

// newActivities gathers the activities' dependencies: the node shell, the
// error classifier, the health gate's HTTP client and, when Kubernetes
// access is configured, the cordoner.
func newActivities(cfg *config.Config, shell activities.NodeShell, newKube KubeClientFunc, logger *slog.Logger) (*activities.Activities, error) {
	cordoner, err := newCordoner(cfg, newKube, logger)
	if err != nil {
		return nil, err
	}
	return &activities.Activities{Shell: shell, Classifier: classifier{}, HTTP: &http.Client{Timeout: cfg.Rollout.HealthGate.Timeout},
		Cordoner: cordoner}, nil
}

// Serve runs a worker on c with the given activities until ctx is done,
// then stops it gracefully. Tests call it with fake activities' shells.
func Serve(ctx context.Context, c client.Client, cfg *config.Config, acts *activities.Activities, logger *slog.Logger) error {
	opts := sdkworker.Options{
		MaxConcurrentActivityExecutionSize: cfg.Worker.MaxConcurrentActivities,
		TaskQueueActivitiesPerSecond:       cfg.Worker.ActivitiesPerSecond,
		WorkerStopTimeout:                  cfg.Worker.StopTimeout,
		BackgroundActivityContext:          context.WithoutCancel(ctx),
	}
	w := sdkworker.New(c, cfg.Temporal.TaskQueue, opts)
	Register(w, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on task queue %s: %w", cfg.Temporal.TaskQueue, err)
	}
	logger.Info("kmemfix worker started", "taskQueue", cfg.Temporal.TaskQueue, "namespace", cfg.Temporal.Namespace,
		"address", cfg.Temporal.Address, "maxConcurrentActivities", opts.MaxConcurrentActivityExecutionSize,
		"activitiesPerSecond", opts.TaskQueueActivitiesPerSecond)
	<-ctx.Done()
	logger.Info("stopping the worker: running steps may finish", "stopTimeout", cfg.Worker.StopTimeout)
	start := time.Now()
	w.Stop()
	logger.Info("kmemfix worker stopped", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Register registers every kmemfix workflow and activity on r.
func Register(r sdkworker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.NodeWorkflow, workflow.RegisterOptions{Name: workflows.NodeWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.RolloutWorkflow, workflow.RegisterOptions{Name: workflows.RolloutWorkflowName})
	r.RegisterActivity(acts)
}

func helperBinDir(cfg *config.Config) string {
	if cfg.Worker.HelperBinDir != "" {
		return cfg.Worker.HelperBinDir
	}
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	return filepath.Dir(exe)
}

// transportConfig turns the ssh section into the pool's configuration.
func transportConfig(cfg *config.Config, logger *slog.Logger) (transport.Config, error) {
	s := cfg.SSH
	pass, err := s.Passphrase()
	if err != nil {
		return transport.Config{}, err
	}
	tc := transport.Config{
		KnownHostsFiles:       s.KnownHosts,
		InsecureIgnoreHostKey: s.InsecureIgnoreHostKey,
		KeyFiles:              s.KeyFiles,
		UseAgent:              s.Agent,
		DialTimeout:           s.DialTimeout,
		MaxConns:              s.MaxConns,
		HandshakesPerSecond:   s.HandshakesPerSecond,
		Logger:                logger.With("component", "ssh"),
	}
	if pass != "" {
		tc.KeyPassphrase = func(string) ([]byte, error) { return []byte(pass.Reveal()), nil }
	}
	if s.InsecureIgnoreHostKey {
		logger.Warn("ssh.insecureIgnoreHostKey is on: any host key is accepted, a man in the middle would not be noticed; use it in labs only")
	}
	return tc, nil
}
