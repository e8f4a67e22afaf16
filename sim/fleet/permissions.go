package fleet

import (
	"io"
	"io/fs"
	"path"
	"strings"
	"syscall"

	"github.com/kmemfix/kmemfix/node"
)

// A non-root login may change files only in its home and the temporary
// folders, as on a real node; everything else needs sudo (exec) and is
// out of reach of SFTP. This keeps a client honest: one that wrote a
// binary into /usr/local/bin over SFTP as a sudo user would work here
// and fail in production.

// userMayWrite reports whether a non-root user may create, change or remove p.
func userMayWrite(user, p string) bool {
	p = path.Clean(p)
	for _, dir := range []string{"/home/" + user, "/tmp", "/var/tmp"} {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

func errAccess(op, p string) error {
	return &fs.PathError{Op: op, Path: p, Err: syscall.EACCES}
}

// userSystem is a node's filesystem as a non-root user sees it: reads
// everywhere, writes only where userMayWrite allows.
type userSystem struct {
	node.System
	user string
}

func (u *userSystem) check(op, p string) error {
	if userMayWrite(u.user, p) {
		return nil
	}
	return errAccess(op, p)
}

func (u *userSystem) WriteFile(p string, data []byte) error {
	if err := u.check("open", p); err != nil {
		return err
	}
	return u.System.WriteFile(p, data)
}

func (u *userSystem) Mkdir(p string) error {
	if err := u.check("mkdir", p); err != nil {
		return err
	}
	return u.System.Mkdir(p)
}

func (u *userSystem) MkdirAll(p string) error {
	if err := u.check("mkdir", p); err != nil {
		return err
	}
	return u.System.MkdirAll(p)
}

func (u *userSystem) Remove(p string) error {
	if err := u.check("remove", p); err != nil {
		return err
	}
	return u.System.Remove(p)
}

func (u *userSystem) Rename(oldPath, newPath string) error {
	if err := u.check("rename", oldPath); err != nil {
		return err
	}
	if err := u.check("rename", newPath); err != nil {
		return err
	}
	return u.System.Rename(oldPath, newPath)
}

func (u *userSystem) WriteFileAtomic(p string, r io.Reader, perm fs.FileMode) error {
	if err := u.check("open", p); err != nil {
		return err
	}
	return u.System.WriteFileAtomic(p, r, perm)
}
