package simnode

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Hierarchy ids of the controllers as a CentOS 7 node numbers them.
const memoryHierarchy = 10

var otherControllers = []struct {
	id   int
	name string
}{
	{9, "blkio"}, {8, "freezer"}, {7, "devices"}, {6, "hugetlb"}, {5, "cpuset"},
	{4, "net_cls"}, {3, "cpuacct,cpu"}, {2, "perf_event"},
}

// procNode resolves a /proc path: a directory (list returns its entries) or
// a file (read returns its content).
type procNode struct {
	list func() []string
	read func() []byte
}

func (n *Node) procLookup(parts []string) (procNode, syscall.Errno) {
	if len(parts) == 0 {
		return procNode{list: n.procRootEntries}, 0
	}
	switch strings.Join(parts, "/") {
	case "cgroups":
		return procNode{read: n.procCgroups}, 0
	case "mounts", "self/mounts":
		return procNode{read: n.mounts}, 0
	case "self/cgroup":
		return procNode{read: func() []byte { return n.cgroupLines(n.root, "/", "/user.slice/user-0.slice/session-1.scope") }}, 0
	case "sys/kernel/osrelease":
		return procNode{read: func() []byte { return []byte(n.cfg.Kernel + "\n") }}, 0
	case "sys/kernel/random/boot_id":
		return procNode{read: func() []byte { return []byte(n.bootID + "\n") }}, 0
	case "self":
		return procList("cgroup", "mounts"), 0
	case "sys":
		return procList("kernel"), 0
	case "sys/kernel":
		return procList("osrelease", "random"), 0
	case "sys/kernel/random":
		return procList("boot_id"), 0
	}
	pid, err := strconv.Atoi(parts[0])
	if err != nil || pid <= 0 || strconv.Itoa(pid) != parts[0] {
		return procNode{}, syscall.ENOENT
	}
	t := n.threads[pid]
	if t == nil {
		return procNode{}, syscall.ENOENT
	}
	rest := parts[1:]
	if len(rest) >= 2 && rest[0] == "task" {
		tt := n.threads[atoi(rest[1])]
		if tt == nil || tt.p != t.p || strconv.Itoa(tt.tid) != rest[1] {
			return procNode{}, syscall.ENOENT
		}
		t, rest = tt, rest[2:]
	}
	switch {
	case len(rest) == 0:
		return procNode{list: func() []string { return []string{"cgroup", "status", "task"} }}, 0
	case len(rest) == 1 && rest[0] == "cgroup":
		return procNode{read: func() []byte { return n.cgroupLines(t.cg, t.p.origin, t.p.origin) }}, 0
	case len(rest) == 1 && rest[0] == "status":
		return procNode{read: func() []byte { return n.status(t) }}, 0
	case len(rest) == 1 && rest[0] == "task" && len(parts) == 2:
		return procNode{list: func() []string {
			tids := make([]string, 0, len(t.p.threads))
			for _, x := range t.p.threads {
				tids = append(tids, strconv.Itoa(x.tid))
			}
			sort.Strings(tids)
			return tids
		}}, 0
	}
	return procNode{}, syscall.ENOENT
}

func procList(names ...string) procNode {
	return procNode{list: func() []string { return names }}
}

func atoi(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return v
}

func (n *Node) procRootEntries() []string {
	out := []string{"cgroups", "mounts", "self", "sys"}
	for pid := range n.procs {
		out = append(out, strconv.Itoa(pid))
	}
	sort.Strings(out)
	return out
}

func (n *Node) procRead(p string, parts []string) ([]byte, error) {
	pn, e := n.procLookup(parts)
	if e != 0 {
		return nil, perr("open", p, e)
	}
	if pn.read == nil {
		return nil, perr("read", p, syscall.EISDIR)
	}
	return pn.read(), nil
}

