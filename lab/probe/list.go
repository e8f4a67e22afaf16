package probe

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// All returns every probe, in a fixed order. Names are stable: the
// differential test and the recorded kernel answers key on them.
func All() []Probe {
	var all []Probe
	all = append(all, mkdirProbes()...)
	all = append(all, rmdirProbes()...)
	all = append(all, limitProbes()...)
	all = append(all, knobProbes()...)
	all = append(all, procsProbes()...)
	all = append(all, chargeProbes()...)
	return all
}

// write is the probed write: its error is the probe's answer.
func write(e *Env, rel, file, value string) error {
	return e.K.WriteFile(path.Join(e.Dir, rel, file), []byte(value))
}

func mkdirProbes() []Probe {
	return []Probe{
		{"mkdir-exists", "mkdir of an existing cgroup", func(e *Env) (string, error) {
			e.Mkdir("a")
			return "", e.K.Mkdir(path.Join(e.Dir, "a"))
		}},
		{"mkdir-newline", `mkdir "a\nb"`, func(e *Env) (string, error) {
			p := path.Join(e.Dir, "a\nb")
			return "", e.Created(p, e.K.Mkdir(p))
		}},
		{"mkdir-hostile", "mkdir of a name with spaces, ';', '$(...)' and backquotes", func(e *Env) (string, error) {
			p := path.Join(e.Dir, "ctr ; $(reboot) `id` 'q'")
			return "", e.Created(p, e.K.Mkdir(p))
		}},
		{"mkdir-no-parent", "mkdir under a missing parent", func(e *Env) (string, error) {
			return "", e.K.Mkdir(path.Join(e.Dir, "missing", "child"))
		}},
		{"mkdir-name-256", "mkdir of a 256-byte name", func(e *Env) (string, error) {
			p := path.Join(e.Dir, strings.Repeat("x", 256))
			return "", e.Created(p, e.K.Mkdir(p))
		}},
	}
}

func rmdirProbes() []Probe {
	return []Probe{
		{"rmdir-tasks", "rmdir of a cgroup with a task", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Spawn("a", 0)
			return "", e.K.Remove(path.Join(e.Dir, "a"))
		}},
		{"rmdir-children", "rmdir of a cgroup with a child cgroup", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Mkdir("a/b")
			return "", e.K.Remove(path.Join(e.Dir, "a"))
		}},
		{"rmdir-missing", "rmdir of a missing cgroup", func(e *Env) (string, error) {
			return "", e.K.Remove(path.Join(e.Dir, "missing"))
		}},
		{"rmdir-charged-empty", "rmdir of a cgroup without tasks that still holds charges", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Mkdir("b")
			pid := e.Spawn("a", 8)
			e.Write("b", "cgroup.procs", strconv.Itoa(pid)) // move_charge 0: charge stays in a
			usage := e.Read("a", "memory.usage_in_bytes")
			err := e.K.Remove(path.Join(e.Dir, "a"))
			return "usage>=8MiB:" + strconv.FormatBool(atLeastMiB(usage, 8)), err
		}},
		{"rmdir-after-exit", "rmdir of a cgroup whose only task exited", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Kill(e.Spawn("a", 1))
			return "", e.K.Remove(path.Join(e.Dir, "a"))
		}},
		{"force-empty-tasks", "force_empty of a cgroup with a task charging 16 MiB anon (no swap)", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Spawn("a", 16)
			return "", write(e, "a", "memory.force_empty", "0")
		}},
		{"force-empty-empty", "force_empty of a cgroup without tasks", func(e *Env) (string, error) {
			e.Mkdir("a")
			return "", write(e, "a", "memory.force_empty", "0")
		}},
	}
}

