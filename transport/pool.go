package transport

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/melbahja/goph"
	"golang.org/x/crypto/ssh"
	"golang.org/x/time/rate"
)

// Pool holds SSH connections to nodes: one per node route, reused while
// alive, at most Config.MaxConns open, new handshakes rate limited.
// It is safe for concurrent use.
type Pool struct {
	cfg      Config
	hostKeys *hostKeys
	creds    *credentials
	limiter  *rate.Limiter
	log      *slog.Logger

	mu       sync.Mutex
	closed   bool
	conns    map[string]*conn    // node connections, dialing or open, by route key
	bastions map[string]*bastion // jump host connections by endpoint key
	open     int                 // len(conns): counted against MaxConns
	changed  chan struct{}       // closed and replaced when a slot may have freed
	arch     map[string]string   // detected architecture by route key

	wg       sync.WaitGroup // keepalive and watcher goroutines
	stats    stats
	closeCtx context.Context // canceled by Close: aborts dials in progress
	cancel   context.CancelFunc
}

// New validates cfg, loads keys and known_hosts, and returns an empty pool.
func New(cfg Config) (*Pool, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("transport config: %w", err)
	}
	cfg.setDefaults()
	hk, err := newHostKeys(&cfg)
	if err != nil {
		return nil, fmt.Errorf("transport config: %w", err)
	}
	creds, err := loadCredentials(&cfg)
	if err != nil {
		return nil, fmt.Errorf("transport config: %w", err)
	}
	burst := max(1, int(cfg.HandshakesPerSecond/10))
	closeCtx, cancel := context.WithCancel(context.Background())
	return &Pool{
		closeCtx: closeCtx, cancel: cancel,
		cfg: cfg, hostKeys: hk, creds: creds, log: cfg.Logger,
		limiter:  rate.NewLimiter(rate.Limit(cfg.HandshakesPerSecond), burst),
		conns:    map[string]*conn{},
		bastions: map[string]*bastion{},
		changed:  make(chan struct{}),
		arch:     map[string]string{},
	}, nil
}

// conn is one pooled node connection.
type conn struct {
	key     string
	route   route
	ready   chan struct{} // closed when the dial finished
	err     error         // dial error, set before ready closes
	client  *goph.Client
	bastion *bastion
	refs    int // calls using it now
	used    time.Time
	dead    bool
}

// bastion is a shared jump host connection, closed when no node connection
// uses it.
type bastion struct {
	key    string
	ep     endpoint
	ready  chan struct{}
	err    error
	client *ssh.Client
	refs   int
}

// broadcast wakes everyone waiting for a free slot. Call with p.mu held.
func (p *Pool) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// acquire returns a live connection for r with a reference taken; the
// caller must release it. reused says whether it was already open.
func (p *Pool) acquire(ctx context.Context, r route) (c *conn, reused bool, err error) {
	key := r.key()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, false, ErrClosed
		}
		if c := p.conns[key]; c != nil {
			select {
			case <-c.ready:
				c.refs++
				c.used = time.Now()
				p.mu.Unlock()
				p.stats.reused.Add(1)
				return c, true, nil
			default:
			}
			p.mu.Unlock()
			if err := p.waitDial(ctx, c); err != nil {
				return nil, false, err
			}
			continue
		}
		if p.open >= p.cfg.MaxConns {
			victim := p.lruIdleLocked()
			if victim == nil {
				wake := p.changed
				p.mu.Unlock()
				p.stats.capWaits.Add(1)
				select {
				case <-ctx.Done():
					return nil, false, newError(ClassCanceled, r.node.name, "connect", fmt.Errorf("waiting for a free connection slot (MaxConns %d): %w", p.cfg.MaxConns, ctx.Err()))
				case <-wake:
				}
				continue
			}
			p.removeLocked(victim)
			p.mu.Unlock()
			p.log.Debug("closing idle ssh connection to make room", "node", victim.route.node.name, "max_conns", p.cfg.MaxConns)
			p.stats.lruClosed.Add(1)
			_ = victim.client.Close()
			continue
		}
		c := &conn{key: key, route: r, ready: make(chan struct{}), refs: 1}
		p.conns[key] = c
		p.open++
		p.stats.notePeak(p.open)
		p.mu.Unlock()
		err := p.connect(ctx, c)
		p.mu.Lock()
		c.err = err
		close(c.ready)
		if err != nil {
			p.removeLocked(c)
		}
		p.mu.Unlock()
		if err != nil {
			return nil, false, err
		}
		return c, false, nil
	}
}

// waitDial waits for another call's dial of c. Its failure is this call's
// failure too, unless it was that call's own cancellation.
func (p *Pool) waitDial(ctx context.Context, c *conn) error {
	select {
	case <-ctx.Done():
		return newError(ClassCanceled, c.route.node.name, "connect", ctx.Err())
	case <-c.ready:
	}
	if c.err != nil && Classify(c.err) != ClassCanceled {
		return c.err
	}
	return nil
}

// lruIdleLocked returns the least recently used connection nobody uses.
func (p *Pool) lruIdleLocked() *conn {
	var victim *conn
	for _, c := range p.conns {
		select {
		case <-c.ready:
		default:
			continue
		}
		if c.refs == 0 && c.err == nil && (victim == nil || c.used.Before(victim.used)) {
			victim = c
		}
	}
	return victim
}

// removeLocked takes c out of the pool and frees its slot.
func (p *Pool) removeLocked(c *conn) {
	if p.conns[c.key] == c {
		delete(p.conns, c.key)
		p.open--
		p.broadcast()
	}
	c.dead = true
}

// release returns a reference taken by acquire.
func (p *Pool) release(c *conn) {
	p.mu.Lock()
	c.refs--
	c.used = time.Now()
	p.broadcast()
	p.mu.Unlock()
}

