package fleet

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/transport"
)

// BenchmarkInspectFleet is issue 4's benchmark: 1,000 simulated nodes
// (KMEMFIX_BENCH_NODES overrides), the real helper's inspect on every one
// through the transport pool, at most 100 calls at a time. Each iteration
// sweeps the whole fleet. conns=100 caps open connections at 100: with
// 1,000 nodes every call needs a new handshake. conns=all-reused keeps one
// per node, dialled before the clock starts. It reports handshakes/s,
// p50/p99 per call and the process's peak resident memory (VmHWM: fleet,
// simulated kernels and client together).
//
//	go test ./sim/fleet -run '^$' -bench InspectFleet -benchtime 1x
//
// KMEMFIX_BENCH_LATENCY=20ms adds that much before each handshake and
// each exec on the node side, as a network and a busy sshd would.
//
// The loop is the transport's Sweep. The helper file on each node is a
// small stand-in whose sha256 the fleet accepts, installed before the
// clock starts (exec runs helper.Main in-process either way): this
// measures inspect calls, not uploads; TestRealHelperBuild covers the real
// build going up through the transport.
func BenchmarkInspectFleet(b *testing.B) {
	nodes := benchNodes()
	b.Run("conns=100", func(b *testing.B) { inspectFleet(b, nodes, 100, false) })
	// Every node keeps its connection: after a first sweep that dials
	// (not measured), calls reuse connections and no handshake happens.
	b.Run("conns=all-reused", func(b *testing.B) { inspectFleet(b, nodes, nodes, true) })
}

func benchNodes() int {
	if s := os.Getenv("KMEMFIX_BENCH_NODES"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 1000
}

// inspectFleet sweeps inspect over every node b.N times, concurrency 100,
// with at most maxConns open connections.
func inspectFleet(b *testing.B, nodes, maxConns int, warm bool) {
	const concurrency = 100
	spec := NodeSpec{Containers: 20, KubeletVersion: "1.12.3"}
	if s := os.Getenv("KMEMFIX_BENCH_LATENCY"); s != "" { // e.g. 20ms: a network between worker and nodes
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("KMEMFIX_BENCH_LATENCY=%q: %v", s, err)
		}
		spec.HandshakeLatency, spec.ExecLatency = d, d
	}
	f, err := Start(context.Background(), Options{Nodes: nodes, Helper: helper.Main, HelperSHA256s: []string{sum(fakeBuild)}, Defaults: spec})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	files, err := f.WriteFiles(b.TempDir(), "")
	if err != nil {
		b.Fatal(err)
	}
	installHelper(b, f, fakeBuild)
	p := transportPool(b, files, func(c *transport.Config) {
		c.MaxConns = maxConns
		c.HandshakesPerSecond = 100000 // measure the fleet and the client, not the limiter
	})
	if warm {
		for _, n := range f.Nodes() {
			if _, err := p.Exec(context.Background(), target(n), []string{"true"}, transport.ExecOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	var targets []transport.Target
	for _, n := range f.Nodes() {
		targets = append(targets, target(n))
	}
	argv := []string{helperPath, "inspect"}
	var (
		mu       sync.Mutex
		failures int
	)
	each := func(tg transport.Target, res transport.Result, err error) {
		if err != nil || res.ExitCode != 0 {
			mu.Lock()
			defer mu.Unlock()
			if failures++; failures == 1 {
				b.Errorf("%s: exit %d err %v stderr %q", tg.Name, res.ExitCode, err, res.Stderr)
			}
		}
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	var rep transport.SweepReport
	for range b.N {
		rep = p.Sweep(context.Background(), targets, argv, concurrency, each) // the last sweep is reported
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(rep.HandshakesPerSecond, "handshakes/s")
	b.ReportMetric(float64(rep.Calls)/rep.Wall.Seconds(), "calls/s")
	b.ReportMetric(float64(rep.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(rep.P99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(rep.PeakRSSBytes)/(1<<20), "peak-MB")
	// CPU per call (fleet and client together) does not depend on how busy
	// a shared machine is, unlike the wall-clock figures.
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(rep.Calls*b.N), "cpu-ms/call")
	b.ReportMetric(float64(failures), "failures")
	b.Logf("%d nodes, %d calls in %v, %d handshakes, peak %d open connections, %d goroutines at the end",
		nodes, rep.Calls, rep.Wall.Round(time.Millisecond), rep.Handshakes, p.Stats().PeakOpen, runtime.NumGoroutine())
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
