// Package devservertest starts the embedded Temporal server for other
// packages' integration tests: in memory, on free loopback ports, stopped
// when the test ends.
//
//	srv := devservertest.Start(t, func(o *devserver.Options) { o.SearchAttributes = attrs })
//	c := devservertest.Client(t, srv)
//
// A server costs about 0.2-0.4 s to start in memory (BenchmarkStart in
// package devserver). Two things outlive Stop, both inside the Temporal
// server: its in-memory SQLite database (the plugin never closes its
// connections) and about 100 goroutines (SDK pollers of its internal system
// workers and gRPC connections that have no stop hook). Neither matters for
// a test binary, but goleak cannot be used in a package whose tests start a
// server; keep leak checks in packages that do not.
package devservertest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/kmemfix/kmemfix/internal/devserver"
)

// StartTimeout bounds Start; an in-memory server usually starts in about a second.
const StartTimeout = time.Minute

// Start starts an in-memory server with the UI off on free 127.0.0.1 ports,
// after applying opts (set UIAddr to "127.0.0.1:0" for a UI). The server's
// warnings go to the test log. It is stopped when the test ends.
func Start(t testing.TB, opts ...func(*devserver.Options)) *devserver.Server {
	t.Helper()
	o := devserver.Options{
		FrontendAddr: "127.0.0.1:0",
		Logger:       slog.New(slog.NewTextHandler(logWriter(t), nil)),
	}
	for _, apply := range opts {
		apply(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	srv, err := devserver.Start(ctx, o)
	if err != nil {
		t.Fatalf("devservertest: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("devservertest: %v", err)
		}
	})
	return srv
}

// Client dials srv in its namespace; the client is closed when the test ends.
func Client(t testing.TB, srv *devserver.Server) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	c, err := srv.Dial(ctx, client.Options{
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(logWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))),
	})
	if err != nil {
		t.Fatalf("devservertest: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// logWriter writes lines to t.Log until the test's cleanup begins; later
// writes (from goroutines still winding down) are dropped, since logging
// through a finished test panics.
func logWriter(t testing.TB) *testLog {
	w := &testLog{t: t}
	t.Cleanup(w.close) // registered first, so it runs after the server stops
	return w
}

type testLog struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLog) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}
