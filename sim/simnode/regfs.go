package simnode

import (
	"io/fs"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"
)

// rnode is a file or directory of the in-memory regular filesystem (the
// node's disk: binaries, the journal, lock files). It survives Reboot.
type rnode struct {
	name     string
	dir      bool
	mode     fs.FileMode // permission bits
	data     []byte
	mtime    time.Time
	parent   *rnode
	children map[string]*rnode
}

func newDir(name string, parent *rnode, mode fs.FileMode, t time.Time) *rnode {
	d := &rnode{name: name, dir: true, mode: mode, mtime: t, parent: parent, children: map[string]*rnode{}}
	if parent != nil {
		parent.children[name] = d
	}
	return d
}

// newRegularFS lays out a CentOS 7 root filesystem with the binaries the
// procedure runs.
func newRegularFS(n *Node) *rnode {
	t := n.now()
	root := newDir("", nil, 0o555, t)
	for _, d := range []string{
		"/etc/systemd/system", "/usr/lib/systemd/system", "/usr/bin", "/usr/sbin", "/usr/local/bin",
		"/bin", "/sbin", "/var/lib/kubelet", "/var/lib/docker", "/var/log", "/run", "/tmp", "/root", "/home",
		"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuset",
		"/sys/fs/cgroup/devices", "/sys/fs/cgroup/freezer", "/sys/fs/cgroup/net_cls",
		"/sys/fs/cgroup/blkio", "/sys/fs/cgroup/perf_event", "/sys/fs/cgroup/hugetlb",
		"/proc", n.cfg.CgroupRoot,
	} {
		mkdirAllRegular(root, d, t)
	}
	put := func(p string, data []byte, mode fs.FileMode) {
		d := mkdirAllRegular(root, path.Dir(p), t)
		d.children[path.Base(p)] = &rnode{name: path.Base(p), mode: mode, data: data, mtime: t, parent: d}
	}
	put("/etc/redhat-release", []byte("CentOS Linux release 7.9.2009 (Core)\n"), 0o644)
	put("/etc/os-release", []byte("NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n"), 0o644)
	put("/usr/bin/systemctl", simBinary("systemctl"), 0o755)
	put("/usr/bin/true", simBinary("true"), 0o755)
	put("/usr/bin/false", simBinary("false"), 0o755)
	if !n.cfg.NoDocker {
		put("/usr/bin/docker", simBinary("docker"), 0o755)
	}
	if n.cfg.Stap {
		put("/usr/bin/stap", simBinary("stap"), 0o755)
	}
	k := n.cfg.Kubelet
	put(k.Binary, KubeletBinary(k.Version, k.Buggy), 0o755)
	put("/usr/lib/systemd/system/"+k.Unit+".service", []byte("[Unit]\nDescription=kubelet: The Kubernetes Node Agent\n\n[Service]\nExecStart="+k.Binary+"\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n"), 0o644)
	return root
}

func mkdirAllRegular(root *rnode, p string, t time.Time) *rnode {
	d := root
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		if name == "" {
			continue
		}
		child, ok := d.children[name]
		if !ok {
			child = newDir(name, d, 0o755, t)
		}
		d = child
	}
	return d
}

// rlookup walks parts from the root: ENOENT when a component is missing,
// ENOTDIR when a file is in the way.
func (n *Node) rlookup(parts []string) (*rnode, syscall.Errno) {
	d := n.fs
	for _, name := range parts {
		if !d.dir {
			return nil, syscall.ENOTDIR
		}
		child, ok := d.children[name]
		if !ok {
			return nil, syscall.ENOENT
		}
		d = child
	}
	return d, 0
}

// rparent finds the directory that would hold parts' last component.
func (n *Node) rparent(parts []string) (*rnode, string, syscall.Errno) {
	if len(parts) == 0 {
		return nil, "", syscall.EEXIST
	}
	d, e := n.rlookup(parts[:len(parts)-1])
	if e != 0 {
		return nil, "", e
	}
	if !d.dir {
		return nil, "", syscall.ENOTDIR
	}
	return d, parts[len(parts)-1], 0
}