func limitProbes() []Probe {
	return []Probe{
		{"limit-above-memsw", "limit 200M while memsw is 100M", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Write("a", "memory.limit_in_bytes", "104857600")
			e.Write("a", "memory.memsw.limit_in_bytes", "104857600")
			err := write(e, "a", "memory.limit_in_bytes", "209715200")
			return e.Read("a", "memory.limit_in_bytes"), err
		}},
		{"memsw-below-limit", "memsw 100M while limit is 200M", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Write("a", "memory.limit_in_bytes", "209715200")
			err := write(e, "a", "memory.memsw.limit_in_bytes", "104857600")
			return e.Read("a", "memory.memsw.limit_in_bytes"), err
		}},
		{"memsw-first-raise", "raise memsw then limit from 100M to 200M", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Write("a", "memory.limit_in_bytes", "104857600")
			e.Write("a", "memory.memsw.limit_in_bytes", "104857600")
			e.Write("a", "memory.memsw.limit_in_bytes", "209715200")
			err := write(e, "a", "memory.limit_in_bytes", "209715200")
			return e.Read("a", "memory.limit_in_bytes") + "/" + e.Read("a", "memory.memsw.limit_in_bytes"), err
		}},
		{"memsw-unlimited-limit", "memsw of a cgroup whose limit is unlimited", func(e *Env) (string, error) {
			e.Mkdir("a")
			err := write(e, "a", "memory.memsw.limit_in_bytes", "104857600")
			return e.Read("a", "memory.memsw.limit_in_bytes"), err
		}},
		{"limit-rounding", "limit 300000000", func(e *Env) (string, error) {
			e.Mkdir("a")
			err := write(e, "a", "memory.limit_in_bytes", "300000000")
			return e.Read("a", "memory.limit_in_bytes"), err
		}},
		{"limit-unlimited", "limit -1", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Write("a", "memory.limit_in_bytes", "104857600")
			err := write(e, "a", "memory.limit_in_bytes", "-1")
			return e.Read("a", "memory.limit_in_bytes"), err
		}},
		{"limit-default", "limit of a new cgroup (read only)", func(e *Env) (string, error) {
			e.Mkdir("a")
			return e.Read("a", "memory.limit_in_bytes") + "/" + e.Read("a", "memory.memsw.limit_in_bytes") + "/" + e.Read("a", "memory.soft_limit_in_bytes"), nil
		}},
		{"limit-suffix", "limit 64M (suffix)", func(e *Env) (string, error) {
			e.Mkdir("a")
			err := write(e, "a", "memory.limit_in_bytes", "64M")
			return e.Read("a", "memory.limit_in_bytes"), err
		}},
		{"limit-garbage", "limit abc", func(e *Env) (string, error) {
			e.Mkdir("a")
			return "", write(e, "a", "memory.limit_in_bytes", "abc")
		}},
		{"limit-below-usage", "limit 8M with a task charging 32 MiB anon (no swap)", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Spawn("a", 32)
			err := write(e, "a", "memory.limit_in_bytes", "8388608")
			return e.Read("a", "memory.limit_in_bytes"), err
		}},
		{"limit-above-usage", "limit 64M with a task charging 16 MiB", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Spawn("a", 16)
			err := write(e, "a", "memory.limit_in_bytes", "67108864")
			return e.Read("a", "memory.limit_in_bytes"), err
		}},
		{"limit-root", "limit of the root cgroup", func(e *Env) (string, error) {
			return "", e.K.WriteFile(path.Join(e.Root, "memory.limit_in_bytes"), []byte("1073741824"))
		}},
		{"soft-limit-rounding", "soft limit 300000000", func(e *Env) (string, error) {
			e.Mkdir("a")
			err := write(e, "a", "memory.soft_limit_in_bytes", "300000000")
			return e.Read("a", "memory.soft_limit_in_bytes"), err
		}},
		{"soft-limit-above-limit", "soft limit 200M above limit 100M", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Write("a", "memory.limit_in_bytes", "104857600")
			err := write(e, "a", "memory.soft_limit_in_bytes", "209715200")
			return e.Read("a", "memory.soft_limit_in_bytes"), err
		}},
		{"force-empty-children", "force_empty of a cgroup with a child cgroup", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Mkdir("a/b")
			return "", write(e, "a", "memory.force_empty", "0")
		}},
		{"kmem-limit", "kmem.limit_in_bytes 1G", func(e *Env) (string, error) {
			e.Mkdir("a")
			return "", write(e, "a", "memory.kmem.limit_in_bytes", "1073741824")
		}},
		{"kmem-slabinfo", "read kmem.slabinfo of a new cgroup", func(e *Env) (string, error) {
			e.Mkdir("a")
			b, err := e.K.ReadFile(path.Join(e.Dir, "a", "memory.kmem.slabinfo"))
			return firstLine(string(b)), err
		}},
		{"write-read-only", "write usage_in_bytes", func(e *Env) (string, error) {
			e.Mkdir("a")
			return "", write(e, "a", "memory.usage_in_bytes", "0")
		}},
		{"write-missing-file", "write a control file that does not exist", func(e *Env) (string, error) {
			e.Mkdir("a")
			return "", write(e, "a", "memory.no_such_file", "0")
		}},
	}
}

