package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kmemfix/kmemfix/internal/devserver/devservertest"
	"github.com/kmemfix/kmemfix/telemetry"
)

// A miniature of kmemfix's shape: a rollout workflow starts one child per
// node; each child runs a step activity that opens an ssh.exec span and
// records SSH metrics, then reports the node's outcome and kubelet-down time.
type fixture struct {
	metrics *telemetry.Metrics
	log     *slog.Logger
	// inFlight reads kmemfix.nodes.in_flight for node workflows; the step
	// records the highest value it saw while running.
	inFlight func() int64
	mu       sync.Mutex
	maxSeen  int64
}

func (f *fixture) rollout(ctx workflow.Context, nodes []string) (int, error) {
	var futures []workflow.ChildWorkflowFuture
	for _, n := range nodes {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: "node-" + n})
		futures = append(futures, workflow.ExecuteChildWorkflow(cctx, "node", n))
	}
	done := 0
	for _, fu := range futures {
		if err := fu.Get(ctx, nil); err == nil {
			done++
		}
	}
	return done, nil
}

func (f *fixture) node(ctx workflow.Context, node string) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	err := workflow.ExecuteActivity(ctx, "Step", node).Get(ctx, nil)
	outcome, down := "remediated", 3*time.Second
	if err != nil {
		outcome, down = "unreachable", 0
	}
	telemetry.RecordNode(workflow.GetMetricsHandler(ctx), outcome, down)
	return err
}

func (f *fixture) step(ctx context.Context, node string) error {
	ctx = telemetry.WithNode(ctx, node)
	sctx, span := telemetry.StartSpan(ctx, "ssh.exec", "node", node)
	var err error
	class := ""
	if node == "bad" {
		err, class = errors.New("dial tcp: connection refused"), "unreachable"
	}
	f.metrics.SSH(sctx, telemetry.PhaseExec, 20*time.Millisecond, class)
	f.log.InfoContext(sctx, "ran the helper")
	seen := f.inFlight()
	f.mu.Lock()
	f.maxSeen = max(f.maxSeen, seen)
	f.mu.Unlock()
	telemetry.End(span, err)
	return err
}

func TestRolloutIsOneTraceAndMetricsAddUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spans := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: "kmemfix-test", SpanExporter: spans, MetricReaders: []sdkmetric.Reader{reader}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())

	srv := devservertest.Start(t)
	opts := client.Options{Logger: quietLogger()}
	if err := tel.Apply(&opts); err != nil {
		t.Fatal(err)
	}
	c, err := srv.Dial(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var logs syncBuffer
	f := &fixture{metrics: tel.Metrics, log: slog.New(telemetry.NewLogHandler(&logs, nil)),
		inFlight: func() int64 { return inFlight(t, reader, "node") }}
	w := worker.New(c, "telemetry-test", worker.Options{})
	w.RegisterWorkflowWithOptions(f.rollout, workflow.RegisterOptions{Name: "rollout"})
	w.RegisterWorkflowWithOptions(f.node, workflow.RegisterOptions{Name: "node"})
	w.RegisterActivityWithOptions(f.step, activity.RegisterOptions{Name: "Step"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "rollout-1", TaskQueue: "telemetry-test"}, "rollout", []string{"n1", "n2", "bad"})
	if err != nil {
		t.Fatal(err)
	}
	var done int
	if err := run.Get(ctx, &done); err != nil || done != 2 {
		t.Fatalf("rollout = %d, %v; want 2 nodes done", done, err)
	}
	if err := tel.TracerProvider.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if f.maxSeen < 1 {
		t.Errorf("nodes in flight seen from inside a step = %d, want at least 1", f.maxSeen)
	}
	checkTrace(t, spans.GetSpans())
	checkMetrics(t, ctx, reader)
	checkPrometheus(t, tel)
	checkLogs(t, logs.String(), spans.GetSpans())
}

func checkTrace(t *testing.T, spans tracetest.SpanStubs) {
	t.Helper()
	byID := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID().String()] = s
	}
	trace := spans[0].SpanContext.TraceID()
	var execs int
	for _, s := range spans {
		if s.SpanContext.TraceID() != trace {
			t.Errorf("span %s is in trace %s, not the rollout's %s", s.Name, s.SpanContext.TraceID(), trace)
		}
		if s.Name != "ssh.exec" {
			continue
		}
		execs++
		// Walk up: ssh.exec -> RunActivity:Step -> ... -> RunWorkflow:node -> ... -> RunWorkflow:rollout.
		var chain []string
		for p := s; p.Parent.IsValid(); {
			parent, ok := byID[p.Parent.SpanID().String()]
			if !ok {
				t.Fatalf("parent %s of %s was not exported", p.Parent.SpanID(), p.Name)
			}
			chain = append(chain, parent.Name)
			p = parent
		}
		want := []string{"RunActivity:Step", "StartActivity:Step", "RunWorkflow:node", "StartChildWorkflow:node", "RunWorkflow:rollout", "StartWorkflow:rollout"}
		if strings.Join(chain, " <- ") != strings.Join(want, " <- ") {
			t.Errorf("ancestors of ssh.exec:\n got %v\nwant %v", chain, want)
		}
		if s.Name == "ssh.exec" && attr(s, "node") == "bad" && s.Status.Code.String() != "Error" {
			t.Errorf("the failed exec's span status is %v", s.Status)
		}
	}
	if execs != 3 {
		t.Errorf("%d ssh.exec spans, want 3 (one per node)", execs)
	}
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.AsString()
		}
	}
	return ""
}

