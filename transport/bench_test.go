package transport_test

import (
	"context"
	"testing"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
)

// BenchmarkExecReused is one command on an open pooled connection to a real
// sshd: the per-step cost once a node's connection is up.
func BenchmarkExecReused(b *testing.B) {
	l := newBenchLab(b)
	p := l.pool(nil)
	ctx := context.Background()
	if _, err := p.Exec(ctx, benchTarget(l), []string{"true"}, transport.ExecOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Exec(ctx, benchTarget(l), []string{"true"}, transport.ExecOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDialExec is a fresh connection (TCP, handshake, auth) plus one
// command, against a real sshd.
func BenchmarkDialExec(b *testing.B) {
	l := newBenchLab(b)
	ctx := context.Background()
	for b.Loop() {
		p := l.pool(nil)
		if _, err := p.Exec(ctx, benchTarget(l), []string{"true"}, transport.ExecOptions{}); err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}

// benchTarget logs in as the test user, whose shell is dash: root's bash
// here sources a .bashrc that takes about 300 ms (pyenv), which would
// measure this machine's dotfiles rather than the transport.
func benchTarget(l *lab) transport.Target {
	t := l.target(0)
	t.User = sudoUser
	return t
}

func newBenchLab(b *testing.B) *lab {
	requireSudoUser(b)
	l := newLab(b, sshdtest.Options{})
	l.quiet = true
	return l
}

// BenchmarkSweep runs `true` on 3 real-sshd addresses x 20 targets each
// (distinct users are not needed: the pool keys by user@addr, so this is 3
// connections) at concurrency 10, and reports the sweep's figures.
func BenchmarkSweep(b *testing.B) {
	requireSudoUser(b)
	l := newLab(b, sshdtest.Options{Listen: []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}})
	l.quiet = true
	var targets []transport.Target
	for range 20 {
		for i := range 3 {
			tg := l.target(i)
			tg.User = sudoUser
			targets = append(targets, tg)
		}
	}
	for b.Loop() {
		p := l.pool(nil)
		rep := p.Sweep(context.Background(), targets, []string{"true"}, 10, nil)
		if rep.Failed > 0 {
			b.Fatalf("%+v", rep)
		}
		b.ReportMetric(float64(rep.P50.Microseconds()), "p50-µs")
		b.ReportMetric(float64(rep.P99.Microseconds()), "p99-µs")
		b.ReportMetric(rep.HandshakesPerSecond, "handshakes/s")
		p.Close()
	}
}
