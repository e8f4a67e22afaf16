package telemetry

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
)

// Metrics are kmemfix's own instruments on the worker side. A nil *Metrics
// records nothing, so code can hold one that telemetry was not set up for.
type Metrics struct {
	stepDuration metric.Float64Histogram
	inFlight     metric.Int64UpDownCounter
	sshDuration  metric.Float64Histogram
	sshErrors    metric.Int64Counter
}

// Buckets in seconds: steps and kubelet-down run from milliseconds (a
// no-op step) to minutes (moving thousands of cgroups); SSH phases from
// sub-millisecond to the dial timeout.
var (
	stepBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	sshBuckets  = []float64{0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	downBuckets = []float64{1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300}
	// The SDK's latencies (task schedule-to-start, poll, RPC) are short.
	sdkBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
)

// views give histograms recorded through the Temporal SDK's handler (which
// cannot choose buckets) boundaries that fit what they measure.
func views() []sdkmetric.View {
	buckets := func(b []float64) sdkmetric.Stream {
		return sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: b}}
	}
	return []sdkmetric.View{
		sdkmetric.NewView(sdkmetric.Instrument{Name: KubeletDownMetric}, buckets(downBuckets)),
		sdkmetric.NewView(sdkmetric.Instrument{Name: "temporal_*", Kind: sdkmetric.InstrumentKindHistogram}, buckets(sdkBuckets)),
	}
}

func newMetrics(m metric.Meter) (*Metrics, error) {
	var (
		out Metrics
		err error
		all []error
	)
	out.stepDuration, err = m.Float64Histogram("kmemfix.step.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of one node step (activity), by step and result."),
		metric.WithExplicitBucketBoundaries(stepBuckets...))
	all = append(all, err)
	out.inFlight, err = m.Int64UpDownCounter("kmemfix.nodes.in_flight",
		metric.WithDescription("Nodes with a step running in this worker now (a node runs one step at a time)."))
	all = append(all, err)
	out.sshDuration, err = m.Float64Histogram("kmemfix.ssh.duration", metric.WithUnit("s"),
		metric.WithDescription("Latency of SSH dial, handshake and exec, by phase."),
		metric.WithExplicitBucketBoundaries(sshBuckets...))
	all = append(all, err)
	out.sshErrors, err = m.Int64Counter("kmemfix.ssh.errors",
		metric.WithDescription("Failed SSH dials, handshakes and execs, by phase and error class."))
	all = append(all, err)
	for _, e := range all {
		if e != nil {
			return nil, fmt.Errorf("telemetry: instruments: %w", e)
		}
	}
	return &out, nil
}

// SSH phases.
const (
	PhaseDial      = "dial"
	PhaseHandshake = "handshake"
	PhaseExec      = "exec"
)

// SSH records one SSH phase's latency and, when class is not "", an error
// of that class (e.g. unreachable, auth-failed, host-key-mismatch).
func (m *Metrics) SSH(ctx context.Context, phase string, d time.Duration, class string) {
	if m == nil {
		return
	}
	m.sshDuration.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("phase", phase)))
	if class != "" {
		m.sshErrors.Add(ctx, 1, metric.WithAttributes(attribute.String("phase", phase), attribute.String("class", class)))
	}
}

// Step records a step's duration outside the interceptor (which times
// every activity itself); result is "ok", "error" or "canceled".
func (m *Metrics) Step(ctx context.Context, step string, d time.Duration, result string) {
	m.step(ctx, "", step, d, result)
}

func (m *Metrics) step(ctx context.Context, workflowType, step string, d time.Duration, result string) {
	if m == nil {
		return
	}
	m.stepDuration.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("step", step),
		attribute.String("result", result), attribute.String("workflow_type", workflowType)))
}

// nodesInFlight adds delta for the workflow type running the step: a node
// workflow runs one step at a time, so its count is the nodes being worked on.
func (m *Metrics) nodesInFlight(ctx context.Context, workflowType string, delta int64) {
	if m == nil {
		return
	}
	m.inFlight.Add(ctx, delta, metric.WithAttributes(attribute.String("workflow_type", workflowType)))
}

// Metric names recorded from workflow code through the SDK's handler.
const (
	NodesMetric       = "kmemfix.nodes"        // counter, tag outcome
	KubeletDownMetric = "kmemfix.kubelet_down" // timer: histogram in seconds
)

// RecordNode counts a node's outcome and, when kubelet was stopped, how
// long it was down. Call it from the node workflow at its end with
// workflow.GetMetricsHandler(ctx): the SDK drops it during replay, so a
// node counts once however often its history is replayed.
func RecordNode(h client.MetricsHandler, outcome string, kubeletDown time.Duration) {
	if h == nil {
		return
	}
	h.WithTags(map[string]string{"outcome": outcome}).Counter(NodesMetric).Inc(1)
	if kubeletDown > 0 {
		h.Timer(KubeletDownMetric).Record(kubeletDown)
	}
}
