package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/kmemfix/kmemfix/telemetry"
	"github.com/kmemfix/kmemfix/transport"
)

func TestLogHandlerAddsContext(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{SpanExporter: spans})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	var buf bytes.Buffer
	log := slog.New(telemetry.NewLogHandler(&buf, nil)).With("component", "test")

	ctx := telemetry.WithStep(telemetry.WithNode(telemetry.WithRollout(context.Background(), "kmemfix-rollout-r1"), "node-7"), "move")
	ctx, span := tel.TracerProvider.Tracer("t").Start(ctx, "parent")
	log.InfoContext(ctx, "moved", "pids", 12)
	span.End()
	log.Info("no context") // slog passes context.Background: nothing added

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal(lines[0], &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"rollout": "kmemfix-rollout-r1", "node": "node-7", "step": "move", "component": "test",
		"trace_id": span.SpanContext().TraceID().String(), "span_id": span.SpanContext().SpanID().String(), "pids": float64(12)}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	rec = nil
	if err := json.Unmarshal(lines[1], &rec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rollout", "node", "step", "trace_id"} {
		if _, ok := rec[k]; ok {
			t.Errorf("a line without context has %s", k)
		}
	}
}

func TestStartSpanJoinsTheParentsProvider(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{SpanExporter: spans})
	if err != nil {
		t.Fatal(err)
	}
	ctx, parent := tel.TracerProvider.Tracer("t").Start(context.Background(), "activity")
	_, child := telemetry.StartSpan(ctx, "ssh.exec", "node", "n1", "dangling")
	telemetry.End(child, nil)
	parent.End()
	// Without a parent span, StartSpan uses the global provider (a no-op
	// unless SetGlobal was called): nothing is exported, nothing breaks.
	_, orphan := telemetry.StartSpan(context.Background(), "orphan")
	telemetry.End(orphan, context.DeadlineExceeded)
	if err := tel.TracerProvider.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	got := spans.GetSpans()
	if len(got) != 2 || got[0].Name != "ssh.exec" || got[0].Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("spans = %v", got.Snapshots())
	}
	if len(got[0].Attributes) != 1 || got[0].Attributes[0].Value.AsString() != "n1" {
		t.Errorf("attributes = %v, want node=n1 only (the dangling key dropped)", got[0].Attributes)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *telemetry.Metrics
	ctx := context.Background()
	m.SSH(ctx, telemetry.PhaseDial, time.Second, "unreachable")
	m.Step(ctx, "inspect", time.Second, "ok")
	m.NodesInFlight(ctx, 1)
	telemetry.RecordNode(nil, "remediated", time.Second)
}

func TestSetupWithOTLPEndpoints(t *testing.T) {
	for _, ep := range []string{"127.0.0.1:4317", "http://127.0.0.1:4318", "https://collector.example:4318/v1/traces"} {
		tel, err := telemetry.Setup(context.Background(), telemetry.Config{OTLPEndpoint: ep, OTLPInsecure: true})
		if err != nil {
			t.Errorf("%s: %v", ep, err)
			continue
		}
		// Nothing listens: shutting down must not hang past its bound.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = tel.Shutdown(ctx)
		cancel()
	}
	if _, err := telemetry.Setup(context.Background(), telemetry.Config{OTLPEndpoint: "http://[::1"}); err == nil {
		t.Error("a malformed OTLP URL was accepted")
	}
}

func TestObserveSSHPool(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	stats := transport.Stats{Handshakes: 7, Dials: 5, Reused: 40, Open: 3, PeakOpen: 9}
	if err := tel.ObserveSSHPool(func() transport.Stats { return stats }); err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		rec := httptest.NewRecorder()
		tel.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	body := scrape()
	for _, want := range []string{"kmemfix_ssh_pool_handshakes_total 7", "kmemfix_ssh_pool_dials_total 5",
		"kmemfix_ssh_pool_reused_total 40", "kmemfix_ssh_pool_open 3", "kmemfix_ssh_pool_peak_open 9"} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	stats.Handshakes, stats.Open = 8, 1 // read again at the next scrape
	body = scrape()
	if !strings.Contains(body, "kmemfix_ssh_pool_handshakes_total 8\n") || !strings.Contains(body, "kmemfix_ssh_pool_open 1\n") {
		t.Errorf("a second scrape did not read the pool again:\n%s", grep(body, "kmemfix_ssh_pool"))
	}
}
