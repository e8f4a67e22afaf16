package transport_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
)

func TestSweep(t *testing.T) {
	l := newLab(t, sshdtest.Options{Listen: []string{"127.0.0.1", "127.0.0.2"}})
	p := l.pool(nil)
	down := l.target(0)
	down.Name, down.Port = "down", 1
	targets := []transport.Target{l.target(0), l.target(1), l.target(0), l.target(1), down}
	var seen atomic.Int32
	rep := p.Sweep(context.Background(), targets, []string{"false"}, 3, func(transport.Target, transport.Result, error) { seen.Add(1) })
	if rep.Calls != 5 || seen.Load() != 5 || rep.Failed != 1 || rep.NonZeroExit != 4 || rep.ByClass[transport.ClassUnreachable] != 1 || rep.Handshakes != 2 {
		t.Errorf("report %+v (seen %d)", rep, seen.Load())
	}
	if rep.P50 <= 0 || rep.P99 < rep.P50 || rep.Max < rep.P99 || rep.PeakRSSBytes <= 0 {
		t.Errorf("latency figures %+v", rep)
	}
}
