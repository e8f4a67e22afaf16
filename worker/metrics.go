package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/kmemfix/kmemfix/transport"
)

// statser is what /metrics reads from the SSH pool.
type statser interface{ Stats() transport.Stats }

// serveMetrics serves /healthz (the worker process is up) and /metrics (the
// SSH pool's counters in the Prometheus text format) on addr.
func serveMetrics(addr string, pool statser, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("worker.metricsAddress %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { writeMetrics(w, pool.Stats()) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	logger.Info("serving /healthz and /metrics", "address", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func writeMetrics(w http.ResponseWriter, s transport.Stats) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	for _, m := range []struct {
		name, typ, help string
		v               int64
	}{
		{"kmemfix_ssh_handshakes_total", "counter", "SSH handshakes attempted (nodes and bastions).", s.Handshakes},
		{"kmemfix_ssh_dials_total", "counter", "SSH connections established.", s.Dials},
		{"kmemfix_ssh_reused_total", "counter", "Calls served by an already open connection.", s.Reused},
		{"kmemfix_ssh_redials_total", "counter", "Calls that found their connection dead and dialled again.", s.Redials},
		{"kmemfix_ssh_lru_closed_total", "counter", "Idle connections closed to stay under ssh.maxConns.", s.LRUClosed},
		{"kmemfix_ssh_cap_waits_total", "counter", "Times a call waited for a free connection slot.", s.CapWaits},
		{"kmemfix_ssh_keepalive_failures_total", "counter", "Connections closed for an unanswered keepalive.", s.KeepaliveFailures},
		{"kmemfix_ssh_open_connections", "gauge", "Node connections open or dialling now.", int64(s.Open)},
		{"kmemfix_ssh_peak_open_connections", "gauge", "Highest number of open node connections seen.", s.PeakOpen},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", m.name, m.help, m.name, m.typ, m.name, m.v)
	}
}
