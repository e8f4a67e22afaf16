// Package probe asks a cgroup v1 memory controller a fixed list of
// questions (which mkdir, rmdir and control-file writes fail, with which
// errno, and what the kernel reads back) so that the answers of a real kernel
// and of the simulated one can be compared probe by probe.
//
// The same code runs inside the QEMU guest against the real kernel and in
// the differential test against sim/simnode: only the Kernel differs.
package probe

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"syscall"
)

// Kernel is what the probes need from a memory-cgroup hierarchy: the file
// operations of node.System plus a way to run processes that charge memory.
// Paths are absolute.
type Kernel interface {
	Mkdir(path string) error
	Remove(path string) error
	WriteFile(path string, data []byte) error
	ReadFile(path string) ([]byte, error)
	// Spawn starts a process inside the cgroup dir, then has it touch about
	// anonBytes of anonymous memory (so the charge lands in dir), and
	// returns its pid once the memory is touched.
	Spawn(dir string, anonBytes int64) (pid int, err error)
	// Kill ends a process started by Spawn and waits until it is gone (and
	// reaped), so its pid then names no process.
	Kill(pid int) error
}

// Result is a kernel's answer to one probe.
type Result struct {
	Name  string `json:"name"`
	Op    string `json:"op"`
	Errno string `json:"errno"`           // "" on success, else EBUSY, EINVAL, ...
	Value string `json:"value,omitempty"` // what the probe read back, if anything
	Note  string `json:"note,omitempty"`  // setup failures and remarks
}

// SetupFailed is the Errno of a probe whose preparation failed: the answer
// says nothing about the operation probed.
const SetupFailed = "SETUP-FAILED"

// Probe is one question: Run prepares what it needs under dir (a fresh,
// empty cgroup) and returns the probed operation's error and read-back.
type Probe struct {
	Name string
	Op   string // the operation, in words
	Run  func(e *Env) (value string, err error)
}

// Env is a probe's scratch space. Its helpers record what they create so it
// is all removed afterwards; a failing helper aborts the probe as a setup
// failure.
type Env struct {
	K    Kernel
	Root string // the hierarchy's root (for probes of the root cgroup)
	Dir  string // the probe's own fresh cgroup
	dirs []string
	pids []int
}

type setupError struct{ err error }

// Must aborts the probe as a setup failure when err is not nil.
func (e *Env) Must(err error) {
	if err != nil {
		panic(setupError{err})
	}
}

// Mkdir creates the cgroup rel under the probe's dir (setup step).
func (e *Env) Mkdir(rel string) string {
	p := path.Join(e.Dir, rel)
	e.Must(e.K.Mkdir(p))
	e.dirs = append(e.dirs, p)
	return p
}

// Write writes value to file under the probe's dir (setup step).
func (e *Env) Write(rel, file, value string) {
	e.Must(e.K.WriteFile(path.Join(e.Dir, rel, file), []byte(value)))
}

// Read reads a control file under the probe's dir, trimmed.
func (e *Env) Read(rel, file string) string {
	b, err := e.K.ReadFile(path.Join(e.Dir, rel, file))
	e.Must(err)
	return strings.TrimSpace(string(b))
}

// Spawn starts a process in the cgroup rel charging anonMiB MiB.
func (e *Env) Spawn(rel string, anonMiB int64) int {
	pid, err := e.K.Spawn(path.Join(e.Dir, rel), anonMiB<<20)
	e.Must(err)
	e.pids = append(e.pids, pid)
	return pid
}

// Kill ends a process started with Spawn (setup step).
func (e *Env) Kill(pid int) {
	for i, p := range e.pids {
		if p == pid {
			e.pids = append(e.pids[:i], e.pids[i+1:]...)
			break
		}
	}
	e.Must(e.K.Kill(pid))
}

// Created records a cgroup the probed operation itself created, so it is
// removed afterwards.
func (e *Env) Created(p string, err error) error {
	if err == nil {
		e.dirs = append(e.dirs, p)
	}
	return err
}

