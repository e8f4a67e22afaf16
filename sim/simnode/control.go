package simnode

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// control is one cgroup control file. A nil read or write fails with
// EINVAL, as cgroupfs does for files without that handler.
type control struct {
	name  string
	mode  fs.FileMode
	read  func(n *Node, c *cgroup) ([]byte, syscall.Errno)
	write func(n *Node, c *cgroup, s string) syscall.Errno
	u64   bool // written through write_u64: 64-byte buffer
	where int  // 0 every cgroup, 1 root only, 2 not on the root
	memsw bool // exists only with swap accounting
}

const (
	everywhere = iota
	rootOnly
	notOnRoot
)

func u64Line(v int64) []byte { return strconv.AppendInt(nil, v, 10) }

func line(v int64) []byte { return append(u64Line(v), '\n') }

func boolLine(b bool) []byte {
	if b {
		return []byte("1\n")
	}
	return []byte("0\n")
}

func readOnly(f func(c *cgroup) int64) func(*Node, *cgroup) ([]byte, syscall.Errno) {
	return func(_ *Node, c *cgroup) ([]byte, syscall.Errno) { return line(f(c)), 0 }
}

func trigger(f func(c *cgroup)) func(*Node, *cgroup, string) syscall.Errno {
	return func(_ *Node, c *cgroup, _ string) syscall.Errno {
		f(c)
		return 0
	}
}

