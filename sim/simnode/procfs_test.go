package simnode

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestProcCgroupsCountsLiveMemcgs(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "a")
	mkdir(t, n, "b")
	write(t, n, "b/memory.kmem.limit_in_bytes", "1")
	wantErrno(t, n.Remove(cg("b")), 0) // leaked: not a cgroup any more
	b, err := n.ReadFile("/proc/cgroups")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "#subsys_name\thierarchy\tnum_cgroups\tenabled" {
		t.Fatalf("header %q", lines[0])
	}
	var names []string
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		names = append(names, f[0])
		if f[0] == "memory" && f[2] != strconv.Itoa(n.LiveCgroups()) {
			t.Fatalf("memory num_cgroups %s, live %d", f[2], n.LiveCgroups())
		}
	}
	if strings.Join(names, " ") != "cpuset cpu cpuacct memory devices freezer net_cls blkio perf_event hugetlb" {
		t.Fatalf("rows %v", names)
	}
	if n.LiveCgroups() != 2 || n.IDsInUse() != 3 {
		t.Fatalf("live %d in use %d", n.LiveCgroups(), n.IDsInUse())
	}
}

func TestProcMountsAndKernelFiles(t *testing.T) {
	n := newNode(t, Config{CgroupRoot: "/cgroup/mem ory"})
	b, _ := n.ReadFile("/proc/self/mounts")
	if !strings.Contains(string(b), "\ncgroup /cgroup/mem\\040ory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0\n") {
		t.Fatalf("mounts lack the memory line:\n%s", b)
	}
	if rel, _ := n.ReadFile("/proc/sys/kernel/osrelease"); string(rel) != DefaultKernel+"\n" {
		t.Fatalf("osrelease %q", rel)
	}
	boot, _ := n.ReadFile("/proc/sys/kernel/random/boot_id")
	if len(strings.TrimSpace(string(boot))) != 36 || strings.TrimSpace(string(boot)) != n.BootID() {
		t.Fatalf("boot_id %q", boot)
	}
	if err := n.Mkdir("/cgroup/mem ory/x"); err != nil {
		t.Fatalf("cgroup root with a space: %v", err)
	}

	u := newNode(t, Config{Unmounted: true})
	b, _ = u.ReadFile("/proc/self/mounts")
	if strings.Contains(string(b), ",memory 0 0") {
		t.Fatal("unmounted memory controller listed")
	}
	if err := u.Mkdir(cg("x")); err != nil {
		t.Fatalf("mkdir in an unmounted root is a plain directory: %v", err)
	}
	if _, err := u.ReadFile(cg("x/cgroup.procs")); err == nil {
		t.Fatal("an unmounted root has control files")
	}
}

func TestProcDirectories(t *testing.T) {
	n := newNode(t, Config{})
	ents, err := n.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range ents {
		seen[e.Name()] = e.IsDir()
	}
	if !seen["1"] || !seen["self"] || seen["cgroups"] {
		t.Fatalf("/proc entries %v", seen)
	}
	_, err = n.ReadFile("/proc/999999/cgroup")
	wantErrno(t, err, syscall.ENOENT)
	_, err = n.ReadFile("/proc/01/cgroup")
	wantErrno(t, err, syscall.ENOENT)
	wantErrno(t, n.WriteFile("/proc/cgroups", []byte("x")), syscall.EACCES)
	fi, err := n.Stat("/proc/1")
	if err != nil || !fi.IsDir() {
		t.Fatalf("stat /proc/1: %v %v", fi, err)
	}
}
