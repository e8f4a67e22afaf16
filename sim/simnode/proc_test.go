package simnode

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
)

func TestCgroupProcsMovesThreadGroupTasksMovesThread(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "src")
	mkdir(t, n, "dst")
	pid := spawn(t, n, "src", ProcSpec{Name: "java", Threads: 4})
	other := spawn(t, n, "src", ProcSpec{Name: "sh"})
	if got := read(t, n, "src/cgroup.procs"); got != fmt.Sprintf("%d\n%d", pid, other) {
		t.Fatalf("cgroup.procs = %q", got)
	}
	if got := read(t, n, "src/tasks"); got != fmt.Sprintf("%d\n%d\n%d\n%d\n%d", pid, pid+1, pid+2, pid+3, other) {
		t.Fatalf("tasks = %q", got)
	}
	// One thread through tasks.
	write(t, n, "dst/tasks", itoa(pid+2))
	if got := read(t, n, "dst/tasks"); got != itoa(pid+2) {
		t.Fatalf("dst tasks = %q", got)
	}
	if got := read(t, n, "dst/cgroup.procs"); got != itoa(pid) {
		t.Fatalf("a group with one thread here is listed: %q", got)
	}
	if where, _ := n.CgroupOf(pid); where != "/src" {
		t.Fatalf("leader moved with a tasks write: %s", where)
	}
	// A non-leader tid in cgroup.procs moves the whole group.
	write(t, n, "dst/cgroup.procs", itoa(pid+1))
	if got := read(t, n, "src/cgroup.procs"); got != itoa(other) {
		t.Fatalf("src still has %q", got)
	}
	for tid := pid; tid < pid+4; tid++ {
		if where, _ := n.CgroupOf(tid); where != "/dst" {
			t.Fatalf("thread %d in %s", tid, where)
		}
	}
}

func TestMoveErrors(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "a")
	pid := spawn(t, n, "a", ProcSpec{})
	if err := n.Kill(pid); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, value string
		want        syscall.Errno
	}{
		{"cgroup.procs", itoa(pid), syscall.ESRCH},
		{"tasks", itoa(pid), syscall.ESRCH},
		{"cgroup.procs", "999999", syscall.ESRCH},
		{"cgroup.procs", "99999999999", syscall.ESRCH},
		{"cgroup.procs", "12abc", syscall.EINVAL},
		{"cgroup.procs", "-5", syscall.EINVAL},
		{"cgroup.procs", "1 2", syscall.EINVAL},
		{"cgroup.procs", "0", syscall.EINVAL},
		{"tasks", "x", syscall.EINVAL},
	} {
		wantErrno(t, n.WriteFile(cg("a/"+tc.file), []byte(tc.value)), tc.want)
	}
}

func TestChargesFollowDestinationMoveChargeAtImmigrate(t *testing.T) {
	for _, tc := range []struct {
		move                 string
		wantAnonAt, wantFile string
	}{
		{"0", "/src", "/src"},
		{"1", "/dst", "/src"},
		{"2", "/src", "/dst"},
		{"3", "/dst", "/dst"},
	} {
		t.Run("move_charge="+tc.move, func(t *testing.T) {
			n := newNode(t, Config{})
			mkdir(t, n, "src")
			mkdir(t, n, "dst")
			write(t, n, "src/memory.move_charge_at_immigrate", "3") // the source's value does not matter
			write(t, n, "dst/memory.move_charge_at_immigrate", tc.move)
			pid := spawn(t, n, "src", ProcSpec{Anon: 3 << 20, File: 1 << 20, Threads: 2})
			write(t, n, "dst/cgroup.procs", itoa(pid))
			p := procInfo(t, n, pid)
			if p.AnonOwner != tc.wantAnonAt || p.FileOwner != tc.wantFile {
				t.Fatalf("anon at %s, file at %s", p.AnonOwner, p.FileOwner)
			}
			var wantDst int64
			if tc.wantAnonAt == "/dst" {
				wantDst += 3 << 20
			}
			if tc.wantFile == "/dst" {
				wantDst += 1 << 20
			}
			if got := readInt(t, n, "dst/memory.usage_in_bytes"); got != wantDst {
				t.Fatalf("dst usage %d, want %d", got, wantDst)
			}
			if got := readInt(t, n, "src/memory.usage_in_bytes"); got != 4<<20-wantDst {
				t.Fatalf("src usage %d", got)
			}
		})
	}
}

