package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/melbahja/goph"
	"golang.org/x/crypto/ssh"
)

// dialDirect opens TCP to ep and runs the SSH handshake over it.
func (p *Pool) dialDirect(ctx context.Context, ep endpoint) (*ssh.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	conn, err := p.cfg.Dialer.DialContext(dctx, "tcp", ep.addr())
	if err != nil {
		if ctx.Err() != nil {
			return nil, newError(ClassCanceled, ep.name, "dial", ctx.Err())
		}
		return nil, newError(ClassUnreachable, ep.name, "dial",
			fmt.Errorf("tcp connect to %s: %w (check the node is up, the address and port, and firewalls)", ep.addr(), err))
	}
	return p.handshake(ctx, conn, ep)
}

// dialVia reaches ep through a bastion's direct-tcpip channel and runs the
// SSH handshake over that channel.
func (p *Pool) dialVia(ctx context.Context, b *ssh.Client, jump, ep endpoint) (*ssh.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	conn, err := b.DialContext(dctx, "tcp", ep.addr())
	if err != nil {
		if ctx.Err() != nil {
			return nil, newError(ClassCanceled, ep.name, "dial", ctx.Err())
		}
		hint := "the bastion could not connect to the node: check it is up and reachable from the bastion"
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) && oce.Reason == ssh.Prohibited {
			hint = "the bastion refused to forward: check AllowTcpForwarding/PermitOpen in its sshd_config"
		}
		return nil, newError(ClassUnreachable, ep.name, "dial",
			fmt.Errorf("through jump host %s to %s: %w (%s)", jump.addr(), ep.addr(), err, hint))
	}
	return p.handshake(ctx, conn, ep)
}

// handshake runs the SSH handshake and authentication on conn, bounded by
// HandshakeTimeout and ctx: either closes conn, which fails the handshake.
// (goph.Dial and ssh.Dial bound only the TCP connect.) Closing rather than
// SetDeadline also works on channels through a bastion, which have no
// deadlines.
func (p *Pool) handshake(ctx context.Context, conn net.Conn, ep endpoint) (*ssh.Client, error) {
	callback, algos := p.hostKeys.forEndpoint(ep)
	cfg := &ssh.ClientConfig{
		User:              ep.user,
		Auth:              p.creds.authMethods(),
		HostKeyCallback:   callback,
		HostKeyAlgorithms: algos,
		Timeout:           p.cfg.DialTimeout,
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(p.cfg.HandshakeTimeout, func() { timedOut.Store(true); _ = conn.Close() })
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	p.stats.handshakes.Add(1)
	c, chans, reqs, err := ssh.NewClientConn(conn, ep.addr(), cfg)
	timer.Stop()
	stop()
	if err != nil {
		_ = conn.Close()
		return nil, p.handshakeError(ctx, ep, err, timedOut.Load())
	}
	if timedOut.Load() || ctx.Err() != nil {
		// The timer or ctx fired just as the handshake finished.
		_ = c.Close()
		return nil, p.handshakeError(ctx, ep, errors.New("handshake interrupted"), timedOut.Load())
	}
	return ssh.NewClient(c, chans, reqs), nil
}

func (p *Pool) handshakeError(ctx context.Context, ep endpoint, err error, timedOut bool) error {
	var hk *HostKeyError
	var uh *UnknownHostError
	switch {
	case errors.As(err, &hk):
		return newError(ClassHostKeyMismatch, ep.name, "handshake", hk)
	case errors.As(err, &uh):
		return newError(ClassHostKeyUnknown, ep.name, "handshake", uh)
	case ctx.Err() != nil:
		return newError(ClassCanceled, ep.name, "handshake", ctx.Err())
	case timedOut:
		return newError(ClassUnreachable, ep.name, "handshake", fmt.Errorf("%s after %s: %w", ep.addr(), p.cfg.HandshakeTimeout, ErrHandshakeTimeout))
	case strings.Contains(err.Error(), "unable to authenticate"):
		return newError(ClassAuthFailed, ep.name, "handshake",
			fmt.Errorf("%s refused keys %s for user %q: %w (check that user's authorized_keys on the node, or the configured user and keys)",
				ep.addr(), p.creds.fingerprints(), ep.user, err))
	}
	return newError(ClassUnreachable, ep.name, "handshake", fmt.Errorf("%s: %w", ep.addr(), err))
}

// gophClient wraps an established connection as a goph client, for goph's
// SFTP and command helpers.
func gophClient(c *ssh.Client, ep endpoint, timeout time.Duration) *goph.Client {
	return &goph.Client{Client: c, Config: &goph.Config{
		User: ep.user, Addr: ep.host, Port: uint(ep.port), Timeout: timeout,
	}}
}
