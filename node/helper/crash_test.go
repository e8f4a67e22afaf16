package helper_test

import (
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/sim/simnode"
)

// crashSpec is the node of the crash and failure sweeps: ~50 containers,
// both layouts, one process that keeps forking.
var crashSpec = simnode.PodsSpec{Containers: 50, Forker: true, LeakIDs: 100}

// TestCrashAtEveryOperation stops the helper right before mutating
// operation k, for every k of the whole procedure, checks that no container
// is without its limit at that instant, runs the interrupted step again from
// its start, finishes the procedure and checks the invariants.
func TestCrashAtEveryOperation(t *testing.T) {
	total := opsOfCleanRun(t)
	stride := 1
	if testing.Short() {
		stride = 7
	}
	for k := 0; k < total; k += stride {
		n := newNode(t, crashSpec)
		b := capture(t, n)
		n.CrashAfter(k)
		crashes := 0
		for _, step := range procedure {
			r, crashed := run(t, n, step...)
			switch {
			case crashed:
				crashes++
				checkLimitsHeld(t, n, b, fmt.Sprintf("crash before op %d in %s", k, step[0]))
				n.ReleaseLocks() // the dead helper's flock is gone
				must(t, n, step...)
			case r.exit != 0:
				t.Fatalf("k=%d: %s failed before the crash point: %.2000s", k, step[0], r.raw)
			}
		}
		if crashes != 1 {
			t.Fatalf("k=%d: %d crashes, want exactly 1 (total ops %d)", k, crashes, total)
		}
		checkInvariants(t, n, b, fixedKubeletSHA)
		checkNotAccounted(t, n)
	}
	t.Logf("crashed and resumed at %d points of %d mutating operations", (total+stride-1)/stride, total)
}

// opsOfCleanRun counts the mutating operations of one whole procedure.
func opsOfCleanRun(t *testing.T) int {
	n := newNode(t, crashSpec)
	start := n.Ops()
	for _, step := range procedure {
		must(t, n, step...)
	}
	return n.Ops() - start
}

// TestFailureAtEveryOperationThenCompensate makes each mutating operation of
// the procedure fail once (EIO), for every operation of every kind, then
// follows the workflow's compensation path: before the commit point the
// node ends as it began (original kubelet running, every process and value
// where it was); past it, compensation refuses and the procedure finishes
// forward.
func TestFailureAtEveryOperationThenCompensate(t *testing.T) {
	counts := kindCountsOfCleanRun(t)
	stride := 1
	if testing.Short() {
		stride = 5
	}
	compensated, forward, absorbed := 0, 0, 0
	for _, kind := range []simnode.Op{simnode.OpMkdir, simnode.OpRmdir, simnode.OpWrite, simnode.OpRename} {
		for nth := 1; nth <= counts[kind]; nth += stride {
			n := newNode(t, crashSpec)
			b := capture(t, n)
			n.FailNth(kind, nth, syscall.EIO)
			if failedAt := runUntilFailure(t, n); failedAt < 0 {
				// A failure the procedure tolerates by design (force_empty:
				// rmdir reparents what it leaves): the run completed.
				absorbed++
				checkInvariants(t, n, b, fixedKubeletSHA)
			} else if compensate(t, n, failedAt) {
				compensated++
				checkInvariants(t, n, b, b.binary)
			} else {
				forward++
				checkInvariants(t, n, b, fixedKubeletSHA)
			}
		}
	}
	if compensated == 0 || forward == 0 {
		t.Fatalf("compensated %d, finished forward %d: both paths must be exercised", compensated, forward)
	}
	t.Logf("compensated %d failures, finished %d forward past the commit point, %d absorbed (force_empty)", compensated, forward, absorbed)
}

// runUntilFailure runs the procedure and returns the index of the first
// failed step, or -1.
func runUntilFailure(t *testing.T, n *simnode.Node) int {
	for i, step := range procedure {
		r, _ := run(t, n, step...)
		if r.exit != 0 {
			if r.resp.Error == nil {
				t.Fatalf("%s failed without an error: %s", step[0], r.raw)
			}
			return i
		}
	}
	return -1
}

