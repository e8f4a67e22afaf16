package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

// preservedFiles are the per-cgroup values the procedure must carry over
// (procedure.md), plus use_hierarchy.
var preservedFiles = []string{
	"memory.limit_in_bytes",
	"memory.memsw.limit_in_bytes",
	"memory.soft_limit_in_bytes",
	"memory.swappiness",
	"memory.oom_control",
	"memory.move_charge_at_immigrate",
	"memory.use_hierarchy",
}

// tree is a memory-cgroup subtree as the kernel reports it, keyed by path
// relative to the subtree's top ("" is the top itself).
type tree map[string]*cgroupState

type cgroupState struct {
	values map[string]string
	pids   []int
}

// readTree reads every cgroup under top with its preserved values and pids.
func readTree(top string) (tree, error) {
	t := tree{}
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(top, p)
		if err != nil {
			return err
		}
		if rel == "." {
			rel = ""
		}
		st, err := readCgroup(p)
		if err != nil {
			return err
		}
		t[rel] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", top, err)
	}
	return t, nil
}

func readCgroup(dir string) (*cgroupState, error) {
	st := &cgroupState{values: map[string]string{}}
	for _, f := range preservedFiles {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		v := strings.TrimSpace(string(b))
		if f == "memory.oom_control" {
			v = oomKillDisable(v)
		}
		st.values[f] = v
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("cgroup.procs of %s: %w", dir, err)
		}
		st.pids = append(st.pids, pid)
	}
	return st, nil
}

func oomKillDisable(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill_disable "); ok {
			return v
		}
	}
	return "?"
}

// rels lists the tree's relative paths, sorted.
func (t tree) rels() []string {
	out := make([]string, 0, len(t))
	for rel := range t {
		out = append(out, rel)
	}
	sort.Strings(out)
	return out
}

// procCount counts the pids in the tree.
func (t tree) procCount() int {
	n := 0
	for _, st := range t {
		n += len(st.pids)
	}
	return n
}

// identity tells a process from a later one that reuses its pid.
type identity struct {
	start string // starttime, field 22 of /proc/PID/stat
}

// procIdentity reads a live process's identity; ok is false when it is gone.
func procIdentity(pid int) (identity, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return identity{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return identity{}, false
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 || fields[0] == "Z" {
		return identity{}, false
	}
	return identity{start: fields[19]}, true
}

// memcgOf reads the memory cgroup of a process or thread from its
// /proc/.../cgroup file ("N:memory:/path"); ok is false when it is gone.
func memcgOf(procPath string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(procPath, "cgroup"))
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && parts[1] == "memory" {
			return parts[2], true
		}
	}
	return "", false
}

// labctrOf returns the LABCTR of a process (its container), if it has one.
func labctrOf(pid int) (string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return "", false
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, "LABCTR="); ok {
			return v, true
		}
	}
	return "", false
}

// allPIDs lists the pids in /proc.
func allPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// values returns the tree's preserved values by relative path.
func (t tree) values() map[string]wire.Values {
	out := make(map[string]wire.Values, len(t))
	for rel, st := range t {
		out[rel] = st.values
	}
	return out
}
