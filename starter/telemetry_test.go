package starter

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/kmemfix/kmemfix/telemetry"
	"github.com/kmemfix/kmemfix/workflows"
)

// spanRecorder keeps every exported span, also after Shutdown (the
// in-memory exporter of tracetest forgets them there).
type spanRecorder struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (r *spanRecorder) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, spans...)
	return nil
}

func (r *spanRecorder) Shutdown(context.Context) error { return nil }

func (r *spanRecorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.spans {
		out = append(out, s.Name())
	}
	return out
}

// TestRolloutStartIsTheTraceRoot: with telemetry.otlpEndpoint set, the
// CLI's Temporal client traces, and the StartWorkflow span of the rollout
// is exported (flushed before the command returns), under the CLI's own
// service name. Without an endpoint no telemetry is set up.
func TestRolloutStartIsTheTraceRoot(t *testing.T) {
	h := newHarness(t)
	rec := &spanRecorder{}
	setups := 0
	setup := func(ctx context.Context, c telemetry.Config) (*telemetry.Telemetry, error) {
		setups++
		if c.OTLPEndpoint != "127.0.0.1:4317" {
			t.Errorf("telemetry endpoint %q, want the configured one", c.OTLPEndpoint)
		}
		c.SpanExporter = rec
		return telemetry.Setup(ctx, c)
	}
	code, out, errOut := run(t, &app{newTelemetry: setup}, "--config", h.config, "rollout", "start", "-f", h.spec, "--name", "untraced")
	if code != 0 || setups != 0 {
		t.Fatalf("without an endpoint: exit %d, %d telemetry setups, want 0 and 0\n%s%s", code, setups, out, errOut)
	}

	body, err := os.ReadFile(h.config)
	if err != nil {
		t.Fatal(err)
	}
	traced := h.config + ".traced.yaml"
	write(t, traced, string(body)+"telemetry:\n  otlpEndpoint: 127.0.0.1:4317\n  otlpInsecure: true\n")
	code, out, errOut = run(t, &app{newTelemetry: setup}, "--config", traced, "rollout", "start", "-f", h.spec, "--name", "traced")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want := "StartWorkflow:" + workflows.RolloutWorkflowName
	var root sdktrace.ReadOnlySpan
	rec.mu.Lock()
	for _, s := range rec.spans {
		if s.Name() == want {
			root = s
		}
	}
	rec.mu.Unlock()
	if root == nil {
		t.Fatalf("no %s span among %v", want, rec.names())
	}
	if root.Parent().IsValid() {
		t.Errorf("%s has a parent: it should be the root of the rollout's trace", want)
	}
	var service string
	for _, kv := range root.Resource().Attributes() {
		if kv.Key == semconv.ServiceNameKey {
			service = kv.Value.AsString()
		}
	}
	if service != "kmemfix-cli" {
		t.Errorf("service.name %q, want kmemfix-cli", service)
	}
	if !strings.Contains(strings.Join(rec.names(), " "), "StartWorkflow") || setups != 1 {
		t.Errorf("spans %v after %d setups", rec.names(), setups)
	}
}
