package telemetry

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"
)

type logKey int

const (
	rolloutKey logKey = iota
	nodeKey
	stepKey
)

// WithRollout, WithNode and WithStep put what a log line is about into ctx;
// the handler of NewLogHandler writes them on every record logged with ctx.
func WithRollout(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, rolloutKey, id)
}

// WithNode: see WithRollout.
func WithNode(ctx context.Context, node string) context.Context {
	return context.WithValue(ctx, nodeKey, node)
}

// WithStep: see WithRollout.
func WithStep(ctx context.Context, step string) context.Context {
	return context.WithValue(ctx, stepKey, step)
}

// NewLogHandler is a JSON slog handler that adds to each record logged with
// a context (logger.InfoContext(ctx, ...)): rollout, node and step from
// WithRollout/WithNode/WithStep, the step from the running activity when
// none was set, and trace_id/span_id of the current span, so a line links
// to its trace.
func NewLogHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	return WrapLogHandler(slog.NewJSONHandler(w, opts))
}

// WrapLogHandler adds the same context attributes to any handler (the text
// handler of telemetry.logFormat: text, say).
func WrapLogHandler(next slog.Handler) slog.Handler {
	return contextHandler{next}
}

type contextHandler struct{ next slog.Handler }

func (h contextHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.next.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.next.WithGroup(name)}
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		r.AddAttrs(contextAttrs(ctx)...)
	}
	return h.next.Handle(ctx, r)
}

func contextAttrs(ctx context.Context) []slog.Attr {
	var out []slog.Attr
	add := func(key string, v any) {
		if s, _ := v.(string); s != "" {
			out = append(out, slog.String(key, s))
		}
	}
	add("rollout", ctx.Value(rolloutKey))
	add("node", ctx.Value(nodeKey))
	step := ctx.Value(stepKey)
	if step == nil && activity.IsActivity(ctx) {
		step = activity.GetInfo(ctx).ActivityType.Name
	}
	add("step", step)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		out = append(out, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return out
}
