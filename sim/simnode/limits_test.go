package simnode

import (
	"strings"
	"syscall"
	"testing"
)

func TestLimitParsingAndRounding(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "a")
	for _, tc := range []struct {
		in   string
		want string
		err  syscall.Errno
	}{
		{"300000000", "299999232", 0},
		{"300000000\n", "299999232", 0},
		{" 4096 ", "4096", 0},
		{"-1", "9223372036854771712", 0},
		{"64M", "67108864", 0},
		{"64m", "67108864", 0},
		{"1G", "1073741824", 0},
		{"2k", "0", 0},
		{"10K", "8192", 0},
		{"0x2000", "8192", 0},
		{"020000", "8192", 0},
		{"99999999999999999999", "9223372036854771712", 0},
		{"8E", "9223372036854771712", 0},
		{"abc", "", syscall.EINVAL},
		{"1KB", "", syscall.EINVAL},
		{"-2", "", syscall.EINVAL},
		{"--1", "", syscall.EINVAL},
		{"1.5G", "", syscall.EINVAL},
		{"", "", syscall.EINVAL},
		{"\n", "", syscall.EINVAL},
		{"max", "", syscall.EINVAL},
	} {
		err := n.WriteFile(cg("a/memory.soft_limit_in_bytes"), []byte(tc.in))
		wantErrno(t, err, tc.err)
		if tc.err == 0 {
			if got := read(t, n, "a/memory.soft_limit_in_bytes"); got != tc.want {
				t.Errorf("%q reads back as %s, want %s", tc.in, got, tc.want)
			}
		}
	}
}

func TestLimitStaysBelowMemswLimit(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "a")
	steps := []struct {
		file, value string
		want        syscall.Errno
	}{
		{"memory.limit_in_bytes", "1G", 0},
		{"memory.memsw.limit_in_bytes", "512M", syscall.EINVAL}, // memsw < limit
		{"memory.memsw.limit_in_bytes", "1G", 0},
		{"memory.limit_in_bytes", "2G", syscall.EINVAL}, // limit > memsw
		{"memory.memsw.limit_in_bytes", "2G", 0},        // raising: memsw first
		{"memory.limit_in_bytes", "2G", 0},
		{"memory.limit_in_bytes", "256M", 0}, // lowering: limit first
		{"memory.memsw.limit_in_bytes", "256M", 0},
		{"memory.memsw.limit_in_bytes", "-1", 0},
		{"memory.limit_in_bytes", "-1", 0},
		{"memory.limit_in_bytes", "junk", syscall.EINVAL},
	}
	for i, s := range steps {
		if err := n.WriteFile(cg("a/"+s.file), []byte(s.value)); !matches(err, s.want) {
			t.Fatalf("step %d: %s=%s: %v, want %v", i, s.file, s.value, err, s.want)
		}
	}
	wantErrno(t, n.WriteFile(cg("memory.limit_in_bytes"), []byte("1G")), syscall.EINVAL)
	wantErrno(t, n.WriteFile(cg("memory.memsw.limit_in_bytes"), []byte("1G")), syscall.EINVAL)
}

func matches(err error, want syscall.Errno) bool {
	if want == 0 {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want.Error())
}

func TestLimitBelowUsageIsBusy(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "a")
	spawn(t, n, "a", ProcSpec{Anon: 8 << 20, File: 2 << 20})
	wantErrno(t, n.WriteFile(cg("a/memory.limit_in_bytes"), []byte("8M")), syscall.EBUSY)
	// memsw below the (unlimited) limit: the ordering rule answers first.
	wantErrno(t, n.WriteFile(cg("a/memory.memsw.limit_in_bytes"), []byte("8M")), syscall.EINVAL)
	write(t, n, "a/memory.limit_in_bytes", "10M") // exactly the usage fits
	write(t, n, "a/memory.memsw.limit_in_bytes", "10M")
	if got := readInt(t, n, "a/memory.limit_in_bytes"); got != 10<<20 {
		t.Fatalf("limit %d", got)
	}
	// Spawning past the limit is refused and counted.
	_, err := n.Spawn("a", ProcSpec{Anon: 4096})
	if err == nil || readInt(t, n, "a/memory.failcnt") != 1 {
		t.Fatalf("spawn over limit: %v, failcnt %d", err, readInt(t, n, "a/memory.failcnt"))
	}
}

