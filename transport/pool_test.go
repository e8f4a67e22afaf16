package transport_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
)

func TestConnectionReuse(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	p := l.pool(nil)
	ctx := context.Background()
	for i := range 10 {
		if _, err := p.Exec(ctx, l.target(0), []string{"echo", strconv.Itoa(i)}, transport.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			res, err := p.Exec(ctx, l.target(0), []string{"echo", strconv.Itoa(i)}, transport.ExecOptions{})
			if err == nil && strings.TrimSpace(string(res.Stdout)) != strconv.Itoa(i) {
				err = fmt.Errorf("exec %d printed %q", i, res.Stdout)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if s := p.Stats(); s.Handshakes != 1 || s.Dials != 1 || s.Reused != 29 {
		t.Errorf("stats %+v, want 1 handshake and 29 reuses for 30 execs", s)
	}
	if got := l.srv.Accepted(); got != 1 {
		t.Errorf("sshd accepted %d logins, want 1", got)
	}
}

func threeNodes(t *testing.T) *lab {
	return newLab(t, sshdtest.Options{Listen: []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}})
}

func TestConnectionCapClosesLRU(t *testing.T) {
	l := threeNodes(t)
	p := l.pool(func(c *transport.Config) { c.MaxConns = 2 })
	ctx := context.Background()
	run := func(i int) {
		t.Helper()
		if _, err := p.Exec(ctx, l.target(i), []string{"true"}, transport.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	run(0)
	run(1)
	run(2) // closes 0, the least recently used
	if s := p.Stats(); s.Open != 2 || s.LRUClosed != 1 || s.Handshakes != 3 {
		t.Fatalf("after 3 nodes with MaxConns 2: %+v", s)
	}
	run(2)
	run(1) // both still open: no handshake
	if s := p.Stats(); s.Handshakes != 3 {
		t.Fatalf("open connections were not reused: %+v", s)
	}
	run(0) // dials again and closes 2, now the least recently used
	run(1)
	if s := p.Stats(); s.Handshakes != 4 || s.LRUClosed != 2 || s.PeakOpen != 2 {
		t.Fatalf("stats %+v, want 4 handshakes, 2 LRU closes, peak 2", s)
	}
}

func TestConnectionCapWaitsForBusy(t *testing.T) {
	l := threeNodes(t)
	p := l.pool(func(c *transport.Config) { c.MaxConns = 2 })
	gate := filepath.Join(t.TempDir(), "go")
	os.Chmod(filepath.Dir(gate), 0o755)
	script := `while [ ! -e "$1" ]; do sleep 0.02; done`
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() {
			_, errs[i] = p.Exec(context.Background(), l.target(i), []string{"sh", "-c", script, "sh", gate}, transport.ExecOptions{})
		})
	}
	// Two commands hold both slots; the third waits for one.
	waitFor(t, "two connections and a call waiting for a free slot", func() bool { s := p.Stats(); return s.CapWaits > 0 && s.Dials == 2 })
	if s := p.Stats(); s.Open != 2 {
		t.Fatalf("while busy: %+v, want 2 open", s)
	}
	writeFile(t, gate, "")
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}
	if s := p.Stats(); s.PeakOpen != 2 || s.Dials != 3 {
		t.Errorf("stats %+v, want peak 2 and 3 dials", s)
	}
	// A caller that gives up while waiting for a slot gets Canceled.
	writeFile(t, gate, "")
	os.Remove(gate)
	block := make(chan struct{})
	for i := range 2 {
		wg.Go(func() {
			p.Exec(context.Background(), l.target(i), []string{"sh", "-c", script, "sh", gate}, transport.ExecOptions{})
			block <- struct{}{}
		})
	}
	waitFor(t, "both slots busy", func() bool {
		out, _ := exec.Command("pgrep", "-c", "-f", gate).Output()
		return p.Stats().Open == 2 && strings.TrimSpace(string(out)) == "2"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Exec(ctx, l.target(2), []string{"true"}, transport.ExecOptions{}); transport.Classify(err) != transport.ClassCanceled {
		t.Errorf("waiting for a slot past the deadline: %v", err)
	}
	writeFile(t, gate, "")
	<-block
	<-block
}

// sshdChildren are the processes serving connections of the listening sshd.
func sshdChildren(t *testing.T, pid int) []int {
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(pid)).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		n, _ := strconv.Atoi(f)
		pids = append(pids, n)
		pids = append(pids, sshdChildren(t, n)...)
	}
	return pids
}

func signalAll(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		syscall.Kill(pid, sig)
	}
}

