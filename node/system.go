package node

import (
	"context"
	"io"
	"io/fs"
)

// System is the node's operating system as the node procedure sees it. The
// helper binary wires it to the real OS (package realos); tests, benchmarks
// and the simulated fleet wire it to a simulated 3.10 kernel (package
// sim/simnode). The procedure never touches the OS except through it, so the
// code that runs in tests is the code that runs on nodes.
//
// Errors follow the os package: a *fs.PathError wrapping a syscall.Errno, so
// errors.Is(err, syscall.EBUSY) and errors.Is(err, fs.ErrNotExist) work on
// both implementations.
type System interface {
	// ReadFile reads a whole file (a cgroup control file, /proc, a journal).
	ReadFile(path string) ([]byte, error)
	// WriteFile writes data to an existing file with a single write(2), as
	// cgroup control files require (no create, no truncate semantics).
	WriteFile(path string, data []byte) error
	// ReadDir lists a directory, sorted by name.
	ReadDir(path string) ([]fs.DirEntry, error)
	// Stat describes a file or directory.
	Stat(path string) (fs.FileInfo, error)
	// Mkdir creates one directory (mode 0755); in a cgroup hierarchy this
	// creates a cgroup.
	Mkdir(path string) error
	// MkdirAll creates a directory and its missing parents (regular
	// filesystems only: the journal folder).
	MkdirAll(path string) error
	// Remove removes a file or an empty directory; in a cgroup hierarchy
	// this is rmdir(2) of a cgroup.
	Remove(path string) error
	// Rename renames a regular file atomically.
	Rename(oldPath, newPath string) error
	// Open opens a regular file for streaming reads (binaries, sha256).
	Open(path string) (io.ReadCloser, error)
	// WriteFileAtomic writes r to path through a temporary file in the same
	// folder, fsyncs it and renames it over path, so a crash leaves either
	// the old or the new content, never a torn file.
	WriteFileAtomic(path string, r io.Reader, perm fs.FileMode) error
	// Lock takes an exclusive, non-blocking lock on path (flock(2) on a real
	// node). It fails with ErrLocked when another holder has it. The lock
	// is released by the returned function or when the process dies.
	Lock(path string) (release func() error, err error)
	// Run executes argv without a shell and returns its outcome. A non-zero
	// exit is data (Command.ExitCode), not an error; err is for failures to
	// run at all (binary not found: errors.Is(err, fs.ErrNotExist)).
	Run(ctx context.Context, argv []string) (Command, error)
	// HTTPGet fetches a URL on the node itself (kubelet /healthz) and
	// returns the status code.
	HTTPGet(ctx context.Context, url string) (int, error)
}

// Command is the outcome of System.Run.
type Command struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}