// ExitedPID returns the pid of a process that has exited and been reaped.
func (e *Env) ExitedPID() int {
	pid := e.Spawn("", 0)
	e.Kill(pid)
	return pid
}

// Run asks every probe, each in a fresh cgroup under base, and returns the
// answers in order. Run creates base and removes it at the end.
func Run(k Kernel, root, base string, probes []Probe) ([]Result, error) {
	if err := k.Mkdir(base); err != nil {
		return nil, fmt.Errorf("probe: mkdir %s: %w", base, err)
	}
	out := make([]Result, 0, len(probes))
	for _, p := range probes {
		out = append(out, runOne(k, root, path.Join(base, p.Name), p))
	}
	if err := k.Remove(base); err != nil {
		return out, fmt.Errorf("probe: rmdir %s: %w", base, err)
	}
	return out, nil
}

func runOne(k Kernel, root, dir string, p Probe) (res Result) {
	res = Result{Name: p.Name, Op: p.Op}
	e := &Env{K: k, Root: root, Dir: dir}
	if err := k.Mkdir(dir); err != nil {
		res.Errno, res.Note = SetupFailed, fmt.Sprintf("mkdir %s: %v", dir, err)
		return res
	}
	e.dirs = append(e.dirs, dir)
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(setupError)
			if !ok {
				panic(r)
			}
			res.Errno, res.Note, res.Value = SetupFailed, se.err.Error(), ""
		}
		if err := e.cleanup(); err != nil {
			res.Note = strings.TrimSpace(res.Note + " cleanup: " + err.Error())
		}
	}()
	value, err := p.Run(e)
	res.Value, res.Errno = value, Errno(err)
	if res.Errno == "" && err != nil {
		res.Errno, res.Note = "OTHER", err.Error()
	}
	return res
}

func (e *Env) cleanup() error {
	var errs []error
	for _, pid := range e.pids {
		if err := e.K.Kill(pid); err != nil {
			errs = append(errs, fmt.Errorf("kill %d: %w", pid, err))
		}
	}
	for i := len(e.dirs) - 1; i >= 0; i-- {
		if err := e.K.Remove(e.dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", e.dirs[i], err))
		}
	}
	return errors.Join(errs...)
}

// Errno names the errno inside err: "" for nil, "" for errors that carry
// none (the caller decides what that means).
func Errno(err error) string {
	if err == nil {
		return ""
	}
	var en syscall.Errno
	if !errors.As(err, &en) {
		return ""
	}
	if name, ok := errnoNames[en]; ok {
		return name
	}
	return fmt.Sprintf("errno(%d)", int(en))
}

var errnoNames = map[syscall.Errno]string{
	syscall.EPERM:        "EPERM",
	syscall.ENOENT:       "ENOENT",
	syscall.ESRCH:        "ESRCH",
	syscall.EINTR:        "EINTR",
	syscall.EIO:          "EIO",
	syscall.E2BIG:        "E2BIG",
	syscall.EAGAIN:       "EAGAIN",
	syscall.ENOMEM:       "ENOMEM",
	syscall.EACCES:       "EACCES",
	syscall.EBUSY:        "EBUSY",
	syscall.EEXIST:       "EEXIST",
	syscall.ENOTDIR:      "ENOTDIR",
	syscall.EISDIR:       "EISDIR",
	syscall.EINVAL:       "EINVAL",
	syscall.ENOSPC:       "ENOSPC",
	syscall.ERANGE:       "ERANGE",
	syscall.ENAMETOOLONG: "ENAMETOOLONG",
	syscall.ENOTEMPTY:    "ENOTEMPTY",
	syscall.EOPNOTSUPP:   "EOPNOTSUPP",
	syscall.ENODEV:       "ENODEV",
	syscall.ENOSYS:       "ENOSYS",
	524:                  "ENOTSUPP", // kernel-internal, leaks to user space from some cgroup files
}
