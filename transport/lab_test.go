package transport_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
	"golang.org/x/crypto/ssh"
)

// lab is a real sshd with a client key and a known_hosts file for it.
type lab struct {
	t     testing.TB
	dir   string
	key   sshdtest.Key
	srv   *sshdtest.Server
	known string
	quiet bool // no debug log (benchmarks)
}

func newLab(t testing.TB, opts sshdtest.Options) *lab {
	t.Helper()
	sshdtest.Require(t)
	dir := t.TempDir()
	l := &lab{t: t, dir: dir, key: sshdtest.NewKey(t, dir, "id_ed25519", "")}
	opts.Authorized = append(opts.Authorized, l.key.Signer.PublicKey())
	l.srv = sshdtest.Start(t, opts)
	l.known = filepath.Join(dir, "known_hosts")
	var lines []string
	for i := range l.srv.Listen {
		lines = append(lines, l.srv.KnownHostsLine(i, false))
	}
	writeFile(t, l.known, strings.Join(lines, "\n")+"\n")
	return l
}

func writeFile(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// config is a Config trusting the lab's sshd, with short timeouts.
func (l *lab) config() transport.Config {
	return transport.Config{
		KnownHostsFiles:     []string{l.known},
		KeyFiles:            []string{l.key.File},
		DialTimeout:         5 * time.Second,
		HandshakeTimeout:    10 * time.Second,
		CancelGrace:         time.Second,
		HandshakesPerSecond: 1000,
		Logger:              l.logger(),
	}
}

func (l *lab) logger() *slog.Logger {
	if l.quiet {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{l.t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *lab) pool(mod func(*transport.Config)) *transport.Pool {
	l.t.Helper()
	cfg := l.config()
	if mod != nil {
		mod(&cfg)
	}
	p, err := transport.New(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { p.Close() })
	return p
}

// target is the i-th listen address of the lab's sshd, as root.
func (l *lab) target(i int) transport.Target {
	return transport.Target{Name: "node-" + l.srv.Listen[i], Address: l.srv.Listen[i], Port: l.srv.Port, User: "root"}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

func itoa(i int) string { return strconv.Itoa(i) }

// newLogger logs at debug level into w (a strings.Builder, guarded).
func newLogger(w *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: w}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
