package simnode

import (
	"sort"
	"strings"
	"syscall"
)

// cgroup is one memory cgroup (a css with its id).
type cgroup struct {
	name     string
	parent   *cgroup
	children map[string]*cgroup
	sorted   []string // sorted child names; nil when stale
	id       int
	dead     bool

	kmem           bool // kernel-memory accounting is on
	kmemLimit      int64
	kmemTCPLimit   int64
	useHierarchy   bool
	limit          int64
	memswLimit     int64
	softLimit      int64
	swappiness     int
	oomKillDisable bool
	moveCharge     int
	cloneChildren  bool
	notify         bool
	releaseAgent   string

	anon, file       int64 // charges owned by this cgroup
	subAnon, subFile int64 // charges owned by this cgroup and its descendants
	maxUsage         int64
	failcnt          int64
	memswFailcnt     int64
	kmemMaxUsage     int64

	slabinfo  []byte // cached memory.kmem.slabinfo (it names the cgroup)
	pathCache string // cached path(); cleared by rename

	tasks   map[int]*thread
	charged map[*proc]struct{} // processes whose anon or file charge this cgroup owns
}

// path is the cgroup's path relative to the hierarchy root, as
// /proc/<pid>/cgroup shows it: "/" for the root, "/kubepods/pod1".
func (c *cgroup) path() string {
	if c.parent == nil {
		return "/"
	}
	if c.pathCache != "" {
		return c.pathCache
	}
	var parts []string
	for x := c; x.parent != nil; x = x.parent {
		parts = append(parts, x.name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	c.pathCache = b.String()
	return c.pathCache
}

func (c *cgroup) sortedChildren() []string {
	if c.sorted == nil {
		c.sorted = make([]string, 0, len(c.children))
		for name := range c.children {
			c.sorted = append(c.sorted, name)
		}
		sort.Strings(c.sorted)
	}
	return c.sorted
}

// hierParent is the cgroup whose counters also see this one's charges: its
// parent when the parent has use_hierarchy=1 (the res_counter parent).
func (c *cgroup) hierParent() *cgroup {
	if c.parent != nil && c.parent.useHierarchy {
		return c.parent
	}
	return nil
}

// validName applies the kernel's rules on a new cgroup's name.
func validName(name string) syscall.Errno {
	switch {
	case strings.ContainsAny(name, "\n/\x00"):
		return syscall.EINVAL // a path separator or NUL cannot reach mkdir; newline the kernel refuses
	case len(name) > 255:
		return syscall.ENAMETOOLONG
	case name == "" || name == "." || name == "..":
		return syscall.EEXIST
	}
	return 0
}

// newRoot builds the hierarchy's root cgroup, which holds css id 1.
func (n *Node) newRoot() *cgroup {
	n.ids = newIDAllocator(n.cfg.MaxIDs)
	id, _ := n.ids.alloc()
	n.live, n.leaked = 1, 0
	return &cgroup{
		id:           id,
		children:     map[string]*cgroup{},
		useHierarchy: !n.cfg.RootNoHierarchy,
		limit:        n.unlimited,
		memswLimit:   n.unlimited,
		softLimit:    n.unlimited,
		kmemLimit:    n.unlimited,
		kmemTCPLimit: n.unlimited,
		swappiness:   60,
		tasks:        map[int]*thread{},
		charged:      map[*proc]struct{}{},
	}
}

// mkdirCgroup is mkdir(2) in the hierarchy: a new cgroup with the lowest
// free css id, inheriting use_hierarchy, swappiness, oom_kill_disable and
// (under use_hierarchy) kmem accounting from its parent.
func (n *Node) mkdirCgroup(parent *cgroup, name string) (*cgroup, syscall.Errno) {
	if e := validName(name); e != 0 {
		return nil, e
	}
	if _, ok := parent.children[name]; ok {
		return nil, syscall.EEXIST
	}
	if n.control(parent, name) != nil {
		return nil, syscall.EEXIST
	}
	id, ok := n.ids.alloc()
	if !ok {
		return nil, syscall.ENOSPC
	}
	c := &cgroup{
		name:           name,
		parent:         parent,
		id:             id,
		children:       map[string]*cgroup{},
		kmem:           n.legacy && parent.kmem && parent.useHierarchy,
		kmemLimit:      n.unlimited,
		kmemTCPLimit:   n.unlimited,
		useHierarchy:   parent.useHierarchy,
		limit:          n.unlimited,
		memswLimit:     n.unlimited,
		softLimit:      n.unlimited,
		swappiness:     parent.swappiness,
		oomKillDisable: parent.oomKillDisable,
		tasks:          map[int]*thread{},
		charged:        map[*proc]struct{}{},
	}
	parent.children[name] = c
	parent.sorted = nil
	n.live++
	return c, 0
}

// rmdirCgroup is rmdir(2) of a cgroup. Remaining charges go to the parent.
// An accounted cgroup's css id stays in use for good (the 3.10 leak).
func (n *Node) rmdirCgroup(c *cgroup) syscall.Errno {
	if c.parent == nil {
		return syscall.EBUSY
	}
	if len(c.tasks) > 0 || len(c.children) > 0 {
		return syscall.EBUSY
	}
	n.reparent(c, true, true)
	delete(c.parent.children, c.name)
	c.parent.sorted = nil
	c.dead = true
	n.live--
	if n.legacy && c.kmem {
		n.leaked++
	} else {
		n.ids.release(c.id)
	}
	return 0
}

// renameCgroup is rename(2) of a cgroup directory: 3.10 allows it within
// the same parent only.
func (n *Node) renameCgroup(c *cgroup, newParent *cgroup, newName string) syscall.Errno {
	if c.parent == nil {
		return syscall.EBUSY
	}
	if e := validName(newName); e != 0 {
		return e
	}
	if _, ok := newParent.children[newName]; ok || n.control(newParent, newName) != nil {
		return syscall.EEXIST
	}
	if newParent != c.parent {
		return syscall.EIO
	}
	delete(c.parent.children, c.name)
	c.name = newName
	walkCgroups(c, func(x *cgroup) { x.pathCache, x.slabinfo = "", nil })
	c.parent.children[newName] = c
	c.parent.sorted = nil
	return 0
}

// lookupCgroup walks parts (relative to the hierarchy root). It returns the
// cgroup, or the cgroup and a control file name when the last part is one.
func (n *Node) lookupCgroup(parts []string) (*cgroup, *control, syscall.Errno) {
	c := n.root
	for i, name := range parts {
		if child, ok := c.children[name]; ok {
			c = child
			continue
		}
		if ctl := n.control(c, name); ctl != nil {
			if i == len(parts)-1 {
				return c, ctl, 0
			}
			return nil, nil, syscall.ENOTDIR
		}
		return nil, nil, syscall.ENOENT
	}
	return c, nil, 0
}

// cgroupAt finds a cgroup by a path relative to the root ("", "/",
// "kubepods/x" or "/kubepods/x").
func (n *Node) cgroupAt(rel string) *cgroup {
	c, ctl, e := n.lookupCgroup(splitRel(rel))
	if e != 0 || ctl != nil {
		return nil
	}
	return c
}

func splitRel(rel string) []string {
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return nil
	}
	return strings.Split(rel, "/")
}

// walkCgroups visits c and its descendants, parents first, children in
// name order.
func walkCgroups(c *cgroup, visit func(*cgroup)) {
	visit(c)
	for _, name := range c.sortedChildren() {
		walkCgroups(c.children[name], visit)
	}
}
