package telemetry

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// StartSpan starts a child of the span in ctx (in an activity, the span the
// tracing interceptor started for it), on the same TracerProvider, so the
// child joins the rollout's trace without any global. kv are attribute
// key/value pairs: StartSpan(ctx, "ssh.exec", "node", n, "command", argv[1]).
// End it with End.
func StartSpan(ctx context.Context, name string, kv ...string) (context.Context, trace.Span) {
	tp := otel.GetTracerProvider()
	if parent := trace.SpanFromContext(ctx); parent.SpanContext().IsValid() {
		tp = parent.TracerProvider()
	}
	return tp.Tracer(instrumentationName).Start(ctx, name, trace.WithAttributes(attrs(kv...)...))
}

// End ends span, recording err (if any) as the span's error status.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// SetAttributes adds key/value string attributes to the span in ctx.
func SetAttributes(ctx context.Context, kv ...string) {
	trace.SpanFromContext(ctx).SetAttributes(attrs(kv...)...)
}
