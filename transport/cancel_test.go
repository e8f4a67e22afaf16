package transport_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
)

// running reports whether a process with exactly this command line exists.
func running(cmdline string) bool {
	return exec.Command("pgrep", "-f", "-x", cmdline).Run() == nil
}

// waitFor polls cond; the limit only stops a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting: %s", what)
}

func TestCancelStopsRemoteCommand(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	requireSudoUser(t)
	for _, tc := range []struct {
		name   string
		target transport.Target
		argv   func(marker string) []string
	}{
		{"root", l.target(0), func(m string) []string { return []string{"sleep", m} }},
		{"root-shell-child", l.target(0), func(m string) []string { return []string{"sh", "-c", "sleep " + m + "; echo never"} }},
		{"root-ignores-term", l.target(0), func(m string) []string { return []string{"sh", "-c", "trap '' TERM; sleep " + m + "; echo never"} }},
		{"sudo", l.sudoTarget(0), func(m string) []string { return []string{"sleep", m} }},
		{"sudo-shell-child", l.sudoTarget(0), func(m string) []string { return []string{"sh", "-c", "sleep " + m + "; echo never"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := l.pool(nil)
			marker := fmt.Sprintf("300.%d", time.Now().UnixNano()%1e9)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := p.Exec(ctx, tc.target, tc.argv(marker), transport.ExecOptions{})
				errc <- err
			}()
			waitFor(t, "remote sleep to start", func() bool { return running("sleep " + marker) })
			cancel()
			err := <-errc
			if transport.Classify(err) != transport.ClassCanceled || !errors.Is(err, context.Canceled) {
				t.Fatalf("Exec after cancel: %v (class %v), want Canceled", err, transport.Classify(err))
			}
			waitFor(t, "remote sleep to be gone", func() bool { return !running("sleep " + marker) })
			// The connection is still usable after a cancel.
			res, err := p.Exec(context.Background(), tc.target, []string{"echo", "ok"}, transport.ExecOptions{})
			if err != nil || strings.TrimSpace(string(res.Stdout)) != "ok" {
				t.Fatalf("exec after cancel: %v %q", err, res.Stdout)
			}
		})
	}
}
