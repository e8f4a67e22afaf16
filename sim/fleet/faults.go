package fleet

import (
	"fmt"
	"io"
	"io/fs"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/sim/simnode"
)

// enospcSystem makes the nth mkdir of a cgroup fail with ENOSPC, the way a
// node out of css ids answers. Only cgroup mkdirs count: directories an
// upload creates do not.
type enospcSystem struct {
	node.System
	cgroupRoot string
	nth        int

	mu   sync.Mutex
	seen int
}

func (e *enospcSystem) Mkdir(p string) error {
	if strings.HasPrefix(p, e.cgroupRoot+"/") {
		e.mu.Lock()
		e.seen++
		hit := e.seen == e.nth
		e.mu.Unlock()
		if hit {
			return &fs.PathError{Op: "mkdir", Path: p, Err: syscall.ENOSPC}
		}
	}
	return e.System.Mkdir(p)
}

// runHelper runs the helper like a process: a panic is its death. A crash
// the tests asked for (helper --crash-after-ops, simnode.CrashAfter) exits
// 137 as the helper binary does; SIGPIPE (a write after its session went
// away) is passed on to runProcess; any other panic prints its stack and
// exits 2 as a Go program does. Every way the node drops the dead
// process's locks.
func (h *host) runHelper(run func() int, stderr io.Writer) (code int) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		h.sim.ReleaseLocks()
		if _, ok := r.(brokenPipe); ok {
			panic(r) // SIGPIPE: runProcess reports it
		}
		if isCrash(r) {
			fmt.Fprintf(stderr, "killed: %v\n", r)
			code = 137
			return
		}
		fmt.Fprintf(stderr, "panic: %v\n\n%s", r, debug.Stack())
		code = 2
	}()
	return run()
}

func isCrash(r any) bool {
	if _, ok := r.(simnode.Crash); ok {
		return true
	}
	// helper.Crash is not imported: the fleet takes the helper injected.
	return strings.HasSuffix(fmt.Sprintf("%T", r), "helper.Crash")
}
