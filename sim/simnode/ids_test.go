package simnode

import (
	"errors"
	"io/fs"
	"path"
	"syscall"
	"testing"
)

func TestIDAllocatorLowestFree(t *testing.T) {
	a := newIDAllocator(10)
	for want := 1; want <= 4; want++ {
		if id, _ := a.alloc(); id != want {
			t.Fatalf("alloc = %d, want %d", id, want)
		}
	}
	a.release(3)
	a.release(2)
	for _, want := range []int{2, 3, 5} {
		if id, _ := a.alloc(); id != want {
			t.Fatalf("alloc = %d, want %d", id, want)
		}
	}
	if a.inUse() != 5 {
		t.Fatalf("inUse = %d, want 5", a.inUse())
	}
}

func TestMkdirTakesLowestFreeID(t *testing.T) {
	n := newNode(t, Config{})
	for _, name := range []string{"a", "b", "c"} {
		mkdir(t, n, name)
	}
	for name, want := range map[string]int{"a": 2, "b": 3, "c": 4} {
		if st, _ := n.Cgroup(name); st.ID != want {
			t.Errorf("%s has id %d, want %d", name, st.ID, want)
		}
	}
	wantErrno(t, n.Remove(cg("b")), 0)
	mkdir(t, n, "d")
	if st, _ := n.Cgroup("d"); st.ID != 3 {
		t.Errorf("d got id %d, want the freed 3", st.ID)
	}
}

func TestRmdirOfAccountedCgroupLeaksItsID(t *testing.T) {
	for _, tc := range []struct {
		name       string
		accounted  bool
		wantLeaked int
		wantInUse  int
	}{
		{"unaccounted frees its id", false, 0, 1},
		{"accounted leaks its id", true, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, Config{})
			mkdir(t, n, "x")
			if tc.accounted {
				write(t, n, "x/memory.kmem.limit_in_bytes", "1")
			}
			wantErrno(t, n.Remove(cg("x")), 0)
			if n.LeakedIDs() != tc.wantLeaked || n.IDsInUse() != tc.wantInUse {
				t.Fatalf("leaked %d in use %d, want %d %d", n.LeakedIDs(), n.IDsInUse(), tc.wantLeaked, tc.wantInUse)
			}
			if n.LiveCgroups() != 1 {
				t.Fatalf("live = %d, want 1", n.LiveCgroups())
			}
			mkdir(t, n, "y")
			st, _ := n.Cgroup("y")
			if tc.accounted && st.ID != 3 || !tc.accounted && st.ID != 2 {
				t.Fatalf("next mkdir got id %d", st.ID)
			}
		})
	}
}

func TestMkdirFailsWithENOSPCWhenIDsRunOut(t *testing.T) {
	n := newNode(t, Config{MaxIDs: 4})
	mkdir(t, n, "a")
	mkdir(t, n, "b")
	mkdir(t, n, "c")
	err := n.Mkdir(cg("d"))
	wantErrno(t, err, syscall.ENOSPC)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "mkdir" || pe.Path != cg("d") {
		t.Fatalf("error %#v, want mkdir PathError on %s", err, cg("d"))
	}
	if err.Error() != "mkdir "+cg("d")+": no space left on device" {
		t.Fatalf("message %q", err.Error())
	}
	if n.FreeIDs() != 0 {
		t.Fatalf("free ids = %d", n.FreeIDs())
	}
	wantErrno(t, n.Remove(cg("a")), 0)
	mkdir(t, n, "d")
}

func TestLeakIDsAndStapCount(t *testing.T) {
	n := newNode(t, Config{Stap: true})
	if err := n.LeakIDs(60000); err != nil {
		t.Fatal(err)
	}
	mkdir(t, n, "x")
	if n.IDsInUse() != 60002 || n.LeakedIDs() != 60000 || n.LiveCgroups() != 2 {
		t.Fatalf("in use %d leaked %d live %d", n.IDsInUse(), n.LeakedIDs(), n.LiveCgroups())
	}
	if st, _ := n.Cgroup("x"); st.ID != 60002 {
		t.Fatalf("x id %d", st.ID)
	}
}

func TestIsCleanAgreesWithPathClean(t *testing.T) {
	for _, p := range []string{"/", "/a", "/a/", "//a", "/a//b", "/a/./b", "/a/../b", "/.", "/..", "/a/.", "/a/..",
		"/.a", "/..a", "/a/.b/c", "/a/b..", "/a/...", "/a/b/.", "/sys/fs/cgroup/memory/kubepods/pod 1/c"} {
		if got, want := isClean(p), path.Clean(p) == p; got != want {
			t.Errorf("isClean(%q) = %t, want %t", p, got, want)
		}
	}
}