func knobProbes() []Probe {
	return []Probe{
		{"swappiness-101", "swappiness 101", func(e *Env) (string, error) {
			e.Mkdir("a")
			err := write(e, "a", "memory.swappiness", "101")
			return e.Read("a", "memory.swappiness"), err
		}},
		{"swappiness-201", "swappiness 201", func(e *Env) (string, error) {
			e.Mkdir("a")
			err := write(e, "a", "memory.swappiness", "201")
			return e.Read("a", "memory.swappiness"), err
		}},
		{"swappiness-0", "swappiness 0 (the parent has use_hierarchy 1)", func(e *Env) (string, error) {
			e.Mkdir("a")
			err := write(e, "a", "memory.swappiness", "0")
			return e.Read("a", "memory.swappiness"), err
		}},
		{"move-charge-4", "move_charge_at_immigrate 4", func(e *Env) (string, error) {
			e.Mkdir("a")
			err := write(e, "a", "memory.move_charge_at_immigrate", "4")
			return e.Read("a", "memory.move_charge_at_immigrate"), err
		}},
		{"move-charge-3", "move_charge_at_immigrate 3", func(e *Env) (string, error) {
			e.Mkdir("a")
			err := write(e, "a", "memory.move_charge_at_immigrate", "3")
			return e.Read("a", "memory.move_charge_at_immigrate"), err
		}},
		{"oom-control-1", "oom_control 1 (the parent has use_hierarchy 1)", func(e *Env) (string, error) {
			e.Mkdir("a")
			err := write(e, "a", "memory.oom_control", "1")
			return oomKillDisable(e.Read("a", "memory.oom_control")), err
		}},
		{"oom-control-2", "oom_control 2", func(e *Env) (string, error) {
			e.Mkdir("a")
			return "", write(e, "a", "memory.oom_control", "2")
		}},
		{"use-hierarchy-default", "use_hierarchy of a new cgroup (read only)", func(e *Env) (string, error) {
			e.Mkdir("a")
			return e.Read("a", "memory.use_hierarchy"), nil
		}},
		{"use-hierarchy-0-children", "use_hierarchy 0 on a cgroup with a child", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Mkdir("a/b")
			err := write(e, "a", "memory.use_hierarchy", "0")
			return e.Read("a", "memory.use_hierarchy"), err
		}},
		{"use-hierarchy-0-leaf", "use_hierarchy 0 on a cgroup without children", func(e *Env) (string, error) {
			e.Mkdir("a")
			err := write(e, "a", "memory.use_hierarchy", "0")
			return e.Read("a", "memory.use_hierarchy"), err
		}},
		{"use-hierarchy-1-children", "use_hierarchy 1 on a cgroup with a child", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Mkdir("a/b")
			err := write(e, "a", "memory.use_hierarchy", "1")
			return e.Read("a", "memory.use_hierarchy"), err
		}},
	}
}

