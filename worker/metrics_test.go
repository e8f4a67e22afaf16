package worker

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestMetricsServerServesHealthAndMetrics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "kmemfix_nodes_total 3\n") })
	stop, err := serveMetrics(context.Background(), addr, metrics, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "kmemfix_nodes_total 3"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d %q, want 200 with %q", path, resp.StatusCode, body, want)
		}
	}
	if _, err := serveMetrics(context.Background(), addr, metrics, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "worker.metricsAddress") {
		t.Errorf("a busy address should fail naming the setting, got %v", err)
	}
}