// discard closes c because it proved dead; the next acquire dials again.
func (p *Pool) discard(c *conn) {
	p.mu.Lock()
	p.removeLocked(c)
	p.mu.Unlock()
	_ = c.client.Close()
}

// connect dials c's route, through its bastion when it has one, and starts
// the goroutines that watch it.
func (p *Pool) connect(ctx context.Context, c *conn) error {
	r := c.route
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.closeCtx, cancel)() //nolint:contextcheck // by design: Close also cancels dials in progress
	if err := p.limiter.Wait(ctx); err != nil {
		return newError(ClassCanceled, r.node.name, "connect", fmt.Errorf("waiting for the handshake rate limit: %w", err))
	}
	var client *ssh.Client
	var err error
	if r.jump == nil {
		client, err = p.dialDirect(ctx, r.node)
	} else {
		var b *bastion
		if b, err = p.acquireBastion(ctx, *r.jump); err != nil {
			return err
		}
		if client, err = p.dialVia(ctx, b.client, *r.jump, r.node); err != nil {
			p.releaseBastion(b)
			return err
		}
		c.bastion = b
	}
	if err != nil {
		return err
	}
	c.client = gophClient(client, r.node, p.cfg.DialTimeout)
	p.stats.dials.Add(1)
	p.log.Debug("ssh connected", "node", r.node.name, "addr", r.node.addr(), "via", jumpName(r.jump))
	ok := p.watch(client, r.node.name, func() {
		p.mu.Lock()
		p.removeLocked(c)
		p.mu.Unlock()
		if c.bastion != nil {
			p.releaseBastion(c.bastion)
		}
	})
	if !ok {
		_ = client.Close()
		if c.bastion != nil {
			p.releaseBastion(c.bastion)
		}
		return ErrClosed
	}
	return nil
}

func jumpName(j *endpoint) string {
	if j == nil {
		return ""
	}
	return j.addr()
}

// watch runs, until client closes, a goroutine that calls gone when it does
// and one that sends keepalives, closing the connection when a keepalive
// goes unanswered for one interval. It returns false, starting nothing, when
// the pool is closed.
func (p *Pool) watch(client *ssh.Client, name string, gone func()) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	p.wg.Add(2)
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer p.wg.Done()
		err := client.Wait()
		close(done)
		p.log.Debug("ssh connection closed", "node", name, "err", err)
		gone()
	}()
	go func() {
		defer p.wg.Done()
		if p.cfg.KeepaliveInterval > 0 {
			p.keepalive(client, name, done)
		}
	}()
	return true
}

func (p *Pool) keepalive(client *ssh.Client, name string, done chan struct{}) {
	t := time.NewTicker(p.cfg.KeepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		timeout := time.AfterFunc(p.cfg.KeepaliveInterval, func() {
			p.log.Warn("ssh keepalive unanswered: closing the connection", "node", name, "waited", p.cfg.KeepaliveInterval)
			p.stats.keepaliveFailures.Add(1)
			_ = client.Close()
		})
		_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
		timeout.Stop()
		if err != nil {
			_ = client.Close()
			return
		}
	}
}

// acquireBastion returns the shared connection to a jump host with a
// reference taken.
func (p *Pool) acquireBastion(ctx context.Context, ep endpoint) (*bastion, error) {
	key := ep.key()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		b := p.bastions[key]
		if b == nil {
			break
		}
		b.refs++
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			p.releaseBastion(b)
			return nil, newError(ClassCanceled, ep.name, "connect", ctx.Err())
		case <-b.ready:
		}
		if b.err == nil {
			return b, nil
		}
		p.releaseBastion(b)
		if Classify(b.err) != ClassCanceled {
			return nil, b.err
		}
	}
	b := &bastion{key: key, ep: ep, ready: make(chan struct{}), refs: 1}
	p.bastions[key] = b
	p.mu.Unlock()
	client, err := p.dialDirect(ctx, ep)
	if err != nil {
		err = fmt.Errorf("jump host: %w", err)
	}
	p.mu.Lock()
	b.client, b.err = client, err
	close(b.ready)
	if err != nil && p.bastions[key] == b {
		delete(p.bastions, key)
	}
	p.mu.Unlock()
	if err != nil {
		p.releaseBastion(b)
		return nil, err
	}
	p.stats.dials.Add(1)
	ok := p.watch(client, ep.name, func() {
		p.mu.Lock()
		if p.bastions[key] == b {
			delete(p.bastions, key)
		}
		p.mu.Unlock()
	})
	if !ok {
		p.releaseBastion(b)
		return nil, ErrClosed
	}
	return b, nil
}

// releaseBastion drops a reference; the last one closes the connection.
func (p *Pool) releaseBastion(b *bastion) {
	p.mu.Lock()
	b.refs--
	last := b.refs == 0
	if last && p.bastions[b.key] == b {
		delete(p.bastions, b.key)
	}
	p.mu.Unlock()
	if last && b.client != nil {
		_ = b.client.Close()
	}
}

// Close closes every connection and waits for the pool's goroutines.
// Calls in flight fail; later calls return ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.cancel()
	var clients []*ssh.Client
	for _, c := range p.conns {
		select {
		case <-c.ready:
			if c.client != nil {
				clients = append(clients, c.client.Client)
			}
		default:
		}
	}
	for _, b := range p.bastions {
		select {
		case <-b.ready:
			if b.client != nil {
				clients = append(clients, b.client)
			}
		default:
		}
	}
	p.broadcast()
	p.mu.Unlock()
	for _, c := range clients {
		_ = c.Close()
	}
	p.wg.Wait()
	p.creds.close()
	return nil
}
