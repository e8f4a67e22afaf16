package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"

	"github.com/pkg/sftp"

	"github.com/kmemfix/kmemfix/node"
)

// sftpFS serves one SFTP session from a node's simulated filesystem through
// the regular-file part of node.System. An upload is kept in memory while
// its handle is open and committed with WriteFileAtomic on fsync and on
// close, so a client that dies mid-transfer leaves no torn file behind.
type sftpFS struct {
	sys     node.System
	changed func(path string) // called after a path's content or name changed

	mu   sync.Mutex
	open map[string]*upload // path -> the upload open on it
}

func newSFTPFS(sys node.System, changed func(path string)) *sftpFS {
	return &sftpFS{sys: sys, changed: changed, open: map[string]*upload{}}
}

func (s *sftpFS) handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: s, FilePut: s, FileCmd: s, FileList: s}
}

// Fileread opens a file for reading.
func (s *sftpFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	data, err := s.readAll(r.Filepath)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(data), nil
}

// Filewrite opens a file for writing with the request's open flags.
func (s *sftpFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	return s.OpenFile(r)
}

// OpenFile opens a file for reading and writing.
func (s *sftpFS) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	flags := r.Pflags()
	if u, ok := s.sys.(*userSystem); ok {
		if err := u.check("open", r.Filepath); err != nil {
			return nil, err
		}
	}
	info, err := s.sys.Stat(r.Filepath)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case exists && info.IsDir():
		return nil, &fs.PathError{Op: "open", Path: r.Filepath, Err: errIsDir}
	case exists && flags.Creat && flags.Excl:
		return nil, &fs.PathError{Op: "open", Path: r.Filepath, Err: fs.ErrExist}
	case !exists && !flags.Creat:
		return nil, &fs.PathError{Op: "open", Path: r.Filepath, Err: fs.ErrNotExist}
	}
	u := &upload{fs: s, path: r.Filepath, perm: 0o644, dirty: !exists}
	if a := r.Attributes(); r.AttrFlags().Permissions {
		u.perm = fs.FileMode(a.Mode).Perm()
	}
	if exists {
		u.perm = info.Mode().Perm()
		if !flags.Trunc {
			if u.data, err = s.readAll(r.Filepath); err != nil {
				return nil, err
			}
		} else {
			u.dirty = true
		}
	}
	u.appendOnly = flags.Append
	s.mu.Lock()
	s.open[r.Filepath] = u
	s.mu.Unlock()
	return u, nil
}

// Filecmd runs setstat, rename, posix-rename, mkdir, rmdir and remove.
func (s *sftpFS) Filecmd(r *sftp.Request) error {
	switch r.Method {
	case "Setstat":
		return s.setstat(r)
	case "Rename":
		if _, err := s.sys.Stat(r.Target); err == nil {
			return &fs.PathError{Op: "rename", Path: r.Target, Err: fs.ErrExist}
		}
		defer s.changed(r.Target)
		return s.sys.Rename(r.Filepath, r.Target)
	case "Rmdir", "Remove":
		defer s.changed(r.Filepath)
		return s.sys.Remove(r.Filepath)
	case "Mkdir":
		if _, err := s.sys.Stat(r.Filepath); err == nil {
			return &fs.PathError{Op: "mkdir", Path: r.Filepath, Err: fs.ErrExist}
		}
		if _, err := s.sys.Stat(path.Dir(r.Filepath)); err != nil {
			return err
		}
		return s.sys.MkdirAll(r.Filepath)
	}
	return sftp.ErrSSHFxOpUnsupported
}

// PosixRename renames over an existing target, as posix-rename@openssh.com
// promises.
func (s *sftpFS) PosixRename(r *sftp.Request) error {
	defer s.changed(r.Target)
	return s.sys.Rename(r.Filepath, r.Target)
}