func procsProbes() []Probe {
	return []Probe{
		{"procs-exited-pid", "cgroup.procs <pid of an exited process>", func(e *Env) (string, error) {
			e.Mkdir("a")
			pid := e.ExitedPID()
			return "", write(e, "a", "cgroup.procs", strconv.Itoa(pid))
		}},
		{"tasks-exited-pid", "tasks <pid of an exited process>", func(e *Env) (string, error) {
			e.Mkdir("a")
			pid := e.ExitedPID()
			return "", write(e, "a", "tasks", strconv.Itoa(pid))
		}},
		{"procs-garbage", "cgroup.procs abc", func(e *Env) (string, error) {
			e.Mkdir("a")
			return "", write(e, "a", "cgroup.procs", "abc")
		}},
		{"procs-move", "cgroup.procs <pid> moves the process", func(e *Env) (string, error) {
			e.Mkdir("a")
			e.Mkdir("b")
			pid := e.Spawn("a", 0)
			err := write(e, "b", "cgroup.procs", strconv.Itoa(pid))
			return fmt.Sprintf("inA:%t inB:%t", hasPID(e.Read("a", "cgroup.procs"), pid), hasPID(e.Read("b", "cgroup.procs"), pid)), err
		}},
		{"procs-same-cgroup", "cgroup.procs <pid> of a process already there", func(e *Env) (string, error) {
			e.Mkdir("a")
			pid := e.Spawn("a", 0)
			return "", write(e, "a", "cgroup.procs", strconv.Itoa(pid))
		}},
	}
}

func chargeProbes() []Probe {
	move := func(moveCharge string) func(e *Env) (string, error) {
		return func(e *Env) (string, error) {
			e.Mkdir("src")
			e.Mkdir("dst")
			e.Write("dst", "memory.move_charge_at_immigrate", moveCharge)
			pid := e.Spawn("src", 16)
			err := write(e, "dst", "cgroup.procs", strconv.Itoa(pid))
			return fmt.Sprintf("src>=16MiB:%t dst>=16MiB:%t",
				atLeastMiB(e.Read("src", "memory.usage_in_bytes"), 16),
				atLeastMiB(e.Read("dst", "memory.usage_in_bytes"), 16)), err
		}
	}
	return []Probe{
		{"move-charge-follows", "move a task charging 16 MiB anon into a cgroup with move_charge 1", move("1")},
		{"move-charge-stays", "move a task charging 16 MiB anon into a cgroup with move_charge 0", move("0")},
		{"move-charge-over-limit", "move a task charging 32 MiB anon into a cgroup limited to 16M with move_charge 1", func(e *Env) (string, error) {
			e.Mkdir("src")
			e.Mkdir("dst")
			e.Write("dst", "memory.limit_in_bytes", "16777216")
			e.Write("dst", "memory.move_charge_at_immigrate", "1")
			pid := e.Spawn("src", 32)
			err := write(e, "dst", "cgroup.procs", strconv.Itoa(pid))
			return fmt.Sprintf("inSrc:%t inDst:%t", hasPID(e.Read("src", "cgroup.procs"), pid), hasPID(e.Read("dst", "cgroup.procs"), pid)), err
		}},
		{"move-over-limit-no-charge", "move a task charging 32 MiB anon into a cgroup limited to 16M with move_charge 0", func(e *Env) (string, error) {
			e.Mkdir("src")
			e.Mkdir("dst")
			e.Write("dst", "memory.limit_in_bytes", "16777216")
			pid := e.Spawn("src", 32)
			err := write(e, "dst", "cgroup.procs", strconv.Itoa(pid))
			return fmt.Sprintf("inSrc:%t inDst:%t", hasPID(e.Read("src", "cgroup.procs"), pid), hasPID(e.Read("dst", "cgroup.procs"), pid)), err
		}},
		{"hierarchy-usage", "a parent's usage includes its child's charge", func(e *Env) (string, error) {
			e.Mkdir("p")
			e.Mkdir("p/c")
			e.Spawn("p/c", 16)
			return "parent>=16MiB:" + strconv.FormatBool(atLeastMiB(e.Read("p", "memory.usage_in_bytes"), 16)), nil
		}},
		{"limit-parent-below-child-usage", "parent limit 8M while its child's task charges 32 MiB", func(e *Env) (string, error) {
			e.Mkdir("p")
			e.Mkdir("p/c")
			e.Spawn("p/c", 32)
			err := write(e, "p", "memory.limit_in_bytes", "8388608")
			return e.Read("p", "memory.limit_in_bytes"), err
		}},
	}
}

func atLeastMiB(s string, mib int64) bool {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return err == nil && n >= mib<<20
}

func hasPID(procs string, pid int) bool {
	for _, f := range strings.Fields(procs) {
		if f == strconv.Itoa(pid) {
			return true
		}
	}
	return false
}

func oomKillDisable(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill_disable "); ok {
			return v
		}
	}
	return "?"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
