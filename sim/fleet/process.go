package fleet

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// pgidWrapper is the one piece of shell the simulated node understands,
// matched literally: the transport prefixes every command with it so that
// it learns the remote process group to kill on cancel. The node answers
// with the simulated process's pid on stderr, then runs the rest.
const pgidWrapper = "echo kmemfix-transport-pgid:$$ >&2; exec "

// firstPID is the first pid a simulated exec gets; real daemons sit below.
const firstPID = 20000

// process is one running exec as kill(1) and the SSH signal request see it.
// Its pid is also its process group (sshd runs each session with setsid).
type process struct {
	pid    int
	cancel context.CancelFunc

	mu     sync.Mutex
	signal string // the signal that ended it: "" none, TERM, KILL, ...
	hup    bool   // its session is gone: the next write breaks the pipe
}

// hangup records that nobody reads the process's output any more.
func (p *process) hangup() {
	p.mu.Lock()
	p.hup = true
	p.mu.Unlock()
}

func (p *process) hungUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hup
}

// brokenPipe is the panic value of a write to a session that is gone: the
// simulated SIGPIPE, which kills the process where it stands.
type brokenPipe struct{}

// pipeWriter is a process's stdout or stderr: a write after the session
// went away kills the process, as SIGPIPE does a real one.
type pipeWriter struct {
	w io.Writer
	p *process
}

func (pw pipeWriter) Write(b []byte) (int, error) {
	if pw.p.hungUp() {
		panic(brokenPipe{})
	}
	n, err := pw.w.Write(b)
	if err != nil {
		panic(brokenPipe{})
	}
	return n, nil
}

// runProcess runs one command line as a process whose output goes to the
// session; a process killed by SIGPIPE exits 141.
func (h *host) runProcess(ctx context.Context, p *process, user, line string, ch ssh.Channel) (code int, helperRan bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(brokenPipe); !ok {
				panic(r)
			}
			p.kill("PIPE")
			code = 141
		}
	}()
	return h.exec(ctx, p, user, line, ch, pipeWriter{ch, p}, pipeWriter{ch.Stderr(), p})
}

// kill delivers sig: the simulated process's context is canceled. The
// helper handles TERM and INT itself (it exits "interrupted"); any other
// signal kills it outright, which the exit report shows.
func (p *process) kill(sig string) {
	p.mu.Lock()
	if p.signal == "" || sig == "KILL" {
		p.signal = sig
	}
	p.mu.Unlock()
	p.cancel()
}

func (p *process) killedBy() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signal
}

// start registers a new process of the node.
func (h *host) start(cancel context.CancelFunc) *process {
	h.procMu.Lock()
	defer h.procMu.Unlock()
	if h.nextPID == 0 {
		h.nextPID = firstPID
	}
	p := &process{pid: h.nextPID, cancel: cancel}
	h.nextPID++
	if h.procs == nil {
		h.procs = map[int]*process{}
	}
	h.procs[p.pid] = p
	return p
}

func (h *host) exit(p *process) {
	h.procMu.Lock()
	delete(h.procs, p.pid)
	h.procMu.Unlock()
}

// killBuiltin is kill(1) for simulated processes: kill [-s SIG | -SIG] [--] [-]PID...
func killBuiltin(e *cmdEnv, args []string) int {
	sig := "TERM"
	switch {
	case len(args) >= 2 && args[0] == "-s":
		sig, args = strings.TrimPrefix(strings.ToUpper(args[1]), "SIG"), args[2:]
	case len(args) >= 1 && len(args[0]) > 1 && args[0][0] == '-' && args[0] != "--" && !isDigits(args[0][1:]):
		sig, args = strings.TrimPrefix(strings.ToUpper(args[0][1:]), "SIG"), args[1:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "kill: usage: kill [-s sigspec | -sigspec] pid ...")
		return 2
	}
	code := 0
	for _, a := range args {
		pid, err := strconv.Atoi(strings.TrimPrefix(a, "-")) // -PGID: the group is the process here
		if err != nil {
			fmt.Fprintf(e.stderr, "kill: %s: arguments must be process or job IDs\n", a)
			code = 1
			continue
		}
		e.h.procMu.Lock()
		p := e.h.procs[pid]
		e.h.procMu.Unlock()
		if p == nil {
			fmt.Fprintf(e.stderr, "kill: (%s) - No such process\n", a)
			code = 1
			continue
		}
		p.kill(sig)
	}
	return code
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
