package node

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Control files the procedure preserves, in the order they are applied to a
// fresh cgroup. use_hierarchy first: the kernel accepts it only while the
// cgroup has no children. The two limits are written by writeLimits, which
// keeps limit <= memsw limit at every instant.
const (
	fileUseHierarchy = "memory.use_hierarchy"
	fileLimit        = "memory.limit_in_bytes"
	fileMemswLimit   = "memory.memsw.limit_in_bytes"
	fileSoftLimit    = "memory.soft_limit_in_bytes"
	fileSwappiness   = "memory.swappiness"
	fileOOMControl   = "memory.oom_control"
	fileMoveCharge   = "memory.move_charge_at_immigrate"
	fileProcs        = "cgroup.procs"
	fileForceEmpty   = "memory.force_empty"
	fileSlabinfo     = "memory.kmem.slabinfo"
)

// preservedFiles are recorded per cgroup in the snapshot and compared by
// verify. memsw is absent on kernels without swap accounting.
var preservedFiles = []string{
	fileUseHierarchy, fileLimit, fileMemswLimit, fileSoftLimit,
	fileSwappiness, fileOOMControl, fileMoveCharge,
}

// moveChargeAll makes a destination take anonymous and file charges along
// with the tasks that move into it (bits 0 and 1).
const moveChargeAll = "3"

// readValues reads the preserved files of one cgroup, as the kernel reports
// them. oom_control is reduced to its oom_kill_disable flag, the only part
// that can be written.
func readValues(sys System, dir string) (map[string]string, error) {
	values := make(map[string]string, len(preservedFiles))
	for _, name := range preservedFiles {
		raw, err := sys.ReadFile(dir + "/" + name)
		if errors.Is(err, fs.ErrNotExist) && name == fileMemswLimit {
			continue // no swap accounting on this kernel
		}
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", dir, name, err)
		}
		v, err := normalize(name, raw)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", dir, name, err)
		}
		values[name] = v
	}
	return values, nil
}

func normalize(name string, raw []byte) (string, error) {
	if name != fileOOMControl {
		return strings.TrimSpace(string(raw)), nil
	}
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("oom_kill_disable ")); ok {
			return strings.TrimSpace(string(v)), nil
		}
	}
	return "", fmt.Errorf("no oom_kill_disable line in %q", raw)
}

// applyValues makes dir's preserved files equal to want, writing only what
// differs so a repeated run does nothing and never trips the kernel's "only
// without children" rules.
func applyValues(sys System, dir string, want map[string]string) (int, error) {
	have, err := readValues(sys, dir)
	if err != nil {
		return 0, err
	}
	writes := 0
	write := func(name string) error {
		v, ok := want[name]
		if !ok || have[name] == v {
			return nil
		}
		if err := sys.WriteFile(dir+"/"+name, []byte(v)); err != nil {
			return fmt.Errorf("set %s/%s to %s (was %s): %w", dir, name, v, have[name], err)
		}
		writes++
		return nil
	}
	if err := write(fileUseHierarchy); err != nil {
		return writes, err
	}
	n, err := writeLimits(sys, dir, have, want)
	writes += n
	if err != nil {
		return writes, err
	}
	for _, name := range []string{fileSoftLimit, fileSwappiness, fileOOMControl, fileMoveCharge} {
		if err := write(name); err != nil {
			return writes, err
		}
	}
	return writes, nil
}

// writeLimits sets limit and memsw limit in the order that keeps
// limit <= memsw at every instant: when the memsw limit goes up it is
// written first, when it goes down the limit is lowered first.
func writeLimits(sys System, dir string, have, want map[string]string) (int, error) {
	order := []string{fileLimit, fileMemswLimit}
	if wantMemsw, ok := want[fileMemswLimit]; ok {
		if _, present := have[fileMemswLimit]; !present {
			return 0, fmt.Errorf("%s has no %s but the snapshot has one: swap accounting differs", dir, fileMemswLimit)
		}
		up, err := greater(wantMemsw, have[fileMemswLimit])
		if err != nil {
			return 0, fmt.Errorf("%s: %w", dir, err)
		}
		if up {
			order = []string{fileMemswLimit, fileLimit}
		}
	}
	writes := 0
	for _, name := range order {
		v, ok := want[name]
		if !ok || have[name] == v {
			continue
		}
		if err := sys.WriteFile(dir+"/"+name, []byte(v)); err != nil {
			return writes, fmt.Errorf("set %s/%s to %s (was %s): %w", dir, name, v, have[name], err)
		}
		writes++
	}
	return writes, nil
}

func greater(a, b string) (bool, error) {
	x, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		return false, fmt.Errorf("limit %q is not a byte count", a)
	}
	y, err := strconv.ParseUint(b, 10, 64)
	if err != nil {
		return false, fmt.Errorf("limit %q is not a byte count", b)
	}
	return x > y, nil
}

// readPids lists the thread groups of a cgroup. A cgroup that is gone has
// none.
func readPids(sys System, dir string) ([]int, error) {
	raw, err := sys.ReadFile(dir + "/" + fileProcs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", dir, fileProcs, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(raw)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("read %s/%s: %q is not a pid", dir, fileProcs, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// kmemAccounted tells whether kernel-memory accounting is on for a cgroup,
// the 3.10 way: memory.kmem.slabinfo is readable only when it is.
func kmemAccounted(sys System, dir string) (bool, error) {
	_, err := sys.ReadFile(dir + "/" + fileSlabinfo)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errEIO):
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil // kernel built without kmem accounting
	default:
		return false, fmt.Errorf("read %s/%s: %w", dir, fileSlabinfo, err)
	}
}
