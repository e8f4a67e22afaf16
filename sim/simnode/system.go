package simnode

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/kmemfix/kmemfix/node"
)

// The node.System methods. Each one is a kernel operation: it advances the
// clock (forking processes fork, children exit) before it runs.

// ReadFile reads a whole file.
func (n *Node) ReadFile(p string) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	return n.readFile(p)
}

func (n *Node) readFile(p string) ([]byte, error) {
	where, parts, err := n.locate("open", p)
	if err != nil {
		return nil, err
	}
	if e := n.injected(OpRead, p); e != 0 {
		return nil, perr("read", p, e)
	}
	switch where {
	case areaCgroup:
		c, ctl, e := n.lookupCgroup(parts)
		switch {
		case e != 0:
			return nil, perr("open", p, e)
		case ctl == nil:
			return nil, perr("read", p, syscall.EISDIR)
		case ctl.read == nil:
			return nil, perr("read", p, syscall.EINVAL)
		}
		data, e := ctl.read(n, c)
		if e != 0 {
			return nil, perr("read", p, e)
		}
		return data, nil
	case areaProc:
		return n.procRead(p, parts)
	}
	return n.regRead(p, parts)
}

// WriteFile writes data to an existing file with one write(2).
func (n *Node) WriteFile(p string, data []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	where, parts, err := n.locate("open", p)
	if err != nil {
		return err
	}
	n.mutate("write", p)
	e := n.injected(OpWrite, p)
	if base := path.Base(p); where == areaCgroup && (base == "cgroup.procs" || base == "tasks") {
		if m := n.injected(OpMove, p); e == 0 {
			e = m
		}
	}
	if e != 0 {
		return perr("write", p, e)
	}
	switch where {
	case areaCgroup:
		return n.writeControl(p, parts, data)
	case areaProc:
		return perr("open", p, syscall.EACCES)
	}
	return n.regWrite(p, parts, data)
}

func (n *Node) writeControl(p string, parts []string, data []byte) error {
	c, ctl, e := n.lookupCgroup(parts)
	switch {
	case e != 0:
		return perr("open", p, e)
	case ctl == nil:
		return perr("open", p, syscall.EISDIR)
	case ctl.write == nil:
		return perr("write", p, syscall.EINVAL)
	case ctl.u64 && len(data) >= 64:
		return perr("write", p, syscall.E2BIG)
	}
	s := strings.Trim(string(data), " \t\n\v\f\r")
	if s == "" && ctl.name != "release_agent" {
		return perr("write", p, syscall.EINVAL)
	}
	if e := ctl.write(n, c, s); e != 0 {
		return perr("write", p, e)
	}
	return nil
}

// ReadDir lists a directory sorted by name; cgroups are directories,
// control files regular files.
func (n *Node) ReadDir(p string) ([]fs.DirEntry, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	where, parts, err := n.locate("open", p)
	if err != nil {
		return nil, err
	}
	if e := n.injected(OpReadDir, p); e != 0 {
		return nil, perr("readdirent", p, e)
	}
	switch where {
	case areaCgroup:
		c, ctl, e := n.lookupCgroup(parts)
		switch {
		case e != 0:
			return nil, perr("open", p, e)
		case ctl != nil:
			return nil, perr("readdirent", p, syscall.ENOTDIR)
		}
		return n.cgroupEntries(c), nil
	case areaProc:
		return n.procReadDir(p, parts)
	}
	return n.regReadDir(p, parts)
}

// cgroupEntries merges a cgroup's control files and child cgroups by name.
func (n *Node) cgroupEntries(c *cgroup) []fs.DirEntry {
	files, dirs := n.files(c), c.sortedChildren()
	out := make([]fs.DirEntry, 0, len(files.names)+len(dirs))
	t := n.now()
	i, j := 0, 0
	for i < len(files.names) || j < len(dirs) {
		if j == len(dirs) || (i < len(files.names) && files.names[i] < dirs[j]) {
			out = append(out, files.entries[i])
			i++
			continue
		}
		out = append(out, fs.FileInfoToDirEntry(&fileInfo{name: dirs[j], mode: fs.ModeDir | 0o755, mtime: t}))
		j++
	}
	return out
}