func (n *Node) procReadDir(p string, parts []string) ([]fs.DirEntry, error) {
	pn, e := n.procLookup(parts)
	if e != 0 {
		return nil, perr("open", p, e)
	}
	if pn.list == nil {
		return nil, perr("readdirent", p, syscall.ENOTDIR)
	}
	var out []fs.DirEntry
	for _, name := range pn.list() {
		child, _ := n.procLookup(append(append([]string(nil), parts...), name))
		out = append(out, fs.FileInfoToDirEntry(n.procInfo(name, child)))
	}
	return out, nil
}

func (n *Node) procStat(p string, parts []string) (fs.FileInfo, error) {
	pn, e := n.procLookup(parts)
	if e != 0 {
		return nil, perr("stat", p, e)
	}
	name := "proc"
	if len(parts) > 0 {
		name = parts[len(parts)-1]
	}
	return n.procInfo(name, pn), nil
}

func (n *Node) procInfo(name string, pn procNode) fs.FileInfo {
	if pn.list != nil {
		return &fileInfo{name: name, mode: fs.ModeDir | 0o555, mtime: n.now()}
	}
	return &fileInfo{name: name, mode: 0o444, mtime: n.now()}
}

// procCgroups is /proc/cgroups; memory's num_cgroups counts live memcgs
// (leaked ids are not cgroups any more).
func (n *Node) procCgroups() []byte {
	memH, memN := memoryHierarchy, n.live
	if n.cfg.Unmounted {
		memH, memN = 0, 1
	}
	var b strings.Builder
	b.WriteString("#subsys_name\thierarchy\tnum_cgroups\tenabled\n")
	for _, r := range []struct {
		name string
		h, n int
	}{
		{"cpuset", 5, 6}, {"cpu", 3, memN}, {"cpuacct", 3, memN}, {"memory", memH, memN},
		{"devices", 7, memN}, {"freezer", 8, 6}, {"net_cls", 4, 6}, {"blkio", 9, memN},
		{"perf_event", 2, 6}, {"hugetlb", 6, 6},
	} {
		fmt.Fprintf(&b, "%s\t%d\t%d\t1\n", r.name, r.h, r.n)
	}
	return []byte(b.String())
}

// cgroupLines is /proc/<pid>/cgroup in the 3.10 format, highest hierarchy
// first: "10:memory:/kubepods/pod1/c1". Only memory is modelled; the other
// hierarchies show where the process was started.
func (n *Node) cgroupLines(mem *cgroup, other, systemd string) []byte {
	var b strings.Builder
	if !n.cfg.Unmounted {
		fmt.Fprintf(&b, "%d:memory:%s\n", memoryHierarchy, mem.path())
	}
	for _, h := range otherControllers {
		fmt.Fprintf(&b, "%d:%s:%s\n", h.id, h.name, other)
	}
	fmt.Fprintf(&b, "1:name=systemd:%s\n", systemd)
	return []byte(b.String())
}

func (n *Node) status(t *thread) []byte {
	name := t.p.name
	if len(name) > 15 {
		name = name[:15]
	}
	name = strings.NewReplacer("\n", "\\n", "\\", "\\\\").Replace(name)
	rss := (t.p.anon + t.p.file) >> 10
	return fmt.Appendf(nil, "Name:\t%s\nState:\tS (sleeping)\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n"+
		"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t64\nGroups:\t\nVmRSS:\t%8d kB\nThreads:\t%d\n"+
		"SigQ:\t0/127573\nCpus_allowed_list:\t0-15\nvoluntary_ctxt_switches:\t42\nnonvoluntary_ctxt_switches:\t3\n",
		name, t.p.pid, t.tid, t.p.ppid, rss, len(t.p.threads))
}

