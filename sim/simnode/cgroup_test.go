package simnode

import (
	"strconv"
	"syscall"
	"testing"
)

func TestMkdirRules(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "a")
	for _, tc := range []struct {
		path string
		want syscall.Errno
	}{
		{cg("a"), syscall.EEXIST},
		{cg("memory.limit_in_bytes"), syscall.EEXIST},
		{cg(""), syscall.EEXIST},
		{cg("bad\nname"), syscall.EINVAL},
		{cg("missing/child"), syscall.ENOENT},
		{cg("a/tasks/child"), syscall.ENOTDIR},
		{"relative/path", syscall.EINVAL},
		{cg("a/with space"), 0},
		{cg("a/semi;colon"), 0},
		{cg("a/$(reboot)"), 0},
		{cg("a/-rf"), 0},
		{cg("a/ünï😀"), 0},
		{cg("a/./dot/../norm"), 0},
	} {
		wantErrno(t, n.Mkdir(tc.path), tc.want)
	}
	if _, ok := n.Cgroup("a/norm"); !ok {
		t.Fatal("a/./dot/../norm was not cleaned to a/norm")
	}
}

func TestRmdirRules(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "busy")
	spawn(t, n, "busy", ProcSpec{Name: "sleep"})
	mkdir(t, n, "parent")
	mkdir(t, n, "parent/child")
	mkdir(t, n, "empty")
	for _, tc := range []struct {
		path string
		want syscall.Errno
	}{
		{cg("busy"), syscall.EBUSY},
		{cg("parent"), syscall.EBUSY},
		{cg(""), syscall.EBUSY},
		{cg("empty/memory.limit_in_bytes"), syscall.ENOTDIR},
		{cg("missing"), syscall.ENOENT},
		{cg("empty"), 0},
		{cg("parent/child"), 0},
		{cg("parent"), 0},
	} {
		wantErrno(t, n.Remove(tc.path), tc.want)
	}
	if n.LiveCgroups() != 2 {
		t.Fatalf("live = %d, want root and busy", n.LiveCgroups())
	}
}

func TestRmdirReparentsCharges(t *testing.T) {
	// use_hierarchy=0 everywhere, so a parent's usage is only its own pages.
	n := newNode(t, Config{RootNoHierarchy: true})
	mkdir(t, n, "p")
	mkdir(t, n, "p/c")
	pid := spawn(t, n, "p/c", ProcSpec{Anon: 1 << 20, File: 1 << 20})
	// Move the task out without its charges (move_charge_at_immigrate=0).
	write(t, n, "p/cgroup.procs", strconv.Itoa(pid))
	if got := readInt(t, n, "p/c/memory.usage_in_bytes"); got != 2<<20 {
		t.Fatalf("charges did not stay behind: child usage %d", got)
	}
	if got := readInt(t, n, "p/memory.usage_in_bytes"); got != 0 {
		t.Fatalf("parent usage %d before rmdir", got)
	}
	wantErrno(t, n.Remove(cg("p/c")), 0)
	if got := readInt(t, n, "p/memory.usage_in_bytes"); got != 2<<20 {
		t.Fatalf("parent usage %d after rmdir, want the child's 2 MiB", got)
	}
	if statLine(t, n, "p", "rss") != 1<<20 || statLine(t, n, "p", "cache") != 1<<20 {
		t.Fatal("memory.stat does not show the reparented pages")
	}
}

func TestRenameCgroupWithinParent(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "a")
	mkdir(t, n, "a/x")
	mkdir(t, n, "b")
	pid := spawn(t, n, "a/x", ProcSpec{})
	for _, tc := range []struct {
		oldp, newp string
		want       syscall.Errno
	}{
		{cg("a/x"), cg("b/x"), syscall.EIO},
		{cg("a/x"), cg("b"), syscall.EEXIST}, // the target exists: checked before the parent
		{cg("a"), cg("b"), syscall.EEXIST},
		{cg("a/tasks"), cg("a/t2"), syscall.ENOTDIR},
		{cg(""), cg("z"), syscall.EBUSY},
		{cg("a/x"), "/tmp/x", syscall.EXDEV},
		{cg("a/x"), cg("a/y"), 0},
	} {
		wantErrno(t, n.Rename(tc.oldp, tc.newp), tc.want)
	}
	if where, _ := n.CgroupOf(pid); where != "/a/y" {
		t.Fatalf("process is in %s after rename, want /a/y", where)
	}
}

