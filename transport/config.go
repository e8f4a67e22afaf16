package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"
)

// Target is one node as the transport reaches it.
type Target struct {
	Name    string // node name, used in errors and logs; defaults to Address
	Address string // host name or IP
	Port    int    // 0 means 22
	User    string // login user
	Arch    string // amd64 or arm64; "" means detect with uname -m (see Pool.Arch)
	Sudo    bool   // run commands through `sudo -n --` (ignored for root)
	Jump    *Jump  // bastion to go through, nil for a direct connection
}

// Jump is a bastion host. It authenticates with the same keys and host key
// policy as the nodes.
type Jump struct {
	Name    string
	Address string
	Port    int
	User    string
}

// ContextDialer opens TCP connections. *net.Dialer implements it; tests and
// proxies inject their own.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Config configures a Pool. Zero durations and limits take the defaults
// documented on each field.
type Config struct {
	// KnownHostsFiles are OpenSSH known_hosts files (hashed entries work).
	KnownHostsFiles []string
	// PinnedHostKeys maps a host (Target.Name, Address or "[Address]:Port")
	// to its accepted keys, each an authorized_keys-format line
	// ("ssh-ed25519 AAAA...") or a fingerprint ("SHA256:..."). A host with
	// pinned keys is checked against them only.
	PinnedHostKeys map[string][]string
	// InsecureIgnoreHostKey accepts any host key. For labs only: every dial
	// logs a warning. It cannot be combined with known hosts or pins.
	InsecureIgnoreHostKey bool

	// KeyFiles are private key files offered in order.
	KeyFiles []string
	// KeyPassphrase returns the passphrase of an encrypted key file. It is
	// called once per encrypted file, in New. Passphrases are never logged.
	KeyPassphrase func(file string) ([]byte, error)
	// UseAgent offers the keys of the ssh-agent at $SSH_AUTH_SOCK.
	UseAgent bool

	// DialTimeout bounds the TCP connect (default 10s).
	DialTimeout time.Duration
	// HandshakeTimeout bounds the SSH handshake and authentication
	// (default 15s).
	HandshakeTimeout time.Duration
	// KeepaliveInterval is the period of keepalive@openssh.com requests on
	// open connections; a connection that does not answer within one
	// interval is closed and evicted (default 30s; negative disables).
	KeepaliveInterval time.Duration
	// MaxConns caps open node connections (default 256). Bastion
	// connections are shared and not counted.
	MaxConns int
	// HandshakesPerSecond limits new SSH handshakes across the pool
	// (default 50).
	HandshakesPerSecond float64
	// CancelGrace is how long a canceled command gets between SIGTERM and
	// SIGKILL before its session is closed (default 2s).
	CancelGrace time.Duration
	// MaxOutputBytes caps what Exec keeps of stdout and of stderr each
	// (default 64 MiB); the rest is discarded and Result.Truncated set.
	MaxOutputBytes int

	// Dialer opens TCP connections (default a net.Dialer).
	Dialer ContextDialer
	// Logger receives connection events (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 15 * time.Second
	}
	if c.KeepaliveInterval == 0 {
		c.KeepaliveInterval = 30 * time.Second
	}
	if c.MaxConns == 0 {
		c.MaxConns = 256
	}
	if c.HandshakesPerSecond == 0 {
		c.HandshakesPerSecond = 50
	}
	if c.CancelGrace == 0 {
		c.CancelGrace = 2 * time.Second
	}
	if c.MaxOutputBytes == 0 {
		c.MaxOutputBytes = 64 << 20
	}
	if c.Dialer == nil {
		c.Dialer = &net.Dialer{Timeout: c.DialTimeout}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	var errs []error
	hostKeys := len(c.KnownHostsFiles) > 0 || len(c.PinnedHostKeys) > 0
	switch {
	case c.InsecureIgnoreHostKey && hostKeys:
		errs = append(errs, errors.New("InsecureIgnoreHostKey is set together with KnownHostsFiles/PinnedHostKeys: pick one"))
	case !c.InsecureIgnoreHostKey && !hostKeys:
		errs = append(errs, errors.New("no host key source: set KnownHostsFiles or PinnedHostKeys (InsecureIgnoreHostKey only for labs)"))
	}
	if len(c.KeyFiles) == 0 && !c.UseAgent {
		errs = append(errs, errors.New("no credentials: set KeyFiles or UseAgent"))
	}
	if c.DialTimeout < 0 || c.HandshakeTimeout < 0 || c.CancelGrace < 0 {
		errs = append(errs, errors.New("DialTimeout, HandshakeTimeout and CancelGrace must not be negative"))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("MaxConns is %d: must be positive (0 means the default)", c.MaxConns))
	}
	if c.HandshakesPerSecond < 0 {
		errs = append(errs, fmt.Errorf("HandshakesPerSecond is %g: must be positive (0 means the default)", c.HandshakesPerSecond))
	}
	if c.MaxOutputBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxOutputBytes is %d: must be positive (0 means the default)", c.MaxOutputBytes))
	}
	return errors.Join(errs...)
}

// endpoint is a resolved host:port with its login user.
type endpoint struct {
	name, host, user string
	port             int
}

func (e endpoint) addr() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }

func (e endpoint) key() string { return e.user + "@" + e.addr() }

func checkEndpoint(kind, name, host string, port int, user string) (endpoint, error) {
	if port == 0 {
		port = 22
	}
	if name == "" {
		name = host
	}
	var errs []error
	if host == "" {
		errs = append(errs, fmt.Errorf("%s %q has no Address", kind, name))
	}
	if port < 0 || port > 65535 {
		errs = append(errs, fmt.Errorf("%s %q: port %d out of range", kind, name, port))
	}
	if user == "" {
		errs = append(errs, fmt.Errorf("%s %q has no User: set the login user", kind, name))
	}
	return endpoint{name: name, host: host, port: port, user: user}, errors.Join(errs...)
}

// route is how a target is reached: the node endpoint and, optionally, the
// bastion in front of it.
type route struct {
	node endpoint
	jump *endpoint
}

func (r route) key() string {
	if r.jump == nil {
		return r.node.key()
	}
	return r.node.key() + " via " + r.jump.key()
}

func checkTarget(t Target) (route, error) {
	n, err := checkEndpoint("target", t.Name, t.Address, t.Port, t.User)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	switch t.Arch {
	case "", "amd64", "arm64":
	default:
		errs = append(errs, fmt.Errorf("target %q: Arch %q: want amd64, arm64 or empty to detect", n.name, t.Arch))
	}
	r := route{node: n}
	if t.Jump != nil {
		j, err := checkEndpoint("jump host", t.Jump.Name, t.Jump.Address, t.Jump.Port, t.Jump.User)
		if err != nil {
			errs = append(errs, err)
		}
		r.jump = &j
	}
	if err := errors.Join(errs...); err != nil {
		return route{}, newError(ClassBadInput, n.name, "target", err)
	}
	return r, nil
}
