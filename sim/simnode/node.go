package simnode

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kmemfix/kmemfix/node"
)

var _ node.System = (*Node)(nil)

// Node is a simulated node. It is safe for concurrent use.
type Node struct {
	mu        sync.Mutex
	cfg       Config
	legacy    bool // 3.10: kmem ids leak, slabinfo EIO
	swap      bool // memsw files exist
	unlimited int64
	rng       *rand.Rand
	scratch   []string // see split
	bootID    string

	clock   int64 // kernel operations (System calls)
	ops     int   // mutating operations
	crashAt int
	faults  []*fault

	root      *cgroup
	ids       *idAllocator
	live      int
	leaked    int
	rootFiles fileSet
	cgFiles   fileSet

	procs   map[int]*proc
	threads map[int]*thread
	nextPid int
	forkers []*proc
	exits   exitHeap

	fs      *rnode
	locks   map[string]uint64
	lockSeq uint64

	units            map[string]*unit
	kubelet          KubeletInfo // what the running kubelet was started from
	kubeletPending   bool        // started, kubepods not set up yet
	replay           bool        // after Reboot: the kubelet brings the pods back
	kubeletLog       []string
	cadvisorRestarts int
	commands         map[string]CommandFunc

	pods []Pod // populated pods, replayed by Reboot
}

// New builds a node: a root memory cgroup, system processes, the regular
// filesystem with the binaries, and the services (docker, kubelet,
// cadvisor) active unless configured otherwise. Add pods with AddPods.
func New(cfg Config) *Node {
	cfg = cfg.withDefaults()
	n := &Node{
		cfg:       cfg,
		legacy:    strings.HasPrefix(cfg.Kernel, "3."),
		swap:      !cfg.NoSwapAccount,
		unlimited: math.MaxInt64 / cfg.PageSize * cfg.PageSize,
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6b6d656d666978)), //nolint:gosec // deterministic simulation, not security
		crashAt:   -1,
		locks:     map[string]uint64{},
		commands:  map[string]CommandFunc{},
	}
	n.rootFiles = newFileSet(true, n.swap)
	n.cgFiles = newFileSet(false, n.swap)
	n.fs = newRegularFS(n)
	n.boot()
	return n
}

// boot (re)creates everything that does not survive a reboot.
func (n *Node) boot() {
	n.bootID = n.uuid()
	n.root = n.newRoot()
	n.procs = map[int]*proc{}
	n.threads = map[int]*thread{}
	n.nextPid = 1
	n.forkers = nil
	n.exits = nil
	clear(n.locks)
	n.kubelet = KubeletInfo{}
	n.kubeletPending = false
	n.spawnSystem()
	n.initUnits()
}

// spawnSystem starts the processes every CentOS node has in the root
// memory cgroup.
func (n *Node) spawnSystem() {
	for _, s := range []ProcSpec{
		{Name: "systemd", PPid: -1, Anon: 6 << 20, File: 2 << 20},
		{Name: "kthreadd", PPid: -1},
		{Name: "systemd-journal", Anon: 4 << 20, File: 32 << 20},
		{Name: "sshd", Anon: 1 << 20},
		{Name: "crond", Anon: 1 << 20},
	} {
		p, _ := n.spawn(n.root, s)
		if s.PPid < 0 {
			p.ppid = 0
		}
	}
}

func (n *Node) uuid() string {
	a, b := n.rng.Uint64(), n.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, a>>16&0xffff, 0x4000|a&0x0fff, 0x8000|b>>48&0x3fff, b&0xffffffffffff)
}

// bootTime is the simulated wall clock's origin; every kernel operation
// advances the clock by a millisecond.
var bootTime = time.Date(2024, 6, 3, 10, 0, 0, 0, time.UTC)

func (n *Node) now() time.Time {
	return bootTime.Add(time.Duration(n.clock) * time.Millisecond)
}

// area is where a path lives.
type area int

const (
	areaRegular area = iota
	areaCgroup
	areaProc
)