func TestDeadConnectionRedialled(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	p := l.pool(func(c *transport.Config) { c.KeepaliveInterval = -1 })
	ctx := context.Background()
	if _, err := p.Exec(ctx, l.target(0), []string{"true"}, transport.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	signalAll(sshdChildren(t, l.srv.Pid()), syscall.SIGKILL)
	res, err := p.Exec(ctx, l.target(0), []string{"echo", "again"}, transport.ExecOptions{})
	if err != nil || string(res.Stdout) != "again\n" {
		t.Fatalf("after the server side died: %v %q", err, res.Stdout)
	}
	if s := p.Stats(); s.Handshakes != 2 {
		t.Errorf("stats %+v, want a second handshake", s)
	}
}

func TestKeepaliveEvictsSilentConnection(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	p := l.pool(func(c *transport.Config) { c.KeepaliveInterval = 200 * time.Millisecond })
	ctx := context.Background()
	if _, err := p.Exec(ctx, l.target(0), []string{"true"}, transport.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	// The TCP connection stays up but nothing answers on it.
	children := sshdChildren(t, l.srv.Pid())
	signalAll(children, syscall.SIGSTOP)
	t.Cleanup(func() { signalAll(children, syscall.SIGCONT) })
	waitFor(t, "the silent connection to be evicted", func() bool {
		s := p.Stats()
		return s.KeepaliveFailures == 1 && s.Open == 0
	})
	if _, err := p.Exec(ctx, l.target(0), []string{"true"}, transport.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Handshakes != 2 || s.Open != 1 {
		t.Errorf("stats %+v, want a fresh connection", s)
	}
}

func TestHandshakeRateLimit(t *testing.T) {
	l := threeNodes(t)
	p := l.pool(func(c *transport.Config) { c.HandshakesPerSecond = 0.001 })
	ctx := context.Background()
	if _, err := p.Exec(ctx, l.target(0), []string{"true"}, transport.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	// The bucket is empty for the next 1000 s: a second node must wait for it.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := p.Exec(cctx, l.target(1), []string{"true"}, transport.ExecOptions{})
	if transport.Classify(err) != transport.ClassCanceled || !strings.Contains(err.Error(), "rate limit") {
		t.Fatalf("got %v, want Canceled while waiting for the handshake rate limit", err)
	}
	// An open connection needs no token.
	if _, err := p.Exec(ctx, l.target(0), []string{"true"}, transport.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestConnectionLostMidCommand(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	p := l.pool(nil)
	marker := fmt.Sprintf("61.%d", time.Now().UnixNano()%1e9)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Exec(context.Background(), l.target(0), []string{"sleep", marker}, transport.ExecOptions{})
		errc <- err
	}()
	waitFor(t, "remote sleep", func() bool { return running("sleep " + marker) })
	signalAll(sshdChildren(t, l.srv.Pid()), syscall.SIGKILL)
	err := <-errc
	if !errors.Is(err, transport.ErrConnectionLost) || transport.Classify(err) != transport.ClassUnreachable {
		t.Fatalf("got %v, want ErrConnectionLost (unreachable)", err)
	}
	exec.Command("pkill", "-x", "-f", "sleep "+marker).Run()
}

// TestSessionRefusedKeepsConnection: sshd MaxSessions refusing a second
// session is a retryable error for that call only; the connection and the
// command on it carry on.
func TestSessionRefusedKeepsConnection(t *testing.T) {
	l := newLab(t, sshdtest.Options{Extra: []string{"MaxSessions 1"}})
	p := l.pool(nil)
	gate := filepath.Join(t.TempDir(), "go")
	done := make(chan error, 1)
	go func() {
		_, err := p.Exec(context.Background(), l.target(0), []string{"sh", "-c", `while [ ! -e "$1" ]; do sleep 0.02; done`, "sh", gate}, transport.ExecOptions{})
		done <- err
	}()
	waitFor(t, "the first command to run", func() bool {
		out, _ := exec.Command("pgrep", "-c", "-f", gate).Output()
		return strings.TrimSpace(string(out)) == "1"
	})
	_, err := p.Exec(context.Background(), l.target(0), []string{"true"}, transport.ExecOptions{})
	if c := transport.Classify(err); c != transport.ClassUnreachable || !strings.Contains(err.Error(), "MaxSessions") {
		t.Fatalf("second session: %v (class %v)", err, c)
	}
	writeFile(t, gate, "")
	if err := <-done; err != nil {
		t.Fatalf("first command: %v", err)
	}
	// sshd frees the session slot once the channel close completes: retry.
	waitFor(t, "a new session on the same connection", func() bool {
		_, err := p.Exec(context.Background(), l.target(0), []string{"true"}, transport.ExecOptions{})
		return err == nil
	})
	if s := p.Stats(); s.Handshakes != 1 {
		t.Errorf("stats %+v: the refused session must not cost the connection", s)
	}
}