// Stat describes a file or directory.
func (n *Node) Stat(p string) (fs.FileInfo, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	where, parts, err := n.locate("stat", p)
	if err != nil {
		return nil, err
	}
	if e := n.injected(OpStat, p); e != 0 {
		return nil, perr("stat", p, e)
	}
	switch where {
	case areaCgroup:
		_, ctl, e := n.lookupCgroup(parts)
		if e != 0 {
			return nil, perr("stat", p, e)
		}
		name := path.Base(path.Clean(p))
		if ctl != nil {
			return &fileInfo{name: name, mode: ctl.mode, mtime: n.now()}, nil
		}
		return &fileInfo{name: name, mode: fs.ModeDir | 0o755, mtime: n.now()}, nil
	case areaProc:
		return n.procStat(p, parts)
	}
	f, e := n.rlookup(parts)
	if e != 0 {
		return nil, perr("stat", p, e)
	}
	return f.info(), nil
}

// Mkdir creates one directory; in the cgroup hierarchy, a cgroup.
func (n *Node) Mkdir(p string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	where, parts, err := n.locate("mkdir", p)
	if err != nil {
		return err
	}
	n.mutate("mkdir", p)
	if e := n.injected(OpMkdir, p); e != 0 {
		return perr("mkdir", p, e)
	}
	switch where {
	case areaCgroup:
		return n.mkdirCgroupPath(p, parts)
	case areaProc:
		return perr("mkdir", p, syscall.ENOENT)
	}
	return n.regMkdir(p, parts)
}

func (n *Node) mkdirCgroupPath(p string, parts []string) error {
	if len(parts) == 0 {
		return perr("mkdir", p, syscall.EEXIST)
	}
	parent, ctl, e := n.lookupCgroup(parts[:len(parts)-1])
	if e == 0 && ctl != nil {
		e = syscall.ENOTDIR
	}
	if e == 0 {
		_, e = n.mkdirCgroup(parent, parts[len(parts)-1])
	}
	if e != 0 {
		return perr("mkdir", p, e)
	}
	return nil
}