// locate cleans an absolute path and tells where it lives; parts are the
// components below the area's root (the cgroup root, /proc or /).
func (n *Node) locate(op, p string) (area, []string, error) {
	if !path.IsAbs(p) {
		return 0, nil, perr(op, p, syscall.EINVAL)
	}
	c := p
	if !isClean(p) {
		c = path.Clean(p)
	}
	root := n.cfg.CgroupRoot
	switch {
	case !n.cfg.Unmounted && c == root:
		return areaCgroup, nil, nil
	case !n.cfg.Unmounted && strings.HasPrefix(c, root+"/"):
		return areaCgroup, n.split(c[len(root)+1:]), nil
	case c == "/proc":
		return areaProc, nil, nil
	case strings.HasPrefix(c, "/proc/"):
		return areaProc, n.split(c[len("/proc/"):]), nil
	case c == "/":
		return areaRegular, nil, nil
	}
	return areaRegular, n.split(c[1:]), nil
}

// isClean reports whether an absolute path is already what path.Clean
// would return, so the common case allocates nothing.
func isClean(p string) bool {
	n := len(p)
	if n > 1 && p[n-1] == '/' {
		return false
	}
	if !strings.Contains(p, "/.") {
		return !strings.Contains(p, "//")
	}
	for i := 0; i < n; i++ {
		if p[i] != '/' {
			continue
		}
		j := i + 1
		if j < n && p[j] == '/' {
			return false
		}
		if j < n && p[j] == '.' {
			if j+1 == n || p[j+1] == '/' {
				return false
			}
			if p[j+1] == '.' && (j+2 == n || p[j+2] == '/') {
				return false
			}
		}
	}
	return true
}

// split splits a clean relative path into the node's scratch slice: the
// parts are valid until the next split (every caller holds n.mu and is
// done with them before it locates another path).
func (n *Node) split(s string) []string {
	parts := n.scratch[:0]
	for {
		i := strings.IndexByte(s, '/')
		if i < 0 {
			parts = append(parts, s)
			break
		}
		parts = append(parts, s[:i])
		s = s[i+1:]
	}
	n.scratch = parts
	return parts
}

// IDsInUse is the number of memory css ids in use, leaked ones included.
func (n *Node) IDsInUse() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ids.inUse()
}

// LeakedIDs is the number of ids held by removed kmem-accounted cgroups.
func (n *Node) LeakedIDs() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leaked
}

// LiveCgroups is the number of memory cgroups, the root included.
func (n *Node) LiveCgroups() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.live
}

// FreeIDs is the number of css ids mkdir can still use.
func (n *Node) FreeIDs() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg.MaxIDs - n.ids.inUse()
}

// BootID is the current boot id.
func (n *Node) BootID() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.bootID
}

// Config returns the node's configuration with defaults filled in.
func (n *Node) Config() Config { return n.cfg }

// Cgroups lists every cgroup path ("/", "/kubepods", ...), parents first.
func (n *Node) Cgroups() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	walkCgroups(n.root, func(c *cgroup) { out = append(out, c.path()) })
	return out
}

// CgroupState is a cgroup as tests see it.
type CgroupState struct {
	Path           string
	ID             int
	Kmem           bool
	UseHierarchy   bool
	Limit          int64
	MemswLimit     int64
	SoftLimit      int64
	Swappiness     int
	OOMKillDisable bool
	MoveCharge     int
	Usage          int64
	Tasks          int
}

// Cgroup describes the cgroup at rel, if it exists.
func (n *Node) Cgroup(rel string) (CgroupState, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.cgroupAt(rel)
	if c == nil {
		return CgroupState{}, false
	}
	return CgroupState{
		Path: c.path(), ID: c.id, Kmem: c.kmem, UseHierarchy: c.useHierarchy,
		Limit: c.limit, MemswLimit: c.memswLimit, SoftLimit: c.softLimit,
		Swappiness: c.swappiness, OOMKillDisable: c.oomKillDisable, MoveCharge: c.moveCharge,
		Usage: c.usage(), Tasks: len(c.tasks),
	}, true
}

// Unlimited is the value an unlimited limit reads as.
func (n *Node) Unlimited() int64 { return n.unlimited }

// SetVMSwappiness is `sysctl vm.swappiness=v`: on 3.10 the root memory
// cgroup's swappiness is the global one, and cgroups created from now on
// inherit it; existing ones keep theirs.
func (n *Node) SetVMSwappiness(v int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.root.swappiness = v
}