func TestChargesMoveOnlyFromTheCgroupLeft(t *testing.T) {
	n := newNode(t, Config{})
	for _, d := range []string{"a", "b", "c"} {
		mkdir(t, n, d)
	}
	write(t, n, "c/memory.move_charge_at_immigrate", "3")
	pid := spawn(t, n, "a", ProcSpec{Anon: 1 << 20})
	write(t, n, "b/cgroup.procs", itoa(pid)) // b takes no charges
	write(t, n, "c/cgroup.procs", itoa(pid)) // c moves only what b owned: nothing
	if p := procInfo(t, n, pid); p.AnonOwner != "/a" {
		t.Fatalf("anon moved to %s", p.AnonOwner)
	}
	// Only the mm owner's move carries charges: a thread does not.
	mkdir(t, n, "d")
	write(t, n, "d/memory.move_charge_at_immigrate", "3")
	q := spawn(t, n, "d", ProcSpec{Anon: 1 << 20, Threads: 2})
	write(t, n, "c/tasks", itoa(q+1))
	if p := procInfo(t, n, q); p.AnonOwner != "/d" {
		t.Fatalf("a thread's move took the charge to %s", p.AnonOwner)
	}
}

func TestMoveOverDestinationLimitIsENOMEM(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "src")
	mkdir(t, n, "small")
	write(t, n, "small/memory.limit_in_bytes", "1M")
	write(t, n, "small/memory.move_charge_at_immigrate", "3")
	mkdir(t, n, "tight")
	write(t, n, "tight/memory.limit_in_bytes", "3M")
	mkdir(t, n, "tight/leaf")
	write(t, n, "tight/leaf/memory.move_charge_at_immigrate", "1")
	spawn(t, n, "tight", ProcSpec{Anon: 2 << 20})
	pid := spawn(t, n, "src", ProcSpec{Anon: 2 << 20, Threads: 3})

	wantErrno(t, n.WriteFile(cg("small/cgroup.procs"), []byte(itoa(pid))), syscall.ENOMEM)
	wantErrno(t, n.WriteFile(cg("tight/leaf/cgroup.procs"), []byte(itoa(pid))), syscall.ENOMEM) // the parent is full
	if where, _ := n.CgroupOf(pid); where != "/src" {
		t.Fatalf("refused move left the task in %s", where)
	}
	if read(t, n, "small/tasks") != "" || readInt(t, n, "small/memory.failcnt") != 1 {
		t.Fatal("refused move changed small")
	}
	// Without move_charge nothing is charged: the move works.
	write(t, n, "small/memory.move_charge_at_immigrate", "0")
	write(t, n, "small/cgroup.procs", itoa(pid))

	// Within a full hierarchy, moving between siblings does not change the
	// shared parent's usage and is allowed.
	mkdir(t, n, "full")
	write(t, n, "full/memory.limit_in_bytes", "2M")
	mkdir(t, n, "full/x")
	mkdir(t, n, "full/y")
	write(t, n, "full/y/memory.move_charge_at_immigrate", "3")
	q := spawn(t, n, "full/x", ProcSpec{Anon: 2 << 20})
	write(t, n, "full/y/cgroup.procs", itoa(q))
	if got := readInt(t, n, "full/y/memory.usage_in_bytes"); got != 2<<20 {
		t.Fatalf("y usage %d", got)
	}
}

func TestUsageIsHierarchicalUnderUseHierarchy(t *testing.T) {
	for _, tc := range []struct {
		hierarchy string
		want      int64
	}{{"1", 3 << 20}, {"0", 1 << 20}} {
		n := newNode(t, Config{RootNoHierarchy: true})
		mkdir(t, n, "p")
		write(t, n, "p/memory.use_hierarchy", tc.hierarchy)
		mkdir(t, n, "p/c")
		spawn(t, n, "p", ProcSpec{Anon: 1 << 20})
		spawn(t, n, "p/c", ProcSpec{Anon: 2 << 20})
		if got := readInt(t, n, "p/memory.usage_in_bytes"); got != tc.want {
			t.Errorf("use_hierarchy=%s: usage %d, want %d", tc.hierarchy, got, tc.want)
		}
		if got := readInt(t, n, "p/memory.max_usage_in_bytes"); got != tc.want {
			t.Errorf("use_hierarchy=%s: max usage %d, want %d", tc.hierarchy, got, tc.want)
		}
		if got := statLine(t, n, "p", "total_rss"); got != tc.want {
			t.Errorf("use_hierarchy=%s: total_rss %d, want %d", tc.hierarchy, got, tc.want)
		}
	}
}

