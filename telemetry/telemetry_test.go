package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

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
	m.Step(ctx, "x", 0, "ok")
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

func TestTraceSSH(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{SpanExporter: spans, MetricReaders: []sdkmetric.Reader{reader}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	ctx, parent := tel.TracerProvider.Tracer("t").Start(context.Background(), "RunActivity:inspect")
	refused := errors.New("connection refused")
	classify := func(err error) string {
		if errors.Is(err, refused) {
			return "unreachable"
		}
		return ""
	}
	var inner bool
	if err := tel.Metrics.TraceSSH(ctx, telemetry.PhaseExec, "n1", classify, func(ctx context.Context) error {
		inner = trace.SpanFromContext(ctx).SpanContext().IsValid()
		return nil
	}); err != nil || !inner {
		t.Fatalf("TraceSSH = %v, span in fn's context %v", err, inner)
	}
	if err := tel.Metrics.TraceSSH(ctx, telemetry.PhaseDial, "n2", classify, func(context.Context) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("TraceSSH returned %v, want fn's error", err)
	}
	_ = tel.Metrics.TraceSSH(ctx, telemetry.PhaseHandshake, "n3", nil, func(context.Context) error { return errors.New("eof") })
	parent.End()
	_ = tel.TracerProvider.ForceFlush(context.Background())

	names := map[string]tracetest.SpanStub{}
	for _, s := range spans.GetSpans() {
		names[s.Name] = s
	}
	for _, n := range []string{"ssh.exec", "ssh.dial", "ssh.handshake"} {
		if s, ok := names[n]; !ok || s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %s missing or not under the activity", n)
		}
	}
	if names["ssh.dial"].Status.Code != codes.Error || names["ssh.exec"].Status.Code == codes.Error {
		t.Errorf("statuses: dial %v, exec %v", names["ssh.dial"].Status, names["ssh.exec"].Status)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	errs := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "kmemfix.ssh.errors" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				p, _ := dp.Attributes.Value("phase")
				c, _ := dp.Attributes.Value("class")
				errs[p.AsString()+"/"+c.AsString()] += dp.Value
			}
		}
	}
	if len(errs) != 2 || errs["dial/unreachable"] != 1 || errs["handshake/error"] != 1 {
		t.Errorf("ssh errors = %v, want dial/unreachable 1 and handshake/error 1", errs)
	}
}