// Filelist answers List and Stat (Lstat too: there are no symlinks here).
func (s *sftpFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch r.Method {
	case "Stat", "Lstat":
		info, err := s.sys.Stat(r.Filepath)
		if err != nil {
			return nil, err
		}
		return listerAt{info}, nil
	case "List":
		entries, err := s.sys.ReadDir(r.Filepath)
		if err != nil {
			return nil, err
		}
		infos := make(listerAt, 0, len(entries))
		for _, e := range entries {
			info, err := e.Info()
			if err != nil {
				continue // removed while listing
			}
			infos = append(infos, info)
		}
		return infos, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// fsyncPath commits the upload open on path, for fsync@openssh.com.
func (s *sftpFS) fsyncPath(p string) error {
	s.mu.Lock()
	u := s.open[p]
	s.mu.Unlock()
	if u == nil {
		return nil // nothing buffered: what is on the node is what was written
	}
	return u.commit()
}

func (s *sftpFS) setstat(r *sftp.Request) error {
	flags, attrs := r.AttrFlags(), r.Attributes()
	if !flags.Permissions && !flags.Size {
		return nil // times and owners: accepted, not simulated
	}
	s.mu.Lock()
	u := s.open[r.Filepath]
	s.mu.Unlock()
	if u == nil {
		data, err := s.readAll(r.Filepath)
		if err != nil {
			return err
		}
		info, err := s.sys.Stat(r.Filepath)
		if err != nil {
			return err
		}
		u = &upload{fs: s, path: r.Filepath, perm: info.Mode().Perm(), data: data}
	}
	u.mu.Lock()
	if flags.Permissions {
		u.perm = fs.FileMode(attrs.Mode).Perm()
	}
	if flags.Size {
		u.data = resize(u.data, int64(attrs.Size))
	}
	u.dirty = true
	u.mu.Unlock()
	return u.commit()
}

func (s *sftpFS) readAll(p string) ([]byte, error) {
	rc, err := s.sys.Open(p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

var errIsDir = errors.New("is a directory")

// upload is one open, writable file.
type upload struct {
	fs   *sftpFS
	path string

	mu         sync.Mutex
	perm       fs.FileMode
	data       []byte
	dirty      bool
	appendOnly bool
}

func (u *upload) WriteAt(p []byte, off int64) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.appendOnly {
		off = int64(len(u.data))
	}
	if off < 0 || off > 1<<34 {
		return 0, fmt.Errorf("write at offset %d: out of range", off)
	}
	if end := off + int64(len(p)); end > int64(len(u.data)) {
		u.data = resize(u.data, end)
	}
	copy(u.data[off:], p)
	u.dirty = true
	return len(p), nil
}

func (u *upload) ReadAt(p []byte, off int64) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if off >= int64(len(u.data)) {
		return 0, io.EOF
	}
	n := copy(p, u.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close commits what was written and forgets the handle.
func (u *upload) Close() error {
	err := u.commit()
	u.fs.mu.Lock()
	if u.fs.open[u.path] == u {
		delete(u.fs.open, u.path)
	}
	u.fs.mu.Unlock()
	return err
}

func (u *upload) commit() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.dirty {
		return nil
	}
	if err := u.fs.sys.WriteFileAtomic(u.path, bytes.NewReader(u.data), u.perm); err != nil {
		return err
	}
	u.fs.changed(u.path)
	u.dirty = false
	return nil
}

func resize(b []byte, n int64) []byte {
	if n <= int64(len(b)) {
		return b[:n]
	}
	if n <= int64(cap(b)) {
		old := len(b)
		b = b[:n]
		clear(b[old:])
		return b
	}
	out := make([]byte, n, n+n/4)
	copy(out, b)
	return out
}

// listerAt serves a fixed list of file infos.
type listerAt []os.FileInfo

func (l listerAt) ListAt(dst []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

func (s *sftpFS) openUploads() []*upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*upload, 0, len(s.open))
	for _, u := range s.open {
		out = append(out, u)
	}
	return out
}
