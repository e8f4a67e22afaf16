package simnode

import (
	"context"
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

func TestFailNth(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "a")
	pid := spawn(t, n, "a", ProcSpec{})

	n.FailNth(OpMkdir, 2, syscall.ENOSPC)
	mkdir(t, n, "b")
	wantErrno(t, n.Mkdir(cg("c")), syscall.ENOSPC)
	mkdir(t, n, "c") // once only
	if _, ok := n.Cgroup("c"); !ok {
		t.Fatal("the retry did not create c")
	}

	n.FailNthNamed(OpWrite, "memory.limit_in_bytes", 1, syscall.EBUSY)
	write(t, n, "a/memory.soft_limit_in_bytes", "1G") // another file: not counted
	wantErrno(t, n.WriteFile(cg("a/memory.limit_in_bytes"), []byte("1G")), syscall.EBUSY)
	if got := read(t, n, "a/memory.limit_in_bytes"); got != "9223372036854771712" {
		t.Fatalf("a failed write changed the value: %s", got)
	}

	n.FailNth(OpMove, 1, syscall.ENOMEM)
	wantErrno(t, n.WriteFile(cg("b/cgroup.procs"), []byte(itoa(pid))), syscall.ENOMEM)
	if where, _ := n.CgroupOf(pid); where != "/a" {
		t.Fatal("a failed move moved")
	}

	n.FailNth(OpRead, 1, syscall.EIO)
	_, err := n.ReadFile(cg("a/cgroup.procs"))
	wantErrno(t, err, syscall.EIO)

	n.FailNth(OpRmdir, 1, syscall.EBUSY)
	wantErrno(t, n.Remove(cg("c")), syscall.EBUSY)
	wantErrno(t, n.Remove(cg("c")), 0)

	n.FailNthNamed(OpRun, "systemctl", 1, syscall.ENOMEM)
	if _, err := n.Run(context.Background(), []string{"true"}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Run(context.Background(), []string{"systemctl", "stop", "kubelet"}); !errors.Is(err, syscall.ENOMEM) {
		t.Fatalf("run fault: %v", err)
	}
	if n.ServiceState("kubelet") != "active" {
		t.Fatal("a failed run stopped the kubelet")
	}

	n.FailNth(OpRename, 1, syscall.EIO)
	if err := n.WriteFileAtomic("/tmp/x", emptyReader(), 0o644); !errors.Is(err, syscall.EIO) {
		t.Fatalf("atomic write with a failing rename: %v", err)
	}
	if _, err := n.Stat("/tmp/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("failed atomic write left the file")
	}
	if ents, _ := n.ReadDir("/tmp"); len(ents) != 0 {
		t.Fatalf("failed atomic write left %v", ents)
	}
}

func TestCrashAfter(t *testing.T) {
	n := newNode(t, Config{})
	start := n.Ops()
	mkdir(t, n, "a")
	write(t, n, "a/memory.limit_in_bytes", "1G")
	_, _ = n.ReadFile(cg("a/memory.limit_in_bytes")) // reads do not count
	if n.Ops() != start+2 {
		t.Fatalf("ops %d, want %d", n.Ops(), start+2)
	}
	n.CrashAfter(1)
	mkdir(t, n, "b")
	crash := func(f func()) (c Crash, crashed bool) {
		defer func() {
			if r := recover(); r != nil {
				c, crashed = r.(Crash)
				if !crashed {
					panic(r)
				}
			}
		}()
		f()
		return
	}
	c, crashed := crash(func() { _ = n.Mkdir(cg("c")) })
	if !crashed || c.After != start+3 || c.Path != cg("c") {
		t.Fatalf("crash %+v %t", c, crashed)
	}
	if _, ok := n.Cgroup("c"); ok {
		t.Fatal("the crashed mkdir happened")
	}
	// The node is usable after a crash, and the crash fired once.
	mkdir(t, n, "c")
	// A crash inside systemctl leaves the unit as it was.
	n.CrashAfter(0)
	if _, crashed := crash(func() { _, _ = n.Run(context.Background(), []string{"systemctl", "stop", "kubelet"}) }); !crashed {
		t.Fatal("systemctl stop did not crash")
	}
	if n.ServiceState("kubelet") != "active" {
		t.Fatal("crashed stop stopped the kubelet")
	}
	n.CrashAfter(5)
	n.CrashAfter(-1)
	for i := range 10 {
		mkdir(t, n, "d"+itoa(i))
	}
}
