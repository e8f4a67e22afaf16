// Package realos wires node.System to the real operating system: what the
// node helper binary uses on a node. Cgroup control files get one write(2)
// each, commands run without a shell, the lock is flock(2).
package realos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kmemfix/kmemfix/node"
)

// OS is the real node.
type OS struct{}

var _ node.System = OS{}

func (OS) ReadFile(path string) ([]byte, error)       { return os.ReadFile(path) }
func (OS) ReadDir(path string) ([]fs.DirEntry, error) { return os.ReadDir(path) }
func (OS) Stat(path string) (fs.FileInfo, error)      { return os.Stat(path) }
func (OS) Mkdir(path string) error                    { return os.Mkdir(path, 0o755) } //nolint:gosec // a cgroup: cgroupfs's own mode
func (OS) MkdirAll(path string) error                 { return os.MkdirAll(path, 0o700) }
func (OS) Remove(path string) error                   { return os.Remove(path) }
func (OS) Rename(oldPath, newPath string) error       { return os.Rename(oldPath, newPath) }
func (OS) Open(path string) (io.ReadCloser, error)    { return os.Open(path) }

// WriteFile writes data with a single write(2) to an existing file, as the
// kernel's cgroup files expect; the kernel's answer is the write's error.
func (OS) WriteFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

// WriteFileAtomic writes through a temporary file in the same folder,
// fsyncs it, renames it over path and fsyncs the folder.
func (OS) WriteFileAtomic(path string, r io.Reader, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := fill(tmp, r, perm); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// fill writes r into f with perm and flushes it to disk.
func fill(f *os.File, r io.Reader, perm fs.FileMode) error {
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	return f.Sync()
}

// Lock takes flock(LOCK_EX|LOCK_NB) on path. The kernel drops it when the
// process dies, so a crashed run never leaves the node locked.
func (OS) Lock(path string) (func() error, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, node.ErrLocked)
		}
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return f.Close, nil
}

// Run executes argv directly (no shell). A non-zero exit is data.
func (OS) Run(ctx context.Context, argv []string) (node.Command, error) {
	if len(argv) == 0 {
		return node.Command{}, errors.New("run: empty argv")
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		return node.Command{}, fmt.Errorf("run %s: %w", argv[0], fs.ErrNotExist)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := node.Command{Stdout: stdout.b, Stderr: stderr.b}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		out.ExitCode = exit.ExitCode()
		return out, nil
	}
	return out, err
}

// HTTPGet fetches a local health endpoint.
func (OS) HTTPGet(ctx context.Context, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, nil
}

// limitedBuffer keeps the first 1 MiB of a command's output: enough for
// any message, bounded against a runaway command.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 1<<20 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