// compensate follows the node workflow's saga after a failed step and
// reports whether the node was rolled back (true) or finished forward.
func compensate(t *testing.T, n *simnode.Node, failedAt int) bool {
	t.Helper()
	r, _ := run(t, n, "restore")
	if r.exit == 0 {
		must(t, n, "kubelet", "restore", "--binary", "/usr/bin/kubelet")
		must(t, n, "service", "start", "kubelet")
		return true
	}
	if r.resp.Error == nil || r.resp.Error.Code != node.CodePastCommit {
		t.Fatalf("restore after %s failed: %.2000s", procedure[failedAt][0], r.raw)
	}
	for _, step := range procedure[failedAt:] {
		must(t, n, step...)
	}
	return false
}

// kindCountsOfCleanRun counts each kind of mutating operation in a whole
// procedure, through a counting System around the simulated node.
func kindCountsOfCleanRun(t *testing.T) map[simnode.Op]int {
	n := newNode(t, crashSpec)
	c := &countingSystem{System: n, counts: map[simnode.Op]int{}}
	for _, step := range procedure {
		must(t, c, step...)
	}
	return c.counts
}

type countingSystem struct {
	node.System
	counts map[simnode.Op]int
}

func (c *countingSystem) Mkdir(p string) error {
	c.counts[simnode.OpMkdir]++
	return c.System.Mkdir(p)
}

func (c *countingSystem) Remove(p string) error {
	c.counts[simnode.OpRmdir]++
	return c.System.Remove(p)
}

func (c *countingSystem) WriteFile(p string, data []byte) error {
	c.counts[simnode.OpWrite]++
	return c.System.WriteFile(p, data)
}

func (c *countingSystem) WriteFileAtomic(p string, r io.Reader, perm fs.FileMode) error {
	c.counts[simnode.OpWrite]++
	return c.System.WriteFileAtomic(p, r, perm)
}

func (c *countingSystem) Rename(oldPath, newPath string) error {
	c.counts[simnode.OpRename]++
	return c.System.Rename(oldPath, newPath)
}

// checkLimitsHeld asserts, at one instant, that every container process
// sits in its own container's path (in kubepods or the mirror) and that the
// cgroup it sits in has the container's limits.
func checkLimitsHeld(t *testing.T, n *simnode.Node, b before, when string) {
	t.Helper()
	for _, p := range n.Processes() {
		was, known := b.place[p.Pid]
		rel, inTree := treeRel(p.Cgroup)
		if known && !strings.HasPrefix(was, "/kubepods") {
			continue // not a container process
		}
		if !inTree {
			if known {
				t.Fatalf("%s: pid %d escaped to %s (was %s)", when, p.Pid, p.Cgroup, was)
			}
			continue
		}
		if wasRel, _ := treeRel(was); known && wasRel != rel {
			t.Fatalf("%s: pid %d is in %s, belongs in %s", when, p.Pid, p.Cgroup, was)
		}
		want, ok := b.values[rel]
		if !ok {
			t.Fatalf("%s: pid %d is in %s, unknown to the snapshot", when, p.Pid, p.Cgroup)
		}
		have, _ := n.Cgroup(p.Cgroup)
		if have.Limit != want.Limit || have.MemswLimit != want.MemswLimit {
			t.Fatalf("%s: pid %d runs in %s with limit %d/%d, its container's is %d/%d",
				when, p.Pid, p.Cgroup, have.Limit, have.MemswLimit, want.Limit, want.MemswLimit)
		}
	}
}

// treeRel maps /kubepods/X and /kubepods2/X to X ("" for the tops).
func treeRel(cg string) (string, bool) {
	for _, top := range []string{"/kubepods2", "/kubepods"} {
		if cg == top {
			return "", true
		}
		if rest, ok := strings.CutPrefix(cg, top+"/"); ok {
			return "/" + rest, true
		}
	}
	return "", false
}
