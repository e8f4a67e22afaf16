package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/metric"

	"github.com/kmemfix/kmemfix/transport"
)

// ObserveSSHPool publishes the SSH pool's counters (transport.Stats) as
// kmemfix_ssh_pool_* metrics, read from stats at every scrape.
func (t *Telemetry) ObserveSSHPool(stats func() transport.Stats) error {
	m := t.MeterProvider.Meter(instrumentationName)
	counters := []struct {
		name, help string
		get        func(transport.Stats) int64
	}{
		{"kmemfix.ssh.pool.handshakes", "SSH handshakes attempted (nodes and bastions).", func(s transport.Stats) int64 { return s.Handshakes }},
		{"kmemfix.ssh.pool.dials", "SSH connections established.", func(s transport.Stats) int64 { return s.Dials }},
		{"kmemfix.ssh.pool.reused", "Calls served by an already open connection.", func(s transport.Stats) int64 { return s.Reused }},
		{"kmemfix.ssh.pool.redials", "Calls that found their connection dead and dialled again.", func(s transport.Stats) int64 { return s.Redials }},
		{"kmemfix.ssh.pool.lru_closed", "Idle connections closed to stay under ssh.maxConns.", func(s transport.Stats) int64 { return s.LRUClosed }},
		{"kmemfix.ssh.pool.cap_waits", "Times a call waited for a free connection slot.", func(s transport.Stats) int64 { return s.CapWaits }},
		{"kmemfix.ssh.pool.keepalive_failures", "Connections closed for an unanswered keepalive.", func(s transport.Stats) int64 { return s.KeepaliveFailures }},
	}
	var observables []metric.Observable
	type obs struct {
		c   metric.Int64ObservableCounter
		get func(transport.Stats) int64
	}
	var all []obs
	for _, c := range counters {
		inst, err := m.Int64ObservableCounter(c.name, metric.WithDescription(c.help))
		if err != nil {
			return fmt.Errorf("telemetry: %s: %w", c.name, err)
		}
		all = append(all, obs{inst, c.get})
		observables = append(observables, inst)
	}
	open, err := m.Int64ObservableGauge("kmemfix.ssh.pool.open", metric.WithDescription("Node connections open or dialling now."))
	if err != nil {
		return fmt.Errorf("telemetry: kmemfix.ssh.pool.open: %w", err)
	}
	peak, err := m.Int64ObservableGauge("kmemfix.ssh.pool.peak_open", metric.WithDescription("Highest number of open node connections seen."))
	if err != nil {
		return fmt.Errorf("telemetry: kmemfix.ssh.pool.peak_open: %w", err)
	}
	observables = append(observables, open, peak)
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := stats()
		for _, c := range all {
			o.ObserveInt64(c.c, c.get(s))
		}
		o.ObserveInt64(open, int64(s.Open))
		o.ObserveInt64(peak, s.PeakOpen)
		return nil
	}, observables...)
	if err != nil {
		return fmt.Errorf("telemetry: SSH pool callback: %w", err)
	}
	return nil
}
