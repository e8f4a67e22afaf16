package transport_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestNoGoroutineLeft runs cancel, a handshake timeout, a jump host, an
// upload and a Close with a command still running, then checks that every
// goroutine the pool started is gone.
func TestNoGoroutineLeft(t *testing.T) {
	bastion := newLab(t, sshdtest.Options{})
	l := newLab(t, sshdtest.Options{Listen: []string{"127.0.0.2"}, Authorized: []ssh.PublicKey{bastion.key.Signer.PublicKey()}})
	writeFile(t, bastion.known, bastion.srv.KnownHostsLine(0, false)+"\n"+l.srv.KnownHostsLine(0, false)+"\n")
	hang := silentListener(t)
	before := goleak.IgnoreCurrent()

	cfg := bastion.config()
	cfg.KeepaliveInterval = 50 * time.Millisecond
	p, err := transport.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tg := l.target(0)
	tg.Jump = &transport.Jump{Address: "127.0.0.1", Port: bastion.srv.Port, User: "root"}
	ctx := context.Background()

	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = p.Exec(cctx, tg, []string{"sleep", "60"}, transport.ExecOptions{})
	cancel()
	if transport.Classify(err) != transport.ClassCanceled {
		t.Fatalf("cancel: %v", err)
	}
	hangTarget := bastion.target(0)
	hangTarget.Port = hang
	cfg.HandshakeTimeout = 300 * time.Millisecond
	hp, err := transport.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hp.Exec(ctx, hangTarget, []string{"true"}, transport.ExecOptions{}); !errors.Is(err, transport.ErrHandshakeTimeout) {
		t.Fatalf("hang: %v", err)
	}
	hp.Close()
	if _, err := p.Upload(ctx, tg, transport.UploadRequest{Content: stringsReader("x"), Size: 1, RemotePath: rootOnlyDir(t) + "/f", Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let keepalives run

	done := make(chan error, 1)
	go func() {
		_, err := p.Exec(ctx, bastion.target(0), []string{"sleep", "60"}, transport.ExecOptions{})
		done <- err
	}()
	waitFor(t, "a command in flight", func() bool { return p.Stats().Open == 2 })
	time.Sleep(100 * time.Millisecond)
	p.Close()
	if err := <-done; transport.Classify(err) != transport.ClassUnreachable {
		t.Errorf("command in flight at Close: %v", err)
	}
	if _, err := p.Exec(ctx, tg, []string{"true"}, transport.ExecOptions{}); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("exec after Close: %v", err)
	}
	goleak.VerifyNone(t, before)
}
