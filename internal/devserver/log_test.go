package devserver_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/kmemfix/kmemfix/internal/devserver"
)

// syncBuffer is a bytes.Buffer the server's goroutines may write concurrently.
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

func TestServerLogsGoToTheLoggerAtTheChosenLevel(t *testing.T) {
	logs := func(level slog.Leveler) string {
		var out syncBuffer
		logger := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
		srv := start(t, devserver.Options{FrontendAddr: "127.0.0.1:0", Logger: logger, LogLevel: level})
		if err := srv.Stop(); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}

	quiet := logs(nil)
	if !strings.Contains(quiet, `msg="temporal dev server started"`) {
		t.Errorf("no start line in the logs:\n%s", quiet)
	}
	for _, line := range strings.Split(strings.TrimSpace(quiet), "\n") {
		if strings.Contains(line, "level=INFO") && !strings.Contains(line, "temporal dev server started") {
			t.Errorf("an info record passed the default warn level: %s", line)
		}
	}
	chatty := logs(slog.LevelInfo)
	if !strings.Contains(chatty, "level=INFO") || !strings.Contains(chatty, "service=") {
		t.Errorf("at info level, the server's own records (tagged service=...) are missing:\n%.3000s", chatty)
	}
}
