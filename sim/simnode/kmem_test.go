package simnode

import (
	"strings"
	"syscall"
	"testing"
)

func accounted(t *testing.T, n *Node, rel string) bool {
	t.Helper()
	b, err := n.ReadFile(cg(rel + "/memory.kmem.slabinfo"))
	if err == nil {
		if !strings.HasPrefix(string(b), slabinfoHeader) {
			t.Fatalf("slabinfo of %s lacks the header: %q", rel, b)
		}
		return true
	}
	wantErrno(t, err, syscall.EIO)
	return false
}

func TestKmemLimitWriteTurnsAccountingOn(t *testing.T) {
	for _, v := range []string{"1", "100M"} {
		n := newNode(t, Config{})
		mkdir(t, n, "a")
		if accounted(t, n, "a") {
			t.Fatal("a new cgroup is accounted")
		}
		write(t, n, "a/memory.kmem.limit_in_bytes", v)
		if !accounted(t, n, "a") {
			t.Fatalf("writing %s did not turn kmem accounting on", v)
		}
	}
}

func TestKmemLimitWriteBusyWithTasksOrChildren(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "busy")
	spawn(t, n, "busy", ProcSpec{})
	mkdir(t, n, "kids")
	mkdir(t, n, "kids/k")
	mkdir(t, n, "on")
	write(t, n, "on/memory.kmem.limit_in_bytes", "1")
	spawn(t, n, "on", ProcSpec{})
	for _, tc := range []struct {
		rel  string
		want syscall.Errno
	}{
		{"busy", syscall.EBUSY},
		{"kids", syscall.EBUSY},
		{"on", 0}, // already accounted: the limit just changes
		{"", syscall.EINVAL},
		{"kids/k", 0},
	} {
		wantErrno(t, n.WriteFile(cg(tc.rel+"/memory.kmem.limit_in_bytes"), []byte("1")), tc.want)
	}
	wantErrno(t, n.WriteFile(cg("kids/k/memory.kmem.limit_in_bytes"), []byte("lots")), syscall.EINVAL)
	if accounted(t, n, "busy") || accounted(t, n, "kids") || !accounted(t, n, "kids/k") {
		t.Fatal("accounting state wrong after refused writes")
	}
}

func TestKmemAccountingInheritedUnderHierarchy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		hierarchy string
		want      bool
	}{
		{"use_hierarchy=1 inherits", "1", true},
		{"use_hierarchy=0 does not", "0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, Config{RootNoHierarchy: true})
			mkdir(t, n, "p")
			write(t, n, "p/memory.use_hierarchy", tc.hierarchy)
			write(t, n, "p/memory.kmem.limit_in_bytes", "1")
			mkdir(t, n, "p/c")
			mkdir(t, n, "p/c/g")
			if got := accounted(t, n, "p/c"); got != tc.want {
				t.Fatalf("child accounted = %t", got)
			}
			if got := accounted(t, n, "p/c/g"); got != tc.want {
				t.Fatalf("grandchild accounted = %t", got)
			}
		})
	}
}

// TestKmemUnlimitedWriteDoesNotTurnAccountingOn: 3.10 activates kmem
// accounting only for a real limit (memcg_update_kmem_limit skips
// RESOURCE_MAX), which is why runc writes 1 and then -1.
func TestKmemUnlimitedWriteDoesNotTurnAccountingOn(t *testing.T) {
	for _, v := range []string{"-1", "9223372036854771712"} {
		n := newNode(t, Config{})
		mkdir(t, n, "a")
		spawn(t, n, "a", ProcSpec{})
		write(t, n, "a/memory.kmem.limit_in_bytes", v) // no EBUSY either: nothing to activate
		if accounted(t, n, "a") {
			t.Fatalf("writing %s turned kmem accounting on", v)
		}
	}
}

func TestKmemAccountingNeverTurnsOff(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "a")
	write(t, n, "a/memory.kmem.limit_in_bytes", "1")
	pid := spawn(t, n, "a", ProcSpec{})
	mkdir(t, n, "b")
	write(t, n, "b/cgroup.procs", itoa(pid))
	write(t, n, "a/memory.kmem.limit_in_bytes", "1")
	write(t, n, "a/memory.force_empty", "0")
	if !accounted(t, n, "a") {
		t.Fatal("accounting turned off")
	}
	// Removing and recreating is the only way back: the new cgroup is clean
	// (its parent, the root, is not accounted) and the old id stays leaked.
	wantErrno(t, n.Remove(cg("a")), 0)
	mkdir(t, n, "a")
	if accounted(t, n, "a") || n.LeakedIDs() != 1 {
		t.Fatalf("recreated a accounted=%t leaked=%d", accounted(t, n, "a"), n.LeakedIDs())
	}
}

func TestModernKernelDoesNotLeak(t *testing.T) {
	n := newNode(t, Config{Kernel: "5.4.0-150-generic"})
	mkdir(t, n, "a")
	write(t, n, "a/memory.kmem.limit_in_bytes", "1")
	b, err := n.ReadFile(cg("a/memory.kmem.slabinfo"))
	if err != nil || len(b) != 0 {
		t.Fatalf("slabinfo on a modern kernel: %q %v", b, err)
	}
	wantErrno(t, n.Remove(cg("a")), 0)
	if n.LeakedIDs() != 0 || n.IDsInUse() != 1 {
		t.Fatalf("leaked %d in use %d", n.LeakedIDs(), n.IDsInUse())
	}
}
