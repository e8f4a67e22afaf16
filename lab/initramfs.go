package lab

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// Initramfs is an initramfs image being assembled in memory: files,
// directories and symlinks by absolute guest path. WriteTo writes it as an
// uncompressed newc cpio archive, which the kernel unpacks into its rootfs.
type Initramfs struct {
	entries map[string]entry
}

type entry struct {
	mode uint32 // file type and permission bits, as in stat(2)
	data []byte // file content, or the symlink's target
	src  string // or: a host file to copy
}

// cpio file types.
const (
	typeDir     = 0o040000
	typeFile    = 0o100000
	typeSymlink = 0o120000
)

// NewInitramfs returns an empty image.
func NewInitramfs() *Initramfs { return &Initramfs{entries: map[string]entry{}} }

// Dir adds a directory (and its parents).
func (r *Initramfs) Dir(p string) {
	p = path.Clean(p)
	for d := p; d != "/" && d != "."; d = path.Dir(d) {
		if _, ok := r.entries[d]; !ok {
			r.entries[d] = entry{mode: typeDir | 0o755}
		}
	}
}

// File adds a file with the given content and permission bits.
func (r *Initramfs) File(p string, data []byte, perm uint32) {
	r.Dir(path.Dir(p))
	r.entries[path.Clean(p)] = entry{mode: typeFile | perm, data: data}
}

// HostFile adds a copy of a host file, read when the image is written.
func (r *Initramfs) HostFile(p, src string, perm uint32) {
	r.Dir(path.Dir(p))
	r.entries[path.Clean(p)] = entry{mode: typeFile | perm, src: src}
}

// Symlink adds a symbolic link p -> target.
func (r *Initramfs) Symlink(p, target string) {
	r.Dir(path.Dir(p))
	r.entries[path.Clean(p)] = entry{mode: typeSymlink | 0o777, data: []byte(target)}
}

// WriteFile writes the image to a host file.
func (r *Initramfs) WriteFile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("lab: initramfs: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := r.write(w); err != nil {
		_ = f.Close() // the write error is the one to report
		return fmt.Errorf("lab: initramfs %s: %w", name, err)
	}
	if err := w.Flush(); err != nil {
		_ = f.Close() // the write error is the one to report
		return fmt.Errorf("lab: initramfs %s: %w", name, err)
	}
	return f.Close()
}

// write emits parents before children (sorted paths do that) and the
// trailer.
func (r *Initramfs) write(w io.Writer) error {
	names := make([]string, 0, len(r.entries))
	for p := range r.entries {
		names = append(names, p)
	}
	sort.Strings(names)
	ino := uint32(1)
	for _, p := range names {
		e := r.entries[p]
		data := e.data
		if e.src != "" {
			b, err := os.ReadFile(e.src)
			if err != nil {
				return err
			}
			data = b
		}
		if e.mode&0o170000 == typeDir {
			data = nil
		}
		if err := writeRecord(w, strings.TrimPrefix(p, "/"), ino, e.mode, data); err != nil {
			return err
		}
		ino++
	}
	return writeRecord(w, "TRAILER!!!", 0, 0, nil)
}

// writeRecord writes one newc header, name and data, each padded to 4 bytes.
func writeRecord(w io.Writer, name string, ino, mode uint32, data []byte) error {
	nlink := uint32(1)
	if mode&0o170000 == typeDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	buf := make([]byte, 0, len(hdr)+len(name)+8)
	buf = append(buf, hdr...)
	buf = append(buf, name...)
	buf = append(buf, 0)
	buf = append(buf, make([]byte, pad4(len(buf)))...)
	if _, err := w.Write(buf); err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	_, err := w.Write(make([]byte, pad4(len(data))))
	return err
}

func pad4(n int) int { return (4 - n%4) % 4 }