func (n *Node) regRead(p string, parts []string) ([]byte, error) {
	f, e := n.rlookup(parts)
	if e != 0 {
		return nil, perr("open", p, e)
	}
	if f.dir {
		return nil, perr("read", p, syscall.EISDIR)
	}
	return append([]byte(nil), f.data...), nil
}

func (n *Node) regWrite(p string, parts []string, data []byte) error {
	f, e := n.rlookup(parts)
	if e != 0 {
		return perr("open", p, e)
	}
	if f.dir {
		return perr("open", p, syscall.EISDIR)
	}
	f.data = append([]byte(nil), data...)
	f.mtime = n.now()
	return nil
}

func (n *Node) regReadDir(p string, parts []string) ([]fs.DirEntry, error) {
	d, e := n.rlookup(parts)
	if e != 0 {
		return nil, perr("open", p, e)
	}
	if !d.dir {
		return nil, perr("readdirent", p, syscall.ENOTDIR)
	}
	names := make([]string, 0, len(d.children))
	for name := range d.children {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]fs.DirEntry, 0, len(names))
	for _, name := range names {
		out = append(out, fs.FileInfoToDirEntry(d.children[name].info()))
	}
	return out, nil
}

func (f *rnode) info() fs.FileInfo {
	fi := &fileInfo{name: f.name, size: int64(len(f.data)), mode: f.mode, mtime: f.mtime}
	if f.dir {
		fi.mode |= fs.ModeDir
		fi.size = 4096
	}
	if f.parent == nil {
		fi.name = "/"
	}
	return fi
}

func (n *Node) regMkdir(p string, parts []string) error {
	d, name, e := n.rparent(parts)
	if e != 0 {
		return perr("mkdir", p, e)
	}
	if _, ok := d.children[name]; ok {
		return perr("mkdir", p, syscall.EEXIST)
	}
	newDir(name, d, 0o755, n.now())
	return nil
}

func (n *Node) regRemove(p string, parts []string) error {
	if len(parts) == 0 {
		return perr("remove", p, syscall.EBUSY)
	}
	f, e := n.rlookup(parts)
	if e != 0 {
		return perr("remove", p, e)
	}
	if f.dir && len(f.children) > 0 {
		return perr("remove", p, syscall.ENOTEMPTY)
	}
	if f.dir && n.isMountPoint(f) {
		return perr("remove", p, syscall.EBUSY)
	}
	delete(f.parent.children, f.name)
	return nil
}

func (n *Node) isMountPoint(f *rnode) bool {
	p := f.fullPath()
	return p == "/proc" || (!n.cfg.Unmounted && p == n.cfg.CgroupRoot)
}

func (f *rnode) fullPath() string {
	if f.parent == nil {
		return "/"
	}
	var parts []string
	for x := f; x.parent != nil; x = x.parent {
		parts = append(parts, x.name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

// regRename is rename(2): atomic, replacing a file or an empty directory.
func (n *Node) regRename(oldParts, newParts []string) syscall.Errno {
	f, e := n.rlookup(oldParts)
	if e != 0 {
		return e
	}
	if len(oldParts) == 0 || n.isMountPoint(f) {
		return syscall.EBUSY
	}
	d, name, e := n.rparent(newParts)
	if e != 0 {
		return e
	}
	for x := d; x != nil; x = x.parent {
		if x == f {
			return syscall.EINVAL // into itself
		}
	}
	if old, ok := d.children[name]; ok {
		if old == f {
			return 0
		}
		switch {
		case old.dir && !f.dir:
			return syscall.EISDIR
		case !old.dir && f.dir:
			return syscall.ENOTDIR
		case old.dir && len(old.children) > 0:
			return syscall.ENOTEMPTY
		}
	}
	delete(f.parent.children, f.name)
	f.name = name
	f.parent = d
	d.children[name] = f
	return 0
}

// fileInfo implements fs.FileInfo.
type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return nil }
