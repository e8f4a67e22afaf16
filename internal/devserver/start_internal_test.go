package devserver

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/primitives"
)

// These tests cover the race Start cannot close: a port picked for a
// service is taken before the server binds it. The server calls its
// logger's Fatal there; Start must neither crash the process nor go on with
// a nil listener.

// takenHistoryPort plans listeners whose history port is held by the test.
func takenHistoryPort(t *testing.T) func(context.Context, string) (listenPlan, error) {
	return func(ctx context.Context, frontendAddr string) (listenPlan, error) {
		p, err := planListeners(ctx, frontendAddr)
		if err != nil {
			return p, err
		}
		l, err := net.Listen("tcp", p.services[primitives.HistoryService])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return p, nil
	}
}

func memoryStore(t *testing.T) (*config.SQL, serverLogger) {
	o, err := Options{}.withDefaults(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sqlConf, err := openStore(o)
	if err != nil {
		t.Fatal(err)
	}
	return sqlConf, serverLogger{log: slog.New(slog.DiscardHandler), level: slog.LevelWarn, quiet: new(atomic.Bool)}
}

func TestTakenServicePortIsAnErrorAfterRetries(t *testing.T) {
	sqlConf, logger := memoryStore(t)
	attempts := 0
	plan := func(ctx context.Context, addr string) (listenPlan, error) {
		attempts++
		return takenHistoryPort(t)(ctx, addr)
	}

	ts, p, err := startServices(t.Context(), "127.0.0.1:0", sqlConf, logger, plan)
	if err == nil {
		_ = ts.Stop()
		t.Fatal("the server started although its history port was taken")
	}
	if !strings.Contains(err.Error(), "gRPC listener") || !strings.Contains(err.Error(), p.services[primitives.HistoryService]) {
		t.Fatalf("the error does not say which listener failed: %v", err)
	}
	if attempts != startAttempts {
		t.Fatalf("%d attempts, want %d", attempts, startAttempts)
	}
}

func TestTakenServicePortIsRetriedWithOtherPorts(t *testing.T) {
	sqlConf, logger := memoryStore(t)
	attempts := 0
	plan := func(ctx context.Context, addr string) (listenPlan, error) {
		attempts++
		if attempts == 1 {
			return takenHistoryPort(t)(ctx, addr)
		}
		return planListeners(ctx, addr)
	}

	ts, _, err := startServices(t.Context(), "127.0.0.1:0", sqlConf, logger, plan)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Stop(); err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Fatalf("%d attempts, want 2", attempts)
	}
}
