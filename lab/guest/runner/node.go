package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
	"github.com/kmemfix/kmemfix/lab/layout"
)

// The guest's cgroup layout, as on a node with kubelet's cgroupfs driver.
const (
	cgroupRoot = "/sys/fs/cgroup/memory"
	kubepods   = "kubepods"
	mirror     = "kubepods2"
)

// argvOf is the command line of a container process of the given role.
func argvOf(role string, n wire.Node, cacheFile string) (argv []string, waitsGo bool) {
	switch role {
	case layout.RoleHog:
		return []string{workloadBin, "hold", "--wait-go", "--mib", strconv.Itoa(n.HogMiB)}, true
	case layout.RoleCache:
		return []string{workloadBin, "file", "--wait-go", "--path", cacheFile, "--mib", strconv.Itoa(n.CacheMiB)}, true
	case layout.RoleTmpfs:
		return []string{workloadBin, "file", "--wait-go", "--create", "--path", "/run/lab/tmpfs/ctr.bin", "--mib", strconv.Itoa(n.CacheMiB)}, true
	case layout.RoleThreads:
		return []string{workloadBin, "threads", "--wait-go", "--threads", strconv.Itoa(n.Threads), "--mib", "2"}, true
	case layout.RoleForker:
		return []string{workloadBin, "forker", "--wait-go", "--every", "50ms"}, true
	}
	return []string{"/bin/sleep", "2147483"}, false
}

// build creates the planned node parents-first, writes its values, and
// starts its processes inside their cgroups.
func build(plan layout.Node, n wire.Node, cacheFile string, p *procs) (nprocs int, err error) {
	for _, cg := range plan.Cgroups {
		dir := filepath.Join(cgroupRoot, kubepods, cg.Rel)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nprocs, fmt.Errorf("mkdir %q: %w", dir, err)
		}
		for _, v := range cg.Values {
			if err := writeControl(filepath.Join(dir, v[0]), []byte(v[1])); err != nil {
				return nprocs, fmt.Errorf("write %s=%s in %q: %w", v[0], v[1], dir, err)
			}
		}
		for _, role := range cg.Procs {
			argv, waitsGo := argvOf(role, n, cacheFile)
			if _, err := p.start(dir, cg.Rel, argv, waitsGo); err != nil {
				return nprocs, fmt.Errorf("start %s in %q: %w", role, cg.Rel, err)
			}
			nprocs++
		}
	}
	return nprocs, nil
}