func TestSwappinessOOMControlMoveCharge(t *testing.T) {
	n := newNode(t, Config{RootNoHierarchy: true})
	mkdir(t, n, "a")
	for _, tc := range []struct {
		file, value string
		want        syscall.Errno
		readBack    string
	}{
		{"memory.swappiness", "0", 0, "0"},
		{"memory.swappiness", "100", 0, "100"},
		{"memory.swappiness", "101", syscall.EINVAL, "100"},
		{"memory.swappiness", "-1", syscall.EINVAL, "100"},
		{"memory.swappiness", "x", syscall.EINVAL, "100"},
		{"memory.oom_control", "1", 0, "oom_kill_disable 1\nunder_oom 0"},
		{"memory.oom_control", "0", 0, "oom_kill_disable 0\nunder_oom 0"},
		{"memory.oom_control", "2", syscall.EINVAL, "oom_kill_disable 0\nunder_oom 0"},
		{"memory.oom_control", "oom_kill_disable 1", syscall.EINVAL, "oom_kill_disable 0\nunder_oom 0"},
		{"memory.move_charge_at_immigrate", "3", 0, "3"},
		{"memory.move_charge_at_immigrate", "1", 0, "1"},
		{"memory.move_charge_at_immigrate", "4", syscall.EINVAL, "1"},
		{"memory.move_charge_at_immigrate", "-1", syscall.EINVAL, "1"},
	} {
		wantErrno(t, n.WriteFile(cg("a/"+tc.file), []byte(tc.value)), tc.want)
		if got := read(t, n, "a/"+tc.file); got != tc.readBack {
			t.Errorf("after %s=%q: %q, want %q", tc.file, tc.value, got, tc.readBack)
		}
	}
	mkdir(t, n, "a/child")
	if got := read(t, n, "a/child/memory.swappiness"); got != "100" {
		t.Errorf("child swappiness %s, want the parent's 100", got)
	}
	wantErrno(t, n.WriteFile(cg("memory.swappiness"), []byte("10")), syscall.EINVAL)
	wantErrno(t, n.WriteFile(cg("memory.oom_control"), []byte("1")), syscall.EINVAL)
	write(t, n, "memory.move_charge_at_immigrate", "0")
}

// TestSwappinessOOMControlOnlyOutsideHierarchy is 3.10's "if under
// hierarchy, only empty-root can set this value": EINVAL under a parent
// with use_hierarchy=1 and on a cgroup with children.
func TestSwappinessOOMControlOnlyOutsideHierarchy(t *testing.T) {
	n := newNode(t, Config{}) // root use_hierarchy=1, as systemd sets it
	mkdir(t, n, "h")
	for _, f := range []string{"memory.swappiness", "memory.oom_control"} {
		wantErrno(t, n.WriteFile(cg("h/"+f), []byte("1")), syscall.EINVAL)
	}
	n = newNode(t, Config{RootNoHierarchy: true})
	mkdir(t, n, "p")
	mkdir(t, n, "p/c")
	for _, f := range []string{"memory.swappiness", "memory.oom_control"} {
		wantErrno(t, n.WriteFile(cg("p/"+f), []byte("1")), syscall.EINVAL) // has a child
		write(t, n, "p/c/"+f, "1")                                         // parent without hierarchy, no children
	}
}

