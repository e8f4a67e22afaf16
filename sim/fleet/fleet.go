package fleet

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/sim/simnode"
)

// ServerVersion is the SSH banner every simulated node sends: CentOS 7's.
const ServerVersion = "SSH-2.0-OpenSSH_7.4"

// Fleet is a running simulated fleet. Close it when done.
type Fleet struct {
	opts     Options
	accepted map[string]string // helper sha256 -> the architecture it runs on ("" any)

	clientKey ed25519.PrivateKey
	clientPub ssh.PublicKey

	hosts    []*host
	byName   map[string]*host
	reserved []net.Listener // ports of unreachable nodes, held during Start
	blobs    blobStore      // large files written through SSH, once per fleet

	// ctx is the fleet's lifetime, not a request's: commands running when
	// Close is called see it canceled.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
}

// Start builds the nodes and starts their SSH servers on 127.0.0.1, one
// port each. ctx bounds the start only; the fleet runs until Close.
func Start(ctx context.Context, opts Options) (*Fleet, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Fleet{opts: opts, accepted: map[string]string{}, byName: map[string]*host{}}
	if err := f.accept(opts); err != nil {
		return nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fleet: client key: %w", err)
	}
	f.clientKey = priv
	if f.clientPub, err = ssh.NewPublicKey(pub); err != nil {
		return nil, fmt.Errorf("fleet: client key: %w", err)
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	for i := range opts.Nodes {
		if err := ctx.Err(); err != nil {
			_ = f.Close() // always nil
			return nil, fmt.Errorf("fleet: start canceled after %d of %d nodes: %w", i, opts.Nodes, err)
		}
		name := opts.nodeName(i)
		h, err := f.newHost(ctx, name, opts.spec(i, name), int64(i))
		if err != nil {
			_ = f.Close() // always nil
			return nil, fmt.Errorf("fleet: node %s: %w", name, err)
		}
		f.hosts = append(f.hosts, h)
		f.byName[name] = h
	}
	for _, ln := range f.reserved {
		_ = ln.Close() // nothing to do: the port was never served
	}
	f.reserved = nil
	return f, nil
}

func (f *Fleet) newHost(ctx context.Context, name string, spec NodeSpec, seed int64) (*host, error) {
	sim, err := newSimNode(spec, seed)
	if err != nil {
		return nil, err
	}
	if _, err := unameMachine(spec.Arch); err != nil {
		return nil, err
	}
	sys := &blobSystem{System: sim, store: &f.blobs}
	h := &host{fleet: f, name: name, spec: spec, sim: sim, sys: sys, helperSys: sys, conns: map[net.Conn]struct{}{}}
	if n := spec.Faults.MkdirENOSPC; n > 0 {
		h.helperSys = &enospcSystem{System: sys, cgroupRoot: sim.Config().CgroupRoot, nth: n}
	}
	signer, err := newHostKey()
	if err != nil {
		return nil, err
	}
	h.known = signer.PublicKey()
	if spec.Faults.ChangedHostKey {
		if signer, err = newHostKey(); err != nil { // known_hosts keeps the first
			return nil, err
		}
	}
	h.config = &ssh.ServerConfig{
		ServerVersion:     ServerVersion,
		PublicKeyCallback: h.authorize,
		MaxAuthTries:      6,
	}
	h.config.AddHostKey(signer)
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w (raise the open-files limit, ulimit -n, for large fleets)", err)
	}
	h.addr = ln.Addr().(*net.TCPAddr)
	if spec.Faults.Unreachable {
		// The port stays assigned to the node and refuses connections. It is
		// closed once every node listens, so no other node gets it.
		f.reserved = append(f.reserved, ln)
		return h, nil
	}
	h.listener = ln
	f.wg.Add(1)
	go h.serve() //nolint:contextcheck // by design: servers outlive Start's ctx and run on f.ctx until Close
	if spec.ChurnEvery > 0 {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			sim.RunChurn(f.ctx, spec.ChurnEvery)
		}()
	}
	return h, nil
}

// accept records the helper builds that run, and where.
func (f *Fleet) accept(opts Options) error {
	add := func(sum, arch string) error {
		sum = strings.ToLower(strings.TrimSpace(sum))
		if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
			return fmt.Errorf("fleet: helper sha256 %q is not 64 hex digits", sum)
		}
		f.accepted[sum] = arch
		return nil
	}
	for _, s := range opts.HelperSHA256s {
		if err := add(s, ""); err != nil {
			return err
		}
	}
	for arch, sums := range opts.HelperBuilds {
		if _, err := unameMachine(arch); err != nil {
			return err
		}
		for _, s := range sums {
			if err := add(s, arch); err != nil {
				return err
			}
		}
	}
	return nil
}

func newHostKey() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	return ssh.NewSignerFromKey(priv)
}

var errAuth = errors.New("public key refused")

// authorize accepts the fleet's client key for the configured user.
func (h *host) authorize(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if h.spec.Faults.AuthRefusal || meta.User() != h.fleet.opts.User {
		return nil, errAuth
	}
	if string(key.Marshal()) != string(h.fleet.clientPub.Marshal()) {
		return nil, errAuth
	}
	return &ssh.Permissions{}, nil
}

// Node returns the simulated kernel of the named node, nil if there is none.
func (f *Fleet) Node(name string) *simnode.Node {
	if h := f.byName[name]; h != nil {
		return h.sim
	}
	return nil
}

// NodeInfo describes one node of the fleet as a client reaches it.
type NodeInfo struct {
	Name    string
	Address string // 127.0.0.1
	Port    int
	User    string
	Arch    string        // amd64 or arm64
	HostKey ssh.PublicKey // as written to known_hosts (Faults.ChangedHostKey presents another)
	Spec    NodeSpec
}

// Nodes lists the nodes in name order.
func (f *Fleet) Nodes() []NodeInfo {
	out := make([]NodeInfo, len(f.hosts))
	for i, h := range f.hosts {
		out[i] = NodeInfo{Name: h.name, Address: h.addr.IP.String(), Port: h.addr.Port, User: f.opts.User, Arch: h.spec.Arch, HostKey: h.known, Spec: h.spec}
	}
	return out
}

// Close stops every server, cuts every connection, cancels running
// commands and waits for all of the fleet's goroutines to end.
func (f *Fleet) Close() error {
	f.closeOnce.Do(func() {
		if f.cancel != nil {
			f.cancel()
		}
		for _, ln := range f.reserved {
			_ = ln.Close()
		}
		for _, h := range f.hosts {
			if h.listener != nil {
				_ = h.listener.Close() // Close cannot do more than try
			}
			h.cutConnections(true, nil)
		}
		f.wg.Wait()
	})
	return nil
}

// reboot reboots the node: new boot id, fresh cgroup tree, every
// connection cut but keep (one made after the reboot).
func (h *host) reboot(keep net.Conn) {
	h.sim.Reboot()
	h.cutConnections(false, keep)
}

var _ node.System = (*simnode.Node)(nil)