func TestNewCgroupDefaultsAndInheritance(t *testing.T) {
	n := newNode(t, Config{RootNoHierarchy: true}) // swappiness and oom_control are settable only outside a hierarchy
	mkdir(t, n, "p")
	write(t, n, "p/memory.swappiness", "10")
	write(t, n, "p/memory.oom_control", "1")
	write(t, n, "p/memory.use_hierarchy", "1")
	write(t, n, "p/memory.limit_in_bytes", "1G")
	mkdir(t, n, "p/c")
	const unlimited = "9223372036854771712"
	for file, want := range map[string]string{
		"memory.limit_in_bytes":           unlimited,
		"memory.memsw.limit_in_bytes":     unlimited,
		"memory.soft_limit_in_bytes":      unlimited,
		"memory.kmem.limit_in_bytes":      unlimited,
		"memory.swappiness":               "10",
		"memory.oom_control":              "oom_kill_disable 1\nunder_oom 0",
		"memory.use_hierarchy":            "1",
		"memory.move_charge_at_immigrate": "0",
		"memory.usage_in_bytes":           "0",
		"cgroup.procs":                    "",
		"notify_on_release":               "0",
	} {
		if got := read(t, n, "p/c/"+file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if got := statLine(t, n, "p/c", "hierarchical_memory_limit"); got != 1<<30 {
		t.Errorf("hierarchical_memory_limit = %d", got)
	}
}

func TestReadDirListsControlFilesAndChildren(t *testing.T) {
	n := newNode(t, Config{})
	mkdir(t, n, "zz")
	mkdir(t, n, "aa")
	mkdir(t, n, "memory.zzz")
	ents, err := n.ReadDir(cg(""))
	if err != nil {
		t.Fatal(err)
	}
	var prev string
	dirs := map[string]bool{}
	files := map[string]bool{}
	for _, e := range ents {
		if e.Name() <= prev {
			t.Fatalf("not sorted: %q after %q", e.Name(), prev)
		}
		prev = e.Name()
		if e.IsDir() {
			dirs[e.Name()] = true
		} else {
			files[e.Name()] = true
		}
	}
	if len(dirs) != 3 || !dirs["aa"] || !dirs["zz"] || !dirs["memory.zzz"] {
		t.Fatalf("dirs %v", dirs)
	}
	for _, f := range []string{"cgroup.procs", "tasks", "cgroup.clone_children", "notify_on_release", "memory.limit_in_bytes",
		"memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.swappiness", "memory.oom_control",
		"memory.move_charge_at_immigrate", "memory.use_hierarchy", "memory.force_empty", "memory.usage_in_bytes",
		"memory.memsw.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt", "memory.stat",
		"memory.kmem.limit_in_bytes", "memory.kmem.usage_in_bytes", "memory.kmem.slabinfo", "release_agent"} {
		if !files[f] {
			t.Errorf("root lacks %s", f)
		}
	}
	ents, _ = n.ReadDir(cg("aa"))
	for _, e := range ents {
		if e.Name() == "release_agent" {
			t.Error("release_agent exists only at the root")
		}
	}
	_, err = n.ReadDir(cg("aa/tasks"))
	wantErrno(t, err, syscall.ENOTDIR)
	fi, err := n.Stat(cg("aa"))
	if err != nil || !fi.IsDir() || fi.Name() != "aa" {
		t.Fatalf("stat: %v %v", fi, err)
	}
	fi, err = n.Stat(cg("aa/memory.stat"))
	if err != nil || fi.IsDir() || fi.Mode().Perm() != 0o444 {
		t.Fatalf("stat memory.stat: %v %v", fi, err)
	}
	_, err = n.Stat(cg("nope"))
	wantErrno(t, err, syscall.ENOENT)
}

func TestNoSwapAccountHasNoMemswFiles(t *testing.T) {
	n := newNode(t, Config{NoSwapAccount: true})
	mkdir(t, n, "a")
	_, err := n.ReadFile(cg("a/memory.memsw.limit_in_bytes"))
	wantErrno(t, err, syscall.ENOENT)
	wantErrno(t, n.WriteFile(cg("a/memory.memsw.limit_in_bytes"), []byte("1G")), syscall.ENOENT)
	write(t, n, "a/memory.limit_in_bytes", "1G")
}

func TestRmdirOfTheRootIsBusyEvenWhenEmpty(t *testing.T) {
	n := newNode(t, Config{NoDocker: true, NoCadvisor: true, Kubelet: KubeletConfig{Stopped: true}})
	for _, p := range n.Processes() {
		if err := n.Kill(p.Pid); err != nil {
			t.Fatal(err)
		}
	}
	if read(t, n, "tasks") != "" {
		t.Fatal("root still has tasks")
	}
	wantErrno(t, n.Remove(cg("")), syscall.EBUSY)
	wantErrno(t, n.Remove(cg("/")), syscall.EBUSY)
	if n.LiveCgroups() != 1 {
		t.Fatal("root removed")
	}
}