func TestForkingProcessLeavesChildrenBehind(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "src")
	mkdir(t, n, "dst")
	// Forks on every kernel operation; each child lives 4 operations.
	pid := spawn(t, n, "src", ProcSpec{Name: "forker", ForkEvery: 1, ForkLife: 4})
	// One pass: read the source, move every pid (the forker first).
	pids := strings.Fields(read(t, n, "src/cgroup.procs"))
	if len(pids) != 2 || pids[0] != itoa(pid) {
		t.Fatalf("cgroup.procs = %v, want the forker and its first child", pids)
	}
	for _, p := range pids {
		write(t, n, "dst/cgroup.procs", p)
	}
	if where, _ := n.CgroupOf(pid); where != "/dst" {
		t.Fatalf("forker in %s", where)
	}
	// The child forked while the forker's move was on its way stayed behind.
	left := strings.Fields(read(t, n, "src/cgroup.procs"))
	if len(left) != 1 {
		t.Fatalf("left behind: %v, want one child", left)
	}
	// New children are born where the forker is now.
	if kids := strings.Fields(read(t, n, "dst/cgroup.procs")); len(kids) < 3 {
		t.Fatalf("dst has %v", kids)
	}
	// Children exit ForkLife operations after their birth.
	for range 4 {
		_, _ = n.Stat(cg("src"))
	}
	if got := read(t, n, "src/cgroup.procs"); got != "" {
		t.Fatalf("old children did not exit: %q", got)
	}
	if p := procInfo(t, n, pid); !p.Forker {
		t.Fatal("forker not marked")
	}
}

func TestForkerExitsMidMigrationDeterministically(t *testing.T) {
	run := func() []string {
		n := newNode(t, Config{Seed: 7})
		mkdir(t, n, "src")
		mkdir(t, n, "dst")
		spawn(t, n, "src", ProcSpec{Name: "forker", ForkEvery: 1, ForkLife: 3})
		for range 10 {
			_, _ = n.Stat(cg("src"))
		}
		var log []string
		for pass := 0; pass < 50; pass++ {
			pids := strings.Fields(read(t, n, "src/cgroup.procs"))
			if len(pids) == 0 {
				break
			}
			for _, p := range pids {
				err := n.WriteFile(cg("dst/cgroup.procs"), []byte(p))
				log = append(log, fmt.Sprintf("%s:%v", p, err))
			}
		}
		return log
	}
	a, b := run(), run()
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatal("same seed, different history")
	}
	if !strings.Contains(strings.Join(a, ","), "no such process") {
		t.Fatalf("no child exited mid-migration: %v", a)
	}
}

func TestProcFilesOfAProcess(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "kubepods")
	mkdir(t, n, "kubepods/pod 1")
	pid := spawn(t, n, "kubepods/pod 1", ProcSpec{Name: "nginx", Threads: 3, PPid: 1})
	b, err := n.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "10:memory:/kubepods/pod 1\n") || !strings.Contains(string(b), "1:name=systemd:") {
		t.Fatalf("cgroup file %q", b)
	}
	b, _ = n.ReadFile(fmt.Sprintf("/proc/%d/status", pid+1))
	for _, want := range []string{"Name:\tnginx\n", fmt.Sprintf("Tgid:\t%d\n", pid), fmt.Sprintf("Pid:\t%d\n", pid+1), "PPid:\t1\n", "Threads:\t3\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("status lacks %q:\n%s", want, b)
		}
	}
	write(t, n, "tasks", itoa(pid+2))
	b, _ = n.ReadFile(fmt.Sprintf("/proc/%d/task/%d/cgroup", pid, pid+2))
	if !strings.HasPrefix(string(b), "10:memory:/\n") {
		t.Fatalf("thread cgroup %q", b)
	}
	if err := n.Kill(pid + 1); err != nil {
		t.Fatal(err)
	}
	_, err = n.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	wantErrno(t, err, syscall.ENOENT)
	if n.Alive(pid) || n.Kill(pid) == nil {
		t.Fatal("killed process still alive")
	}
	if got := readInt(t, n, "kubepods/memory.usage_in_bytes"); got != 0 {
		t.Fatalf("usage %d after exit", got)
	}
}

func procInfo(t *testing.T, n *Node, pid int) ProcInfo {
	t.Helper()
	for _, p := range n.Processes() {
		if p.Pid == pid {
			return p
		}
	}
	t.Fatalf("no process %d", pid)
	return ProcInfo{}
}