// controls is the 3.10 memory cgroup's file set plus the cgroup core files.
var controls = []*control{
	{name: "cgroup.clone_children", mode: 0o644, u64: true,
		read: func(_ *Node, c *cgroup) ([]byte, syscall.Errno) { return boolLine(c.cloneChildren), 0 },
		write: func(_ *Node, c *cgroup, s string) syscall.Errno {
			v, ok := parseU64(s)
			if !ok {
				return syscall.EINVAL
			}
			c.cloneChildren = v != 0
			return 0
		}},
	{name: "cgroup.event_control", mode: 0o222,
		write: func(*Node, *cgroup, string) syscall.Errno { return syscall.EINVAL }},
	{name: "cgroup.procs", mode: 0o644, u64: true,
		read:  func(_ *Node, c *cgroup) ([]byte, syscall.Errno) { return listProcs(c), 0 },
		write: func(n *Node, c *cgroup, s string) syscall.Errno { return n.attach(c, s, true) }},
	{name: "cgroup.sane_behavior", mode: 0o444, where: rootOnly,
		read: func(*Node, *cgroup) ([]byte, syscall.Errno) { return []byte("0\n"), 0 }},
	{name: "notify_on_release", mode: 0o644, u64: true,
		read: func(_ *Node, c *cgroup) ([]byte, syscall.Errno) { return boolLine(c.notify), 0 },
		write: func(_ *Node, c *cgroup, s string) syscall.Errno {
			v, ok := parseU64(s)
			if !ok {
				return syscall.EINVAL
			}
			c.notify = v != 0
			return 0
		}},
	{name: "release_agent", mode: 0o644, where: rootOnly,
		read: func(_ *Node, c *cgroup) ([]byte, syscall.Errno) { return []byte(c.releaseAgent + "\n"), 0 },
		write: func(_ *Node, c *cgroup, s string) syscall.Errno {
			c.releaseAgent = s
			return 0
		}},
	{name: "tasks", mode: 0o644, u64: true,
		read:  func(_ *Node, c *cgroup) ([]byte, syscall.Errno) { return listTasks(c), 0 },
		write: func(n *Node, c *cgroup, s string) syscall.Errno { return n.attach(c, s, false) }},

	{name: "memory.failcnt", mode: 0o644,
		read:  readOnly(func(c *cgroup) int64 { return c.failcnt }),
		write: trigger(func(c *cgroup) { c.failcnt = 0 })},
	{name: "memory.force_empty", mode: 0o200, write: writeForceEmpty},
	{name: "memory.kmem.failcnt", mode: 0o644,
		read:  readOnly(func(*cgroup) int64 { return 0 }),
		write: trigger(func(*cgroup) {})},
	{name: "memory.kmem.limit_in_bytes", mode: 0o644,
		read:  readOnly(func(c *cgroup) int64 { return c.kmemLimit }),
		write: writeKmemLimit},
	{name: "memory.kmem.max_usage_in_bytes", mode: 0o644,
		read: func(_ *Node, c *cgroup) ([]byte, syscall.Errno) {
			return line(max(c.kmemMaxUsage, kmemUsage(c))), 0
		},
		write: trigger(func(c *cgroup) { c.kmemMaxUsage = 0 })},
	{name: "memory.kmem.slabinfo", mode: 0o444, read: readSlabinfo},
	{name: "memory.kmem.tcp.failcnt", mode: 0o644,
		read:  readOnly(func(*cgroup) int64 { return 0 }),
		write: trigger(func(*cgroup) {})},
	{name: "memory.kmem.tcp.limit_in_bytes", mode: 0o644,
		read: readOnly(func(c *cgroup) int64 { return c.kmemTCPLimit }),
		write: func(n *Node, c *cgroup, s string) syscall.Errno {
			v, ok := n.parseLimit(s)
			if !ok {
				return syscall.EINVAL
			}
			c.kmemTCPLimit = v
			return 0
		}},
	{name: "memory.kmem.tcp.max_usage_in_bytes", mode: 0o644,
		read:  readOnly(func(*cgroup) int64 { return 0 }),
		write: trigger(func(*cgroup) {})},
	{name: "memory.kmem.tcp.usage_in_bytes", mode: 0o444,
		read: readOnly(func(*cgroup) int64 { return 0 })},
	{name: "memory.kmem.usage_in_bytes", mode: 0o444, read: readOnly(kmemUsage)},
	{name: "memory.limit_in_bytes", mode: 0o644,
		read: readOnly(func(c *cgroup) int64 { return c.limit }), write: writeLimit},
	{name: "memory.max_usage_in_bytes", mode: 0o644,
		read:  readOnly(func(c *cgroup) int64 { return c.maxUsage }),
		write: trigger(func(c *cgroup) { c.maxUsage = c.usage() })},
	{name: "memory.memsw.failcnt", mode: 0o644, memsw: true,
		read:  readOnly(func(c *cgroup) int64 { return c.memswFailcnt }),
		write: trigger(func(c *cgroup) { c.memswFailcnt = 0 })},
	{name: "memory.memsw.limit_in_bytes", mode: 0o644, memsw: true,
		read: readOnly(func(c *cgroup) int64 { return c.memswLimit }), write: writeMemswLimit},
	{name: "memory.memsw.max_usage_in_bytes", mode: 0o644, memsw: true,
		read:  readOnly(func(c *cgroup) int64 { return c.maxUsage }),
		write: trigger(func(c *cgroup) { c.maxUsage = c.usage() })},
	{name: "memory.memsw.usage_in_bytes", mode: 0o444, memsw: true,
		read: readOnly(func(c *cgroup) int64 { return c.usage() })},
	{name: "memory.move_charge_at_immigrate", mode: 0o644, u64: true,
		read: readOnly(func(c *cgroup) int64 { return int64(c.moveCharge) }),
		write: func(_ *Node, c *cgroup, s string) syscall.Errno {
			v, ok := parseU64(s)
			if !ok || v >= 4 {
				return syscall.EINVAL
			}
			c.moveCharge = int(v)
			return 0
		}},
	{name: "memory.numa_stat", mode: 0o444, read: readNumaStat},
	{name: "memory.oom_control", mode: 0o644, u64: true,
		read: func(_ *Node, c *cgroup) ([]byte, syscall.Errno) {
			return fmt.Appendf(nil, "oom_kill_disable %d\nunder_oom 0\n", b2i(c.oomKillDisable)), 0
		},
		write: func(_ *Node, c *cgroup, s string) syscall.Errno {
			v, ok := parseU64(s)
			if !ok || c.parent == nil || v > 1 || inheritsOnly(c) {
				return syscall.EINVAL
			}
			c.oomKillDisable = v == 1
			return 0
		}},
	{name: "memory.soft_limit_in_bytes", mode: 0o644,
		read: readOnly(func(c *cgroup) int64 { return c.softLimit }),
		write: func(n *Node, c *cgroup, s string) syscall.Errno {
			v, ok := n.parseLimit(s)
			if !ok {
				return syscall.EINVAL
			}
			c.softLimit = v
			return 0
		}},
	{name: "memory.stat", mode: 0o444, read: readStat},
	{name: "memory.swappiness", mode: 0o644, u64: true,
		read: readOnly(func(c *cgroup) int64 { return int64(c.swappiness) }),
		write: func(_ *Node, c *cgroup, s string) syscall.Errno {
			v, ok := parseU64(s)
			if !ok || v > 100 || c.parent == nil || inheritsOnly(c) {
				return syscall.EINVAL
			}
			c.swappiness = int(v)
			return 0
		}},
	{name: "memory.usage_in_bytes", mode: 0o444,
		read: readOnly(func(c *cgroup) int64 { return c.usage() })},
	{name: "memory.use_hierarchy", mode: 0o644, u64: true,
		read: func(_ *Node, c *cgroup) ([]byte, syscall.Errno) { return boolLine(c.useHierarchy), 0 },
		write: func(_ *Node, c *cgroup, s string) syscall.Errno {
			v, ok := parseU64(s)
			if !ok {
				return syscall.EINVAL
			}
			if (v == 1) == c.useHierarchy && v <= 1 {
				return 0
			}
			if (c.parent != nil && c.parent.useHierarchy) || v > 1 {
				return syscall.EINVAL
			}
			if len(c.children) > 0 {
				return syscall.EBUSY
			}
			c.useHierarchy = v == 1
			return 0
		}},
}

