package simnode

import (
	"fmt"
	"io/fs"
	"path"
	"syscall"
)

// Op is a kind of operation that FailNth can make fail.
type Op string

// Operation kinds. A write to cgroup.procs or tasks is both an OpWrite and
// an OpMove: a fault on either kind sees it.
const (
	OpMkdir   Op = "mkdir"   // Mkdir, and each directory MkdirAll creates
	OpRmdir   Op = "rmdir"   // Remove, cgroup or regular
	OpWrite   Op = "write"   // WriteFile, WriteFileAtomic
	OpRead    Op = "read"    // ReadFile, Open
	OpReadDir Op = "readdir" // ReadDir
	OpStat    Op = "stat"    // Stat
	OpMove    Op = "move"    // writes to cgroup.procs or tasks
	OpRename  Op = "rename"  // Rename
	OpRun     Op = "run"     // Run (base name: argv[0]'s)
	OpHTTP    Op = "http"    // HTTPGet
	OpLock    Op = "lock"    // Lock
)

// Crash is the value a crashed operation panics with: the helper process
// died before the operation took effect. Recover it, call ReleaseLocks, and
// run the interrupted step again.
type Crash struct {
	After int    // mutating operations completed before the crash
	Op    string // the operation that did not happen
	Path  string
}

func (c Crash) String() string {
	return fmt.Sprintf("simnode: crashed after %d mutating operations, before %s %s", c.After, c.Op, c.Path)
}

type fault struct {
	op    Op
	base  string
	nth   int
	seen  int
	errno syscall.Errno
}

// FailNth makes the nth (1-based) operation of kind op from now on fail
// with errno, once. Faults do not change the node: the operation is refused
// before it takes effect.
func (n *Node) FailNth(op Op, nth int, errno syscall.Errno) {
	n.FailNthNamed(op, "", nth, errno)
}

// FailNthNamed is FailNth counting only operations on files whose base name
// is base (for OpRun: argv[0]'s base name).
func (n *Node) FailNthNamed(op Op, base string, nth int, errno syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if nth < 1 {
		nth = 1
	}
	n.faults = append(n.faults, &fault{op: op, base: base, nth: nth, errno: errno})
}

// ClearFaults removes every pending FailNth.
func (n *Node) ClearFaults() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = nil
}

// CrashAfter arms a crash: after k more mutating operations, the next one
// panics with a Crash (k = 0: the very next one). A negative k disarms it.
// The crash fires once.
func (n *Node) CrashAfter(k int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if k < 0 {
		n.crashAt = -1
		return
	}
	n.crashAt = n.ops + k
}

// Ops returns the number of mutating operations so far.
func (n *Node) Ops() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ops
}

// Clock returns the number of kernel operations (System calls) so far.
func (n *Node) Clock() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.clock
}

// ReleaseLocks drops every lock, as the death of their holders does.
func (n *Node) ReleaseLocks() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.locks)
}

// mutate counts one mutating operation, or panics when a crash is due.
// Called with n.mu held, before anything changes.
func (n *Node) mutate(op, p string) {
	if n.crashAt >= 0 && n.ops >= n.crashAt {
		n.crashAt = -1
		panic(Crash{After: n.ops, Op: op, Path: p})
	}
	n.ops++
}

// injected returns the errno of a due fault of kind op on p, if any.
func (n *Node) injected(op Op, p string) syscall.Errno {
	if len(n.faults) == 0 {
		return 0
	}
	base := path.Base(p)
	var hit syscall.Errno
	kept := n.faults[:0]
	for _, f := range n.faults {
		if f.op == op && (f.base == "" || f.base == base) {
			f.seen++
			if f.seen == f.nth {
				if hit == 0 {
					hit = f.errno
				}
				continue
			}
		}
		kept = append(kept, f)
	}
	n.faults = kept
	return hit
}

func perr(op, p string, errno syscall.Errno) error {
	return &fs.PathError{Op: op, Path: p, Err: errno}
}
