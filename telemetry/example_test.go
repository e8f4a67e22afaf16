package telemetry_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kmemfix/kmemfix/telemetry"
	"github.com/kmemfix/kmemfix/transport"
)

// How the worker process wires telemetry: providers first, then the
// Temporal client options, the worker, /metrics and the SSH pool.
func Example() {
	ctx := context.Background()
	tel, err := telemetry.Setup(ctx, telemetry.Config{
		ServiceName:    "kmemfix-worker",
		ServiceVersion: "v1.2.3",
		OTLPEndpoint:   os.Getenv("KMEMFIX_TELEMETRY_OTLPENDPOINT"), // "" exports no traces
	})
	if err != nil {
		panic(err)
	}
	defer tel.Shutdown(context.Background())
	logger := slog.New(telemetry.NewLogHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	opts := client.Options{HostPort: "127.0.0.1:7233", Namespace: "default"}
	if err := tel.Apply(&opts); err != nil { // tracing + step metrics interceptors, SDK metrics
		panic(err)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		logger.ErrorContext(ctx, "connect to Temporal", "err", err)
		return
	}
	defer c.Close()
	w := worker.New(c, "kmemfix", worker.Options{}) // the interceptors come from the client
	_ = w

	var pool interface{ Stats() transport.Stats } // the worker's *transport.Pool
	if pool != nil {
		_ = tel.ObserveSSHPool(pool.Stats)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", tel.Handler())
	srv := &http.Server{Addr: "127.0.0.1:9090", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	_ = srv
}

// In the node workflow, at its end: counted once however often the history
// is replayed.
func ExampleRecordNode() {
	nodeWorkflowEnd := func(ctx workflow.Context, outcome string, kubeletDown time.Duration) {
		telemetry.RecordNode(workflow.GetMetricsHandler(ctx), outcome, kubeletDown)
	}
	_ = nodeWorkflowEnd
}

// In the worker's SSH shell, around one helper run.
func ExampleMetrics_TraceSSH() {
	var m *telemetry.Metrics // tel.Metrics
	ctx := context.Background()
	classify := func(err error) string { return transport.Classify(err).String() }
	_ = m.TraceSSH(ctx, telemetry.PhaseExec, "node-7", classify, func(ctx context.Context) error {
		// res, err = pool.Exec(ctx, target, argv, opts); return err
		return nil
	})
}
