package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// ExecOptions are the optional parts of Exec.
type ExecOptions struct {
	// Stdin is copied to the command's standard input, then closed. It must
	// reach EOF: Exec returns only after it has been read to the end.
	Stdin io.Reader
	// StderrLine is called with each line the command writes to stderr,
	// without the newline, in order, as it arrives (the node helper's JSON
	// progress lines). Lines are also kept in Result.Stderr.
	StderrLine func(line string)
}

// Result is what a command did. A non-zero ExitCode is data, not an error.
type Result struct {
	ExitCode  int
	Signal    string // signal that killed the command ("KILL"), if any
	Stdout    []byte
	Stderr    []byte
	Truncated bool // output beyond Config.MaxOutputBytes was discarded
}

// Exec runs argv on the target and returns its exit code and output. argv
// is quoted for the remote shell, so every element arrives as one argument,
// byte for byte; with Target.Sudo (and a user other than root) it runs under
// `sudo -n --`. Canceling ctx sends SIGTERM to the remote process group,
// SIGKILL after Config.CancelGrace, and closes the session.
//
// The error is nil whenever the command ran to completion, whatever its exit
// code; otherwise it is an *Error classified for retries (see Classify).
func (p *Pool) Exec(ctx context.Context, t Target, argv []string, opts ExecOptions) (Result, error) {
	r, err := checkTarget(t)
	if err != nil {
		return Result{}, err
	}
	line, err := CommandLine(argv, useSudo(t))
	if err != nil {
		return Result{}, newError(ClassBadInput, r.node.name, "exec", err)
	}
	c, sess, err := p.session(ctx, r)
	if err != nil {
		return Result{}, err
	}
	defer p.release(c)
	defer sess.Close()
	return p.run(ctx, c, sess, line, useSudo(t), opts)
}

// pgidMarker starts the first stderr line of every command: the remote
// shell's pid, which is its process group (sshd starts each session's shell
// with setsid, and a non-interactive shell puts no job in a group of its
// own). Cancel kills that group. The line is not passed to the caller.
const pgidMarker = "kmemfix-transport-pgid:"

// wrap prefixes the quoted command with the marker, then execs it, so the
// command keeps the shell's pid and group.
func wrap(line string) string {
	return "echo " + pgidMarker + "$$ >&2; exec " + line
}

func useSudo(t Target) bool { return t.Sudo && t.User != "root" }

// session opens a session on the pooled connection to r, dialling again
// once if the pooled connection turns out to be dead.
func (p *Pool) session(ctx context.Context, r route) (*conn, *ssh.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, newError(ClassCanceled, r.node.name, "exec", err)
	}
	c, reused, err := p.acquire(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	sess, err := c.client.NewSession()
	var refused *ssh.OpenChannelError
	if errors.As(err, &refused) {
		// The connection is fine; the node will not open more sessions on it.
		p.release(c)
		return nil, nil, newError(ClassUnreachable, r.node.name, "session",
			fmt.Errorf("node refused a new session: %w (too many at once for its sshd MaxSessions; retry later or lower per-node concurrency)", err))
	}
	if err != nil && reused {
		p.log.Debug("pooled ssh connection is dead: dialling again", "node", r.node.name, "err", err)
		p.stats.redials.Add(1)
		p.discard(c)
		p.release(c)
		if c, _, err = p.acquire(ctx, r); err != nil {
			return nil, nil, err
		}
		sess, err = c.client.NewSession()
	}
	if err != nil {
		p.discard(c)
		p.release(c)
		return nil, nil, newError(ClassUnreachable, r.node.name, "session", fmt.Errorf("open ssh session: %w", err))
	}
	return c, sess, nil
}

func (p *Pool) run(ctx context.Context, c *conn, sess *ssh.Session, line string, sudo bool, opts ExecOptions) (Result, error) {
	name := c.route.node.name
	stdout := &capBuffer{max: p.cfg.MaxOutputBytes}
	stderr := &lineWriter{buf: capBuffer{max: p.cfg.MaxOutputBytes}, fn: opts.StderrLine, first: true}
	sess.Stdin, sess.Stdout, sess.Stderr = opts.Stdin, stdout, stderr
	if err := sess.Start(wrap(line)); err != nil {
		return Result{}, newError(ClassUnreachable, name, "exec", fmt.Errorf("start command: %w", err))
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		p.stopCommand(c, sess, done, int(stderr.pgid.Load()), sudo)
		stderr.flush()
		res := Result{Stdout: stdout.b, Stderr: stderr.buf.b, Truncated: stdout.truncated || stderr.buf.truncated, ExitCode: -1}
		return res, newError(ClassCanceled, name, "exec", fmt.Errorf("command stopped (SIGTERM, then SIGKILL, session closed): %w", ctx.Err()))
	}
	stderr.flush()
	res := Result{Stdout: stdout.b, Stderr: stderr.buf.b, Truncated: stdout.truncated || stderr.buf.truncated}
	var exit *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode, res.Signal = exit.ExitStatus(), exit.Signal()
	default:
		p.discard(c)
		res.ExitCode = -1
		return res, newError(ClassUnreachable, name, "exec", fmt.Errorf("%w: %w", ErrConnectionLost, err))
	}
	return res, nil
}

