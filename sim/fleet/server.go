package fleet

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/sim/simnode"
)

// handshakeDeadline bounds a client's side of the SSH handshake, so a client
// that connects and goes silent does not hold a goroutine forever.
const handshakeDeadline = 30 * time.Second

// host is one simulated node's SSH server.
type host struct {
	fleet *Fleet
	name  string
	spec  NodeSpec
	sim   *simnode.Node
	sys   node.System // sim, as the SFTP server and the builtins see it
	// helperSys is sim as the helper sees it: with Faults.MkdirENOSPC.
	helperSys node.System

	addr     *net.TCPAddr
	known    ssh.PublicKey // the key written to known_hosts
	config   *ssh.ServerConfig
	listener net.Listener // nil when the node is unreachable

	mu    sync.Mutex
	conns map[net.Conn]struct{}

	rebootDue   atomic.Bool  // Faults.RebootAfterExec reached: reboot on the next request
	execs       atomic.Int64 // every exec, for Faults.DropExec
	helperExecs atomic.Int64 // helper execs, for Faults.RebootAfterExec
	shas        shaCache

	procMu  sync.Mutex
	procs   map[int]*process // running execs by pid
	nextPID int
}

// serve accepts connections until the listener is closed.
func (h *host) serve() {
	defer h.fleet.wg.Done()
	for {
		conn, err := h.listener.Accept()
		if err != nil {
			return
		}
		if !h.track(conn) {
			_ = conn.Close()
			return
		}
		h.fleet.wg.Add(1)
		go h.serveConn(conn)
	}
}

// track records an open connection; false once the fleet is closing.
func (h *host) track(c net.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns == nil {
		return false
	}
	h.conns[c] = struct{}{}
	return true
}

func (h *host) untrack(c net.Conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

// cutConnections closes every open connection but keep, as a reboot or a
// network failure would; closing for good (Fleet.Close) also refuses new
// ones.
func (h *host) cutConnections(forGood bool, keep net.Conn) {
	h.mu.Lock()
	conns := h.conns
	if forGood {
		h.conns = nil
	} else {
		h.conns = map[net.Conn]struct{}{}
		if keep != nil {
			h.conns[keep] = struct{}{}
		}
	}
	h.mu.Unlock()
	for c := range conns {
		if c != keep {
			_ = c.Close()
		}
	}
}

func (h *host) serveConn(conn net.Conn) {
	defer h.fleet.wg.Done()
	defer h.untrack(conn)
	defer conn.Close()
	ctx := h.fleet.ctx
	if h.spec.Faults.HandshakeHang {
		_, _ = io.Copy(io.Discard, conn) // until the client gives up or Close
		return
	}
	if !sleep(ctx, h.spec.HandshakeLatency) {
		return
	}
	if h.rebootDue.CompareAndSwap(true, false) {
		h.reboot(conn) // this connection reaches the node after its reboot
	}
	_ = conn.SetDeadline(time.Now().Add(handshakeDeadline))
	sconn, chans, reqs, err := ssh.NewServerConn(conn, h.config)
	if err != nil {
		return // auth refused, client went away: the client sees it
	}
	_ = conn.SetDeadline(time.Time{})
	var sessions sync.WaitGroup
	sessions.Add(1)
	go func() {
		defer sessions.Done()
		ssh.DiscardRequests(reqs) // keepalive@openssh.com gets "failure", as from sshd
	}()
	for nc := range chans {
		if h.rebootDue.CompareAndSwap(true, false) {
			h.reboot(nil) // the node went down while this connection sat idle
			break
		}
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.Prohibited, "only session channels on a simulated node")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		sessions.Add(1)
		go func() {
			defer sessions.Done()
			h.serveSession(ctx, conn, sconn, ch, creqs)
		}()
	}
	_ = conn.Close() // unblocks sessions still writing
	sessions.Wait()
}

// serveSession answers one session channel: env and pty are declined, one
// exec or the sftp subsystem runs, signals reach what runs.
func (h *host) serveSession(ctx context.Context, conn net.Conn, sconn *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		proc *process
		done chan struct{}
	)
	for req := range reqs {
		switch {
		case req.Type == "exec" && done == nil:
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			proc, done = h.start(cancel), make(chan struct{}) // running before the client hears so
			_ = req.Reply(true, nil)
			go func() {
				defer close(done)
				defer h.exit(proc)
				h.runExec(ctx, conn, proc, sconn.User(), p.Command, ch)
			}()
		case req.Type == "subsystem" && done == nil:
			var p struct{ Name string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil || p.Name != "sftp" {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			done = make(chan struct{})
			go func() {
				defer close(done)
				h.serveSFTP(ch, sconn.User())
			}()
		case req.Type == "signal":
			var p struct{ Signal string }
			if err := ssh.Unmarshal(req.Payload, &p); err == nil && proc != nil {
				proc.kill(p.Signal)
			}
			_ = req.Reply(false, nil)
		default: // env, pty-req, shell, a second exec: a simulated node has no shell
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
	// The client closed the session. Like sshd without a pty, send no
	// signal: the process runs on and dies of SIGPIPE at its next write.
	if proc != nil {
		proc.hangup()
	}
	if done != nil {
		<-done
	}
	_ = ch.Close()
}

func (h *host) serveSFTP(ch ssh.Channel, user string) {
	defer ch.Close()
	sys := h.sys
	if user != "root" {
		sys = &userSystem{System: h.sys, user: user}
	}
	files := newSFTPFS(sys, h.shas.forget)
	srv := sftp.NewRequestServer(newFsyncFilter(ch, files.fsyncPath), files.handlers())
	_ = srv.Serve() // io.EOF when the client closes
	_ = srv.Close()
	for _, u := range files.openUploads() {
		_ = u.Close() // a client gone mid-upload leaves what it wrote, as on a real disk
	}
}

// runExec runs one command line and reports its exit status (or the
// signal that killed it), unless this exec is the one Faults.DropExec cuts.
func (h *host) runExec(ctx context.Context, conn net.Conn, proc *process, user, line string, ch ssh.Channel) {
	defer ch.Close()
	n := h.execs.Add(1)
	code, helperRan := 255, false // 255: killed before it ran (its signal is reported)
	if sleep(ctx, h.spec.ExecLatency) {
		code, helperRan = h.runProcess(ctx, proc, user, line, ch)
	}
	h.exit(proc) // the process is gone before its exit is reported, as with sshd
	if r := h.spec.Faults.RebootAfterExec; helperRan && r > 0 && h.helperExecs.Load() == int64(r) {
		// Set before the exit is reported. The reboot happens at the node's next request (a session on an
		// open connection, or a new connection): deterministic for tests,
		// and what a client sees of a node that rebooted while idle.
		h.rebootDue.Store(true)
	}
	if d := h.spec.Faults.DropExec; d > 0 && n == int64(d) {
		_ = conn.Close() // the command ran; its exit status never arrives
		return
	}
	_ = ch.CloseWrite()
	if sig := proc.killedBy(); sig != "" && (!helperRan || sig != "TERM" && sig != "INT") {
		_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}{Signal: sig}))
	} else {
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

var errNoHelper = errors.New("no helper wired into the simulated fleet (Options.Helper)")