func TestUseHierarchyRules(t *testing.T) {
	t.Run("root default 1 and inherited", func(t *testing.T) {
		n := newNode(t, Config{})
		mkdir(t, n, "a")
		if read(t, n, "memory.use_hierarchy") != "1" || read(t, n, "a/memory.use_hierarchy") != "1" {
			t.Fatal("use_hierarchy not 1")
		}
		wantErrno(t, n.WriteFile(cg("a/memory.use_hierarchy"), []byte("0")), syscall.EINVAL)
		write(t, n, "a/memory.use_hierarchy", "1") // same value: accepted
	})
	t.Run("configurable root, busy with children", func(t *testing.T) {
		n := newNode(t, Config{RootNoHierarchy: true})
		mkdir(t, n, "a")
		if read(t, n, "a/memory.use_hierarchy") != "0" {
			t.Fatal("child did not inherit 0")
		}
		mkdir(t, n, "a/b")
		wantErrno(t, n.WriteFile(cg("a/memory.use_hierarchy"), []byte("1")), syscall.EBUSY)
		write(t, n, "a/memory.use_hierarchy", "0") // same value, even with children
		wantErrno(t, n.WriteFile(cg("a/b/memory.use_hierarchy"), []byte("2")), syscall.EINVAL)
		write(t, n, "a/b/memory.use_hierarchy", "1")
		mkdir(t, n, "a/b/c")
		if read(t, n, "a/b/c/memory.use_hierarchy") != "1" {
			t.Fatal("grandchild did not inherit 1")
		}
		wantErrno(t, n.WriteFile(cg("memory.use_hierarchy"), []byte("1")), syscall.EBUSY)
	})
}

func TestForceEmpty(t *testing.T) {
	n := newNode(t, Config{RootNoHierarchy: true})
	mkdir(t, n, "p")
	mkdir(t, n, "p/c")
	pid := spawn(t, n, "p/c", ProcSpec{Anon: 1 << 20, File: 3 << 20})
	wantErrno(t, n.WriteFile(cg("p/c/memory.force_empty"), []byte("0")), syscall.EBUSY) // tasks
	wantErrno(t, n.WriteFile(cg("p/memory.force_empty"), []byte("0")), syscall.EBUSY)   // children
	write(t, n, "p/cgroup.procs", itoa(pid))                                            // charges stay in p/c
	write(t, n, "p/c/memory.force_empty", "0")
	if got := readInt(t, n, "p/c/memory.usage_in_bytes"); got != 0 {
		t.Fatalf("usage after force_empty %d", got)
	}
	if got := readInt(t, n, "p/memory.usage_in_bytes"); got != 1<<20 {
		t.Fatalf("parent usage %d, want the reparented anon 1 MiB (page cache reclaimed)", got)
	}
	_, err := n.ReadFile(cg("p/memory.force_empty"))
	wantErrno(t, err, syscall.EINVAL)
	wantErrno(t, n.WriteFile(cg("memory.force_empty"), []byte("0")), syscall.EINVAL)
}

func TestControlFileAccess(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "a")
	for _, tc := range []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"write usage", n.WriteFile(cg("a/memory.usage_in_bytes"), []byte("0")), syscall.EINVAL},
		{"write stat", n.WriteFile(cg("a/memory.stat"), []byte("0")), syscall.EINVAL},
		{"write missing", n.WriteFile(cg("a/memory.nope"), []byte("0")), syscall.ENOENT},
		{"write missing cgroup", n.WriteFile(cg("b/cgroup.procs"), []byte("1")), syscall.ENOENT},
		{"write dir", n.WriteFile(cg("a"), []byte("1")), syscall.EISDIR},
		{"write big", n.WriteFile(cg("a/memory.swappiness"), []byte(strings.Repeat("1", 80))), syscall.E2BIG},
		{"event_control", n.WriteFile(cg("a/cgroup.event_control"), []byte("1 2")), syscall.EINVAL},
		{"relative", n.WriteFile("sys/fs/cgroup/memory/a/tasks", []byte("1")), syscall.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErrno(t, tc.err, tc.want) })
	}
	_, err := n.ReadFile(cg("a"))
	wantErrno(t, err, syscall.EISDIR)
	_, err = n.ReadFile(cg("a/cgroup.event_control"))
	wantErrno(t, err, syscall.EINVAL)
	write(t, n, "a/memory.max_usage_in_bytes", "0")
	write(t, n, "a/memory.failcnt", "0")
}