// stopCommand stops a running command: SIGTERM to its remote process group,
// SIGKILL after the grace period, then the session is closed. The group is
// killed with kill(1) in a second session on the same connection (through
// sudo for sudo targets): the SSH "signal" request is not enough, OpenSSH
// refuses it without privilege separation (root logins) and cannot signal
// what sudo started. If the server does not close the channel either, the
// whole connection is closed, so no goroutine is left waiting. The command's
// own exit error is only logged: the caller reports the cancellation.
func (p *Pool) stopCommand(c *conn, sess *ssh.Session, done chan error, pgid int, sudo bool) {
	grace := p.cfg.CancelGrace
	for _, sig := range []string{"TERM", "KILL"} {
		p.killGroup(c, pgid, sig, sudo)
		_ = sess.Signal(ssh.Signal(sig))
		select {
		case err := <-done:
			p.logStopped(c, err)
			return
		case <-time.After(grace):
		}
	}
	_ = sess.Close()
	select {
	case err := <-done:
		p.logStopped(c, err)
		return
	case <-time.After(grace):
	}
	p.log.Warn("ssh session did not close after cancel: closing the connection", "node", c.route.node.name)
	p.discard(c)
	p.logStopped(c, <-done)
}

func (p *Pool) logStopped(c *conn, err error) {
	p.log.Debug("canceled command ended", "node", c.route.node.name, "err", err)
}

// killGroup runs `kill -s SIG -- -PGID` on the node, bounded by CancelGrace.
func (p *Pool) killGroup(c *conn, pgid int, sig string, sudo bool) {
	if pgid <= 1 {
		return
	}
	line, err := CommandLine([]string{"kill", "-s", sig, "--", "-" + strconv.Itoa(pgid)}, sudo)
	if err != nil {
		return
	}
	sess, err := c.client.NewSession()
	if err != nil {
		p.log.Warn("cannot open a session to kill a canceled command", "node", c.route.node.name, "err", err)
		return
	}
	defer sess.Close()
	stop := time.AfterFunc(p.cfg.CancelGrace, func() { _ = sess.Close() })
	defer stop.Stop()
	if out, err := sess.CombinedOutput(line); err != nil {
		p.log.Debug("kill of canceled command", "node", c.route.node.name, "signal", sig, "err", err, "output", string(out))
	}
}

// capBuffer keeps the first max bytes written to it.
type capBuffer struct {
	b         []byte
	max       int
	truncated bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	room := c.max - len(c.b)
	if room < len(p) {
		c.truncated = true
		c.b = append(c.b, p[:max(room, 0)]...)
		return len(p), nil
	}
	c.b = append(c.b, p...)
	return len(p), nil
}

// lineWriter keeps stderr and hands each complete line to fn. When first
// is set, a first line carrying pgidMarker is consumed into pgid.
type lineWriter struct {
	buf     capBuffer
	fn      func(string)
	partial []byte
	first   bool
	pgid    atomic.Int64
}

const maxLine = 1 << 20

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.first {
		i := bytes.IndexByte(p, '\n')
		if i < 0 && len(w.partial)+len(p) < 64 {
			w.partial = append(w.partial, p...)
			return n, nil
		}
		w.first = false
		head := append(w.partial, p[:max(i, 0)]...)
		if rest, ok := bytes.CutPrefix(head, []byte(pgidMarker)); ok && i >= 0 {
			if pgid, err := strconv.Atoi(string(rest)); err == nil {
				w.pgid.Store(int64(pgid))
			}
			w.partial = nil
			p = p[i+1:]
		} else {
			p = append(head, p[max(i, 0):]...)
			w.partial = nil
		}
	}
	_, _ = w.buf.Write(p) // the capped buffer never fails; it drops what is past its cap
	if w.fn == nil {
		return n, nil
	}
	for _, b := range p {
		if b == '\n' {
			w.fn(string(w.partial))
			w.partial = w.partial[:0]
			continue
		}
		if len(w.partial) < maxLine {
			w.partial = append(w.partial, b)
		}
	}
	return n, nil
}

func (w *lineWriter) flush() {
	if w.first && len(w.partial) > 0 {
		w.first = false
		_, _ = w.buf.Write(w.partial)
	}
	if w.fn != nil && len(w.partial) > 0 {
		w.fn(string(w.partial))
		w.partial = nil
	}
}
