package transport_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
	"golang.org/x/crypto/ssh"
)

// silentListener accepts TCP connections and never says a word.
func silentListener(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func assertHandshakeTimeout(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, transport.ErrHandshakeTimeout) {
		t.Fatalf("got %v, want ErrHandshakeTimeout", err)
	}
	if c := transport.Classify(err); c != transport.ClassUnreachable || !c.Retryable() {
		t.Errorf("class %v, want retryable unreachable", c)
	}
}

func TestHandshakeHangIsBounded(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	p := l.pool(func(c *transport.Config) { c.HandshakeTimeout = 300 * time.Millisecond })
	// The caller's context is far longer: only HandshakeTimeout can end these.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	t.Run("silent TCP listener", func(t *testing.T) {
		tg := l.target(0)
		tg.Port = silentListener(t)
		_, err := p.Exec(ctx, tg, []string{"true"}, transport.ExecOptions{})
		assertHandshakeTimeout(t, err)
	})
	t.Run("stopped sshd", func(t *testing.T) {
		if err := l.srv.Pause(); err != nil {
			t.Fatal(err)
		}
		_, err := p.Exec(ctx, l.target(0), []string{"true"}, transport.ExecOptions{})
		l.srv.Resume()
		assertHandshakeTimeout(t, err)
		if _, err := p.Exec(ctx, l.target(0), []string{"true"}, transport.ExecOptions{}); err != nil {
			t.Fatalf("after resume: %v", err)
		}
	})
	t.Run("caller cancels during handshake", func(t *testing.T) {
		slow := l.pool(func(c *transport.Config) { c.HandshakeTimeout = time.Hour })
		tg := l.target(0)
		tg.Port = silentListener(t)
		cctx, ccancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer ccancel()
		_, err := slow.Exec(cctx, tg, []string{"true"}, transport.ExecOptions{})
		if transport.Classify(err) != transport.ClassCanceled || errors.Is(err, transport.ErrHandshakeTimeout) {
			t.Fatalf("got %v, want Canceled", err)
		}
	})
}

func TestConnectRefused(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	p := l.pool(nil)
	tg := l.target(0)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	tg.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	_, err := p.Exec(context.Background(), tg, []string{"true"}, transport.ExecOptions{})
	if c := transport.Classify(err); c != transport.ClassUnreachable || !c.Retryable() || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("got %v (class %v), want retryable unreachable", err, c)
	}
}

// onlyDialer refuses every TCP connection except to allowed addresses, so a
// test can prove a node was reached through the bastion and not directly.
type onlyDialer struct{ allowed map[string]bool }

func (d onlyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if !d.allowed[addr] {
		return nil, errors.New("test dialer: direct connection to " + addr + " forbidden")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func TestJumpHost(t *testing.T) {
	bastion := newLab(t, sshdtest.Options{Listen: []string{"127.0.0.1"}})
	nodes := newLab(t, sshdtest.Options{Listen: []string{"127.0.0.2", "127.0.0.3"}, Authorized: []ssh.PublicKey{bastion.key.Signer.PublicKey()}})
	known := bastion.known
	writeFile(t, known, bastion.srv.KnownHostsLine(0, true)+"\n"+nodes.srv.KnownHostsLine(0, true)+"\n"+nodes.srv.KnownHostsLine(1, false)+"\n")
	p := bastion.pool(func(c *transport.Config) {
		c.Dialer = onlyDialer{allowed: map[string]bool{bastion.srv.Addr(0): true}}
	})
	jump := &transport.Jump{Name: "bastion", Address: "127.0.0.1", Port: bastion.srv.Port, User: "root"}
	for i := range 2 {
		tg := nodes.target(i)
		direct, err := p.Exec(context.Background(), tg, []string{"true"}, transport.ExecOptions{})
		if transport.Classify(err) != transport.ClassUnreachable {
			t.Fatalf("direct connection to the node should be impossible in this test: %+v %v", direct, err)
		}
		tg.Jump = jump
		res, err := p.Exec(context.Background(), tg, []string{"sh", "-c", `echo "$SSH_CONNECTION"`}, transport.ExecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(res.Stdout)); len(f) != 4 || f[2] != nodes.srv.Listen[i] {
			t.Errorf("SSH_CONNECTION on the node: %q", res.Stdout)
		}
	}
	if got := bastion.srv.Accepted(); got != 1 {
		t.Errorf("bastion authenticated %d connections, want 1 shared by both nodes", got)
	}
	if got := nodes.srv.Accepted(); got != 2 {
		t.Errorf("nodes authenticated %d connections, want 2", got)
	}
}

func TestJumpHostForwardingRefused(t *testing.T) {
	bastion := newLab(t, sshdtest.Options{Extra: []string{"AllowTcpForwarding no"}})
	nodes := newLab(t, sshdtest.Options{Listen: []string{"127.0.0.2"}, Authorized: []ssh.PublicKey{bastion.key.Signer.PublicKey()}})
	writeFile(t, bastion.known, bastion.srv.KnownHostsLine(0, false)+"\n"+nodes.srv.KnownHostsLine(0, false)+"\n")
	p := bastion.pool(nil)
	tg := nodes.target(0)
	tg.Jump = &transport.Jump{Address: "127.0.0.1", Port: bastion.srv.Port, User: "root"}
	_, err := p.Exec(context.Background(), tg, []string{"true"}, transport.ExecOptions{})
	if transport.Classify(err) != transport.ClassUnreachable || !strings.Contains(err.Error(), "AllowTcpForwarding") {
		t.Fatalf("got %v, want unreachable naming AllowTcpForwarding", err)
	}
	if nodes.srv.Accepted() != 0 {
		t.Error("node reached although the bastion refuses forwarding")
	}
}

// TestJumpHostFailures: a node that hangs behind the bastion is bounded by
// the handshake timeout, and a dead bastion connection is replaced.
func TestJumpHostFailures(t *testing.T) {
	bastion := newLab(t, sshdtest.Options{})
	nodes := newLab(t, sshdtest.Options{Listen: []string{"127.0.0.2"}, Authorized: []ssh.PublicKey{bastion.key.Signer.PublicKey()}})
	writeFile(t, bastion.known, bastion.srv.KnownHostsLine(0, false)+"\n"+nodes.srv.KnownHostsLine(0, false)+"\n")
	p := bastion.pool(func(c *transport.Config) {
		c.HandshakeTimeout = 2 * time.Second
		c.Dialer = onlyDialer{allowed: map[string]bool{bastion.srv.Addr(0): true}}
	})
	jump := &transport.Jump{Address: "127.0.0.1", Port: bastion.srv.Port, User: "root"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	hang := bastion.target(0)
	hang.Port, hang.Jump = silentListener(t), jump
	_, err := p.Exec(ctx, hang, []string{"true"}, transport.ExecOptions{})
	assertHandshakeTimeout(t, err)

	tg := nodes.target(0)
	tg.Jump = jump
	if _, err := p.Exec(ctx, tg, []string{"true"}, transport.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	signalAll(sshdChildren(t, bastion.srv.Pid()), syscall.SIGKILL)
	waitFor(t, "the node connection to die with its bastion", func() bool { return p.Stats().Open == 0 })
	if _, err := p.Exec(ctx, tg, []string{"true"}, transport.ExecOptions{}); err != nil {
		t.Fatalf("after the bastion connection died: %v", err)
	}
	// One bastion login for the hanging node (closed with its last user),
	// one for the node, one after it died.
	if got := bastion.srv.Accepted(); got != 3 {
		t.Errorf("bastion logins %d, want 3", got)
	}
}