func checkMetrics(t *testing.T, ctx context.Context, reader *sdkmetric.ManualReader) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	m := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, x := range sm.Metrics {
			m[x.Name] = x
		}
	}
	histCount := func(name string, match map[string]string) (count uint64, sum float64) {
		h, ok := m[name].Data.(metricdata.Histogram[float64])
		if !ok {
			t.Fatalf("%s is not a float histogram: %T", name, m[name].Data)
		}
		for _, dp := range h.DataPoints {
			if matches(dp.Attributes.ToSlice(), match) {
				count += dp.Count
				sum += dp.Sum
			}
		}
		return count, sum
	}
	sumInt := func(name string, match map[string]string) (v int64) {
		s, ok := m[name].Data.(metricdata.Sum[int64])
		if !ok {
			t.Fatalf("%s is not an int sum: %T", name, m[name].Data)
		}
		for _, dp := range s.DataPoints {
			if matches(dp.Attributes.ToSlice(), match) {
				v += dp.Value
			}
		}
		return v
	}
	if n, _ := histCount("kmemfix.step.duration", map[string]string{"step": "Step", "result": "ok"}); n != 2 {
		t.Errorf("step durations ok = %d, want 2", n)
	}
	if n, _ := histCount("kmemfix.step.duration", map[string]string{"step": "Step", "result": "error"}); n != 1 {
		t.Errorf("step durations error = %d, want 1", n)
	}
	if v := sumInt("kmemfix.nodes.in_flight", map[string]string{"workflow_type": "node"}); v != 0 {
		t.Errorf("nodes in flight after the rollout = %d, want 0", v)
	}
	if n, sum := histCount("kmemfix.ssh.duration", map[string]string{"phase": "exec"}); n != 3 || sum < 0.059 || sum > 0.061 {
		t.Errorf("ssh exec latencies: %d summing %.3fs, want 3 summing 0.060s", n, sum)
	}
	if v := sumInt("kmemfix.ssh.errors", map[string]string{"phase": "exec", "class": "unreachable"}); v != 1 {
		t.Errorf("ssh errors = %d, want 1", v)
	}
	if v := sumInt(telemetry.NodesMetric, map[string]string{"outcome": "remediated"}); v != 2 {
		t.Errorf("nodes remediated = %d, want 2", v)
	}
	if v := sumInt(telemetry.NodesMetric, map[string]string{"outcome": "unreachable"}); v != 1 {
		t.Errorf("nodes unreachable = %d, want 1", v)
	}
	if n, sum := histCount(telemetry.KubeletDownMetric, nil); n != 2 || sum != 6 {
		t.Errorf("kubelet down: %d observations summing %vs, want 2 summing 6s", n, sum)
	}
	if _, ok := m["temporal_workflow_completed"]; !ok {
		t.Errorf("no Temporal SDK metrics (temporal_workflow_completed) among %d metrics", len(m))
	}
}

func matches(kvs []attribute.KeyValue, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, a := range kvs {
			if string(a.Key) == k && a.Value.AsString() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func checkPrometheus(t *testing.T, tel *telemetry.Telemetry) {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`kmemfix_nodes_total{`, `outcome="remediated"`,
		`kmemfix_kubelet_down_seconds_bucket{`,
		`kmemfix_step_duration_seconds_count{result="ok",step="Step",workflow_type="node"} 2`,
		`kmemfix_ssh_errors_total{class="unreachable",phase="exec"} 1`,
		`kmemfix_nodes_in_flight{workflow_type="node"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// kubelet-down has buckets for seconds to minutes (a view), not the
	// SDK's defaults: both 3s observations fall in le="5" and none in le="2".
	down := grep(body, "kmemfix_kubelet_down_seconds_bucket")
	if !strings.Contains(down, `le="2"} 0`) || !strings.Contains(down, `le="5"} 2`) || !strings.Contains(down, `le="300"} 2`) {
		t.Errorf("kubelet-down buckets:\n%s", down)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grep(body, "kmemfix_"))
	}
}

func checkLogs(t *testing.T, logs string, spans tracetest.SpanStubs) {
	t.Helper()
	traceID := spans[0].SpanContext.TraceID().String()
	var lines int
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		lines++
		if rec["step"] != "Step" || rec["node"] == nil || rec["trace_id"] != traceID || rec["span_id"] == nil {
			t.Errorf("log line lacks step, node or the rollout's trace: %v", rec)
		}
	}
	if lines != 3 {
		t.Errorf("%d log lines, want 3", lines)
	}
}

func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func quietLogger() sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// inFlight reads the in-flight up-down counter for one workflow type.
func inFlight(t *testing.T, reader *sdkmetric.ManualReader, workflowType string) int64 {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Error(err)
		return 0
	}
	var v int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "kmemfix.nodes.in_flight" {
				for _, dp := range s.DataPoints {
					if wt, _ := dp.Attributes.Value("workflow_type"); wt.AsString() == workflowType {
						v += dp.Value
					}
				}
			}
		}
	}
	return v
}