// mounts is /proc/self/mounts of a CentOS 7 node.
func (n *Node) mounts() []byte {
	base := path.Dir(n.cfg.CgroupRoot)
	opts := "rw,nosuid,nodev,noexec,relatime"
	lines := []string{
		"sysfs /sys sysfs rw,seclabel,nosuid,nodev,noexec,relatime 0 0",
		"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0",
		"devtmpfs /dev devtmpfs rw,seclabel,nosuid,size=32858112k,nr_inodes=8214528,mode=755 0 0",
		"securityfs /sys/kernel/security securityfs rw,nosuid,nodev,noexec,relatime 0 0",
		"tmpfs /dev/shm tmpfs rw,seclabel,nosuid,nodev 0 0",
		"devpts /dev/pts devpts rw,seclabel,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000 0 0",
		"tmpfs /run tmpfs rw,seclabel,nosuid,nodev,mode=755 0 0",
		"tmpfs " + escapeMount(base) + " tmpfs ro,seclabel,nosuid,nodev,noexec,mode=755 0 0",
		"cgroup " + escapeMount(base+"/systemd") + " cgroup " + opts + ",xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd 0 0",
		"pstore /sys/fs/pstore pstore rw,nosuid,nodev,noexec,relatime 0 0",
		"cgroup " + escapeMount(base+"/perf_event") + " cgroup " + opts + ",perf_event 0 0",
		"cgroup " + escapeMount(base+"/cpu,cpuacct") + " cgroup " + opts + ",cpuacct,cpu 0 0",
		"cgroup " + escapeMount(base+"/net_cls") + " cgroup " + opts + ",net_cls 0 0",
		"cgroup " + escapeMount(base+"/cpuset") + " cgroup " + opts + ",cpuset 0 0",
		"cgroup " + escapeMount(base+"/hugetlb") + " cgroup " + opts + ",hugetlb 0 0",
		"cgroup " + escapeMount(base+"/devices") + " cgroup " + opts + ",devices 0 0",
		"cgroup " + escapeMount(base+"/freezer") + " cgroup " + opts + ",freezer 0 0",
		"cgroup " + escapeMount(base+"/blkio") + " cgroup " + opts + ",blkio 0 0",
	}
	if !n.cfg.Unmounted {
		lines = append(lines, "cgroup "+escapeMount(n.cfg.CgroupRoot)+" cgroup "+opts+",memory 0 0")
	}
	lines = append(lines,
		"configfs /sys/kernel/config configfs rw,relatime 0 0",
		"/dev/mapper/centos-root / xfs rw,seclabel,relatime,attr2,inode64,noquota 0 0",
		"selinuxfs /sys/fs/selinux selinuxfs rw,relatime 0 0",
		"systemd-1 /proc/sys/fs/binfmt_misc autofs rw,relatime,fd=31,pgrp=1,timeout=0,minproto=5,maxproto=5,direct,pipe_ino=13987 0 0",
		"debugfs /sys/kernel/debug debugfs rw,relatime 0 0",
		"mqueue /dev/mqueue mqueue rw,seclabel,relatime 0 0",
		"hugetlbfs /dev/hugepages hugetlbfs rw,seclabel,relatime 0 0",
		"/dev/sda1 /boot xfs rw,seclabel,relatime,attr2,inode64,noquota 0 0",
		"/dev/mapper/centos-home /home xfs rw,seclabel,relatime,attr2,inode64,noquota 0 0",
		"overlay /var/lib/docker/overlay2/3f1c9a0d2b7e/merged overlay rw,relatime,lowerdir=/var/lib/docker/overlay2/l/AB12:/var/lib/docker/overlay2/l/CD34,upperdir=/var/lib/docker/overlay2/3f1c9a0d2b7e/diff,workdir=/var/lib/docker/overlay2/3f1c9a0d2b7e/work 0 0",
		"shm /var/lib/docker/containers/5e0a7c1d9f2b/mounts/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k 0 0",
		"tmpfs /var/lib/kubelet/pods/0c7a4c2e-8f0b-11ea-9c2d-fa163e5b6c1d/volumes/kubernetes.io~secret/default-token-x7k2p tmpfs rw,relatime 0 0",
		"tmpfs /run/user/0 tmpfs rw,seclabel,nosuid,nodev,relatime,size=6574784k,mode=700 0 0",
	)
	return []byte(strings.Join(lines, "\n") + "\n")
}

// escapeMount escapes a path the way the kernel writes it in mounts.
func escapeMount(p string) string {
	return strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`).Replace(p)
}