// inheritsOnly is 3.10's rule for swappiness and oom_control: "if under
// hierarchy, only empty-root can set this value": a cgroup whose parent has
// use_hierarchy=1, or that has children, keeps what it inherited (EINVAL).
func inheritsOnly(c *cgroup) bool {
	return c.parent.useHierarchy || len(c.children) > 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// fileSet is the sorted control files of the root or of other cgroups.
type fileSet struct {
	names   []string
	byName  map[string]*control
	entries []fs.DirEntry // one per name, shared by every listing
}

func newFileSet(root, memsw bool) fileSet {
	fsx := fileSet{byName: map[string]*control{}}
	for _, c := range controls {
		if (c.where == rootOnly && !root) || (c.where == notOnRoot && root) || (c.memsw && !memsw) {
			continue
		}
		fsx.names = append(fsx.names, c.name)
		fsx.byName[c.name] = c
	}
	sort.Strings(fsx.names)
	for _, name := range fsx.names {
		fsx.entries = append(fsx.entries, fs.FileInfoToDirEntry(&fileInfo{name: name, mode: fsx.byName[name].mode, mtime: bootTime}))
	}
	return fsx
}

// control returns the control file name of c, or nil.
func (n *Node) control(c *cgroup, name string) *control {
	if c.parent == nil {
		return n.rootFiles.byName[name]
	}
	return n.cgFiles.byName[name]
}

func (n *Node) files(c *cgroup) *fileSet {
	if c.parent == nil {
		return &n.rootFiles
	}
	return &n.cgFiles
}

// writeLimit is memory.limit_in_bytes: never above the memsw limit
// (EINVAL), never below usage (EBUSY: no reclaim is modelled).
func writeLimit(n *Node, c *cgroup, s string) syscall.Errno {
	if c.parent == nil {
		return syscall.EINVAL
	}
	v, ok := n.parseLimit(s)
	if !ok {
		return syscall.EINVAL
	}
	if n.swap && v > c.memswLimit {
		return syscall.EINVAL
	}
	if v < c.usage() {
		return syscall.EBUSY
	}
	c.limit = v
	return 0
}

// writeMemswLimit is memory.memsw.limit_in_bytes: never below the limit
// (EINVAL), never below usage (EBUSY).
func writeMemswLimit(n *Node, c *cgroup, s string) syscall.Errno {
	if c.parent == nil {
		return syscall.EINVAL
	}
	v, ok := n.parseLimit(s)
	if !ok {
		return syscall.EINVAL
	}
	if v < c.limit {
		return syscall.EINVAL
	}
	if v < c.usage() {
		return syscall.EBUSY
	}
	c.memswLimit = v
	return 0
}

// writeKmemLimit is memory.kmem.limit_in_bytes. On 3.10 the first write of
// a limit other than unlimited turns kmem accounting on, and only while the
// cgroup has no tasks and no children; it never turns off. Writing
// unlimited to an unaccounted cgroup only records the limit
// (memcg_update_kmem_limit), which is why runc writes 1 and then -1.
func writeKmemLimit(n *Node, c *cgroup, s string) syscall.Errno {
	if c.parent == nil {
		return syscall.EINVAL
	}
	v, ok := n.parseLimit(s)
	if !ok {
		return syscall.EINVAL
	}
	if n.legacy && !c.kmem && v != n.unlimited {
		if len(c.tasks) > 0 || len(c.children) > 0 {
			return syscall.EBUSY
		}
		c.kmem = true
	}
	c.kmemLimit = v
	return 0
}

// writeForceEmpty is memory.force_empty: only without tasks and children;
// page cache is reclaimed, anon pages go to the parent.
func writeForceEmpty(n *Node, c *cgroup, _ string) syscall.Errno {
	if c.parent == nil {
		return syscall.EINVAL
	}
	if len(c.tasks) > 0 || len(c.children) > 0 {
		return syscall.EBUSY
	}
	n.dropFile(c)
	n.reparent(c, true, false)
	return 0
}

const slabinfoHeader = "slabinfo - version: 2.1\n" +
	"# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n"

// readSlabinfo fails with EIO unless kmem accounting is on (3.10). Newer
// kernels read it empty.
func readSlabinfo(n *Node, c *cgroup) ([]byte, syscall.Errno) {
	if !n.legacy {
		return nil, 0
	}
	if !c.kmem {
		return nil, syscall.EIO
	}
	if c.slabinfo == nil {
		name := c.name
		if c.parent == nil {
			name = "/"
		}
		var b strings.Builder
		b.WriteString(slabinfoHeader)
		for _, r := range []struct {
			cache       string
			objs, size  int
			perSlab, pp int
		}{{"dentry", 84, 192, 21, 1}, {"kmalloc-64", 128, 64, 64, 1}, {"radix_tree_node", 28, 584, 28, 4}} {
			slabs := (r.objs + r.perSlab - 1) / r.perSlab
			fmt.Fprintf(&b, "%-17s %6d %6d %6d %4d %4d : tunables %4d %4d %4d : slabdata %6d %6d %6d\n",
				fmt.Sprintf("%s(%d:%s)", r.cache, c.id, name), r.objs, r.objs, r.size, r.perSlab, r.pp, 0, 0, 0, slabs, slabs, 0)
		}
		c.slabinfo = []byte(b.String())
	}
	return append([]byte(nil), c.slabinfo...), 0
}

// hierLimits are memory.stat's hierarchical_memory_limit and
// hierarchical_memsw_limit: the smallest limits on the way up while
// use_hierarchy holds.
func hierLimits(c *cgroup) (int64, int64) {
	lim, memsw := c.limit, c.memswLimit
	if !c.useHierarchy {
		return lim, memsw
	}
	for x := c.parent; x != nil && x.useHierarchy; x = x.parent {
		lim, memsw = min(lim, x.limit), min(memsw, x.memswLimit)
	}
	return lim, memsw
}

func readStat(n *Node, c *cgroup) ([]byte, syscall.Errno) {
	totalAnon, totalFile := c.anon, c.file
	if c.useHierarchy {
		totalAnon, totalFile = c.subAnon, c.subFile
	}
	lim, memsw := hierLimits(c)
	ps := n.cfg.PageSize
	var b strings.Builder
	for _, kv := range []struct {
		k string
		v int64
	}{
		{"cache", c.file}, {"rss", c.anon}, {"rss_huge", 0}, {"mapped_file", c.file / 2 / ps * ps},
		{"swap", 0}, {"pgpgin", (c.anon + c.file) / ps}, {"pgpgout", 0}, {"pgfault", (c.anon + c.file) / ps * 3},
		{"pgmajfault", 0}, {"inactive_anon", 0}, {"active_anon", c.anon}, {"inactive_file", c.file},
		{"active_file", 0}, {"unevictable", 0},
		{"hierarchical_memory_limit", lim}, {"hierarchical_memsw_limit", memsw},
		{"total_cache", totalFile}, {"total_rss", totalAnon}, {"total_rss_huge", 0},
		{"total_mapped_file", totalFile / 2 / ps * ps}, {"total_swap", 0},
		{"total_inactive_anon", 0}, {"total_active_anon", totalAnon},
		{"total_inactive_file", totalFile}, {"total_active_file", 0}, {"total_unevictable", 0},
	} {
		if kv.k == "hierarchical_memsw_limit" || kv.k == "swap" || kv.k == "total_swap" {
			if !n.swap {
				continue
			}
		}
		fmt.Fprintf(&b, "%s %d\n", kv.k, kv.v)
	}
	return []byte(b.String()), 0
}

func readNumaStat(n *Node, c *cgroup) ([]byte, syscall.Errno) {
	ps := n.cfg.PageSize
	a, f := c.anon/ps, c.file/ps
	ta, tf := a, f
	if c.useHierarchy {
		ta, tf = c.subAnon/ps, c.subFile/ps
	}
	return fmt.Appendf(nil,
		"total=%d N0=%d\nfile=%d N0=%d\nanon=%d N0=%d\nunevictable=0 N0=0\n"+
			"hierarchical_total=%d N0=%d\nhierarchical_file=%d N0=%d\nhierarchical_anon=%d N0=%d\nhierarchical_unevictable=0 N0=0\n",
		a+f, a+f, f, f, a, a, ta+tf, ta+tf, tf, tf, ta, ta), 0
}
