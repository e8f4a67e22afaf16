package telemetry

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// Apply adds the Temporal integrations to client options: the SDK's
// OpenTelemetry tracing interceptor (spans for workflows, child workflows,
// activities, signals, updates and queries, linked across processes through
// Temporal headers), the step metrics interceptor, and the SDK's metrics
// through this MeterProvider. Workers created from the client get the
// interceptors too.
func (t *Telemetry) Apply(opts *client.Options) error {
	tracing, err := opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{
		Tracer: t.TracerProvider.Tracer(instrumentationName),
	})
	if err != nil {
		return err
	}
	opts.Interceptors = append(opts.Interceptors, tracing, &stepInterceptor{metrics: t.Metrics})
	opts.MetricsHandler = opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
		Meter: t.MeterProvider.Meter("temporal-sdk"),
		// Counters as Prometheus counters (_total, rate() works), not gauges.
		UseMonotonicCounters: true,
	})
	return nil
}

// stepInterceptor times every activity (a node step) and counts the nodes
// with a step running. It is a client interceptor so that workers built from
// the client pick it up.
type stepInterceptor struct {
	interceptor.InterceptorBase
	metrics *Metrics
}

func (s *stepInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &stepInbound{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, metrics: s.metrics}
}

type stepInbound struct {
	interceptor.ActivityInboundInterceptorBase
	metrics *Metrics
}

func (s *stepInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	info := activity.GetInfo(ctx)
	step, wf := info.ActivityType.Name, info.WorkflowType.Name
	ctx = WithStep(ctx, step)
	s.metrics.nodesInFlight(ctx, wf, 1)
	start := time.Now()
	out, err := s.Next.ExecuteActivity(ctx, in)
	s.metrics.step(ctx, wf, step, time.Since(start), result(err))
	s.metrics.nodesInFlight(ctx, wf, -1)
	return out, err
}

func result(err error) string {
	var canceled *temporal.CanceledError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}