// MkdirAll creates a directory and its missing parents; every directory it
// creates is one mkdir.
func (n *Node) MkdirAll(p string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	where, parts, err := n.locate("mkdir", p)
	if err != nil {
		return err
	}
	var prefix string
	switch where {
	case areaCgroup:
		prefix = n.cfg.CgroupRoot
	case areaProc:
		prefix = "/proc"
	}
	for i := range parts {
		sub := parts[:i+1]
		var exists, isDir bool
		switch where {
		case areaCgroup:
			_, ctl, e := n.lookupCgroup(sub)
			exists, isDir = e == 0, ctl == nil
		case areaProc:
			pn, e := n.procLookup(sub)
			exists, isDir = e == 0, pn.list != nil
		default:
			f, e := n.rlookup(sub)
			exists, isDir = e == 0, e == 0 && f.dir
		}
		if exists && !isDir {
			return perr("mkdir", p, syscall.ENOTDIR)
		}
		if exists {
			continue
		}
		dir := prefix + "/" + strings.Join(sub, "/")
		n.mutate("mkdir", dir)
		if e := n.injected(OpMkdir, dir); e != 0 {
			return perr("mkdir", dir, e)
		}
		var err error
		switch where {
		case areaCgroup:
			err = n.mkdirCgroupPath(dir, sub)
		case areaProc:
			err = perr("mkdir", dir, syscall.ENOENT)
		default:
			err = n.regMkdir(dir, sub)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Remove removes a file or an empty directory; in the hierarchy, rmdir(2)
// of a cgroup.
func (n *Node) Remove(p string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	where, parts, err := n.locate("remove", p)
	if err != nil {
		return err
	}
	n.mutate("remove", p)
	if e := n.injected(OpRmdir, p); e != 0 {
		return perr("remove", p, e)
	}
	switch where {
	case areaCgroup:
		c, ctl, e := n.lookupCgroup(parts) // the root: rmdirCgroup says EBUSY
		if e == 0 && ctl != nil {
			e = syscall.ENOTDIR
		}
		if e == 0 {
			e = n.rmdirCgroup(c)
		}
		if e != 0 {
			return perr("remove", p, e)
		}
		return nil
	case areaProc:
		return perr("remove", p, syscall.EPERM)
	}
	return n.regRemove(p, parts)
}

// Rename renames atomically. Cgroups can be renamed within their parent
// (3.10); across filesystems rename fails with EXDEV.
func (n *Node) Rename(oldPath, newPath string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	lerr := func(e syscall.Errno) error {
		return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: e}
	}
	wo, po, err := n.locate("rename", oldPath)
	if err != nil {
		return lerr(syscall.EINVAL)
	}
	po = append([]string(nil), po...) // the next locate reuses the scratch parts
	wn, pn, err := n.locate("rename", newPath)
	if err != nil {
		return lerr(syscall.EINVAL)
	}
	n.mutate("rename", oldPath)
	if e := n.injected(OpRename, newPath); e != 0 {
		return lerr(e)
	}
	switch {
	case wo != wn:
		return lerr(syscall.EXDEV)
	case wo == areaProc:
		return lerr(syscall.EPERM)
	case wo == areaCgroup:
		return n.renameCgroupPath(po, pn, lerr)
	}
	if e := n.regRename(po, pn); e != 0 {
		return lerr(e)
	}
	return nil
}

func (n *Node) renameCgroupPath(po, pn []string, lerr func(syscall.Errno) error) error {
	if len(po) == 0 || len(pn) == 0 {
		return lerr(syscall.EBUSY)
	}
	c, ctl, e := n.lookupCgroup(po)
	if e != 0 {
		return lerr(e)
	}
	if ctl != nil {
		return lerr(syscall.ENOTDIR)
	}
	parent, pctl, e := n.lookupCgroup(pn[:len(pn)-1])
	if e == 0 && pctl != nil {
		e = syscall.ENOTDIR
	}
	if e == 0 {
		e = n.renameCgroup(c, parent, pn[len(pn)-1])
	}
	if e != 0 {
		return lerr(e)
	}
	return nil
}

// Open opens a file for streaming reads; the content is what the file held
// at Open.
func (n *Node) Open(p string) (io.ReadCloser, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	where, parts, err := n.locate("open", p)
	if err != nil {
		return nil, err
	}
	if where == areaRegular {
		f, e := n.rlookup(parts)
		if e != 0 {
			return nil, perr("open", p, e)
		}
		if f.dir {
			return io.NopCloser(errReader{perr("read", p, syscall.EISDIR)}), nil
		}
	}
	data, err := n.readFile(p)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// WriteFileAtomic writes r to a temporary file beside path and renames it
// over path: two mutating operations. A crash between them leaves the
// temporary file (named .<base>.tmp-<N>) and the old content of path.
func (n *Node) WriteFileAtomic(p string, r io.Reader, perm fs.FileMode) error {
	data, err := io.ReadAll(r) // before locking: r may read from this node
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	where, parts, err := n.locate("open", p)
	if err != nil {
		return err
	}
	if where != areaRegular {
		return perr("open", p, syscall.EACCES)
	}
	d, name, e := n.rparent(parts)
	if e != 0 {
		return perr("open", p, e)
	}
	tmp := fmt.Sprintf(".%s.tmp-%d", name, n.ops)
	tmpPath := path.Join(path.Dir(path.Clean(p)), tmp)
	n.mutate("create", tmpPath)
	if e := n.injected(OpWrite, p); e != 0 {
		return perr("write", tmpPath, e)
	}
	d.children[tmp] = &rnode{name: tmp, mode: perm.Perm(), data: data, mtime: n.now(), parent: d}
	n.mutate("rename", p)
	newParts := append(parts[:len(parts)-1:len(parts)-1], name)
	tmpParts := append(parts[:len(parts)-1:len(parts)-1], tmp)
	e = n.injected(OpRename, p)
	if e == 0 {
		e = n.regRename(tmpParts, newParts)
	}
	if e != 0 {
		delete(d.children, tmp)
		return &os.LinkError{Op: "rename", Old: tmpPath, New: p, Err: e}
	}
	return nil
}

// Lock takes an exclusive try-lock on path, creating the file when it does
// not exist (flock(2) of an O_CREAT open). A held lock fails with
// node.ErrLocked. Locks vanish with their holder: see ReleaseLocks.
func (n *Node) Lock(p string) (func() error, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	where, parts, err := n.locate("open", p)
	if err != nil {
		return nil, err
	}
	if e := n.injected(OpLock, p); e != 0 {
		return nil, perr("flock", p, e)
	}
	if where != areaRegular {
		return nil, perr("open", p, syscall.EACCES)
	}
	if _, e := n.rlookup(parts); e == syscall.ENOENT {
		d, name, e := n.rparent(parts)
		if e != 0 {
			return nil, perr("open", p, e)
		}
		d.children[name] = &rnode{name: name, mode: 0o600, mtime: n.now(), parent: d}
	} else if e != 0 {
		return nil, perr("open", p, e)
	}
	key := path.Clean(p)
	if _, held := n.locks[key]; held {
		return nil, &fs.PathError{Op: "flock", Path: p, Err: node.ErrLocked}
	}
	n.lockSeq++
	token := n.lockSeq
	n.locks[key] = token
	return func() error {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.locks[key] == token {
			delete(n.locks, key)
		}
		return nil
	}, nil
}
