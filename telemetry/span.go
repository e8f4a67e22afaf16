package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
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

// TraceSSH runs fn as one SSH phase (PhaseDial, PhaseHandshake, PhaseExec)
// on node: in a span "ssh.<phase>" under ctx's span, timed into
// kmemfix_ssh_duration_seconds, and, when fn fails, counted in
// kmemfix_ssh_errors_total under classify(err) ("error" if classify is nil
// or says ""). m may be nil: the span is still made.
func (m *Metrics) TraceSSH(ctx context.Context, phase, node string, classify func(error) string, fn func(context.Context) error) error {
	ctx, span := StartSpan(ctx, "ssh."+phase, "node", node)
	start := time.Now()
	err := fn(ctx)
	class := ""
	if err != nil {
		if classify != nil {
			class = classify(err)
		}
		if class == "" {
			class = "error"
		}
		span.SetAttributes(attribute.String("error.class", class))
	}
	m.SSH(ctx, phase, time.Since(start), class)
	End(span, err)
	return err
}
