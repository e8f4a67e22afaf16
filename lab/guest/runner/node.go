package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

// The guest's cgroup layout, as on a node with kubelet's cgroupfs driver.
const (
	cgroupRoot = "/sys/fs/cgroup/memory"
	kubepods   = "kubepods"
	mirror     = "kubepods2"
)

// hostileNames are container names a shell would misread; the first
// containers get them. (A newline is refused by the kernel, and '/' cannot
// be in a name.) A shell that ran one would create /pwned-* (cwd is /).
var hostileNames = []string{
	"ctr with spaces",
	"ctr;touch pwned-semicolon",
	"ctr$(touch pwned-subshell)",
	"ctr`touch pwned-backquote`",
	"ctr'quote\"dq",
}

// cgroupSpec is one cgroup of the node to build: its path relative to
// kubepods and the values to write, in order.
type cgroupSpec struct {
	rel    string
	values [][2]string // file, value
	procs  []procSpec
}

// procSpec is one container process.
type procSpec struct {
	argv    []string
	waitsGo bool
	role    string // sleeper, hog, cache, tmpfs, threads, forker
}

// nodeLayout is the node as planned: every cgroup parents-first.
type nodeLayout struct {
	cgroups    []cgroupSpec
	containers int
	hogRel     string            // the memory hog's container (anonymous charge check)
	roleRels   map[string]string // container of each special role
}

// planNode lays out kubepods in both layouts from the plan's sizes.
func planNode(n wire.Node, rng *rand.Rand, cacheFile string) nodeLayout {
	l := nodeLayout{roleRels: map[string]string{}}
	l.cgroups = append(l.cgroups, cgroupSpec{rel: "", values: [][2]string{
		{"memory.use_hierarchy", "1"},
		{"memory.limit_in_bytes", strconv.FormatInt(6<<30, 10)},
		{"memory.memsw.limit_in_bytes", strconv.FormatInt(6<<30, 10)},
	}})
	l.cgroups = append(l.cgroups,
		cgroupSpec{rel: "burstable", values: [][2]string{{"memory.swappiness", "60"}}},
		cgroupSpec{rel: "besteffort", values: [][2]string{{"memory.soft_limit_in_bytes", "0"}}})
	roles := []procSpec{
		{role: "hog", waitsGo: true, argv: []string{workloadBin, "hold", "--wait-go", "--mib", strconv.Itoa(n.HogMiB)}},
		{role: "cache", waitsGo: true, argv: []string{workloadBin, "file", "--wait-go", "--path", cacheFile, "--mib", strconv.Itoa(n.CacheMiB)}},
		{role: "tmpfs", waitsGo: true, argv: []string{workloadBin, "file", "--wait-go", "--create", "--path", "/run/lab/tmpfs/ctr.bin", "--mib", strconv.Itoa(n.CacheMiB)}},
		{role: "threads", waitsGo: true, argv: []string{workloadBin, "threads", "--wait-go", "--threads", strconv.Itoa(n.Threads), "--mib", "2"}},
		{role: "forker", waitsGo: true, argv: []string{workloadBin, "forker", "--wait-go", "--every", "50ms"}},
	}
	pods := []struct {
		qos   string // "" for guaranteed pods (no QoS level)
		count int
	}{{"burstable", n.BurstablePods}, {"besteffort", n.BestEffortPods}, {"", n.GuaranteedPods}}
	hostile := 0
	for _, group := range pods {
		for i := 0; i < group.count; i++ {
			pod := filepath.Join(group.qos, "pod"+uid(rng))
			podSpec := cgroupSpec{rel: pod}
			var podLimit int64
			var ctrs []cgroupSpec
			for c := 0; c < n.ContainersPerPod; c++ {
				name := cid(rng)
				if c > 0 && hostile < len(hostileNames) {
					name = hostileNames[hostile]
					hostile++
				}
				spec, limit := containerSpec(filepath.Join(pod, name), group.qos == "besteffort", rng)
				podLimit += limit
				spec.procs = []procSpec{sleeper()}
				if c > 0 && len(roles) > 0 && group.qos != "besteffort" {
					spec.procs = []procSpec{roles[0]}
					l.roleRels[roles[0].role] = spec.rel
					if roles[0].role == "hog" {
						l.hogRel = spec.rel
					}
					roles = roles[1:]
				} else if (l.containers % 5) == 4 {
					spec.procs = append(spec.procs, sleeper())
				}
				ctrs = append(ctrs, spec)
				l.containers++
			}
			if group.qos != "besteffort" {
				podSpec.values = [][2]string{
					{"memory.limit_in_bytes", strconv.FormatInt(podLimit, 10)},
					{"memory.memsw.limit_in_bytes", strconv.FormatInt(podLimit, 10)},
				}
			}
			l.cgroups = append(l.cgroups, podSpec)
			l.cgroups = append(l.cgroups, ctrs...)
		}
	}
	return l
}

// containerSpec picks a container's values the way kubelet and operators
// leave them: limits not always page-aligned (the kernel rounds), memsw at
// or above the limit, soft limits, swappiness, oom_kill_disable now and then.
func containerSpec(rel string, bestEffort bool, rng *rand.Rand) (cgroupSpec, int64) {
	s := cgroupSpec{rel: rel}
	limit := int64(0)
	if !bestEffort {
		limit = int64(64+rng.Intn(448)) << 20
		if rng.Intn(4) == 0 {
			limit += int64(rng.Intn(4096)) // not page-aligned: read back rounded
		}
		memsw := limit
		if rng.Intn(2) == 0 {
			memsw += int64(rng.Intn(256)) << 20
		}
		s.values = append(s.values,
			[2]string{"memory.limit_in_bytes", strconv.FormatInt(limit, 10)},
			[2]string{"memory.memsw.limit_in_bytes", strconv.FormatInt(memsw, 10)},
			[2]string{"memory.soft_limit_in_bytes", strconv.FormatInt(limit/2+int64(rng.Intn(1<<20)), 10)})
	}
	s.values = append(s.values, [2]string{"memory.swappiness", strconv.Itoa(rng.Intn(101))})
	if rng.Intn(7) == 0 {
		s.values = append(s.values, [2]string{"memory.oom_control", "1"})
	}
	if rng.Intn(9) == 0 {
		s.values = append(s.values, [2]string{"memory.move_charge_at_immigrate", strconv.Itoa(1 + rng.Intn(3))})
	}
	return s, limit
}

func sleeper() procSpec {
	return procSpec{role: "sleeper", argv: []string{"/bin/sleep", "2147483"}}
}

func uid(rng *rand.Rand) string {
	b := make([]byte, 16)
	rng.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func cid(rng *rand.Rand) string {
	b := make([]byte, 32)
	rng.Read(b)
	return fmt.Sprintf("%x", b)
}

// build creates the layout parents-first, writes its values, and starts its
// processes inside their cgroups.
func (l nodeLayout) build(p *procs) (nprocs int, err error) {
	for _, cg := range l.cgroups {
		dir := filepath.Join(cgroupRoot, kubepods, cg.rel)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nprocs, fmt.Errorf("mkdir %q: %w", dir, err)
		}
		for _, v := range cg.values {
			if err := writeControl(filepath.Join(dir, v[0]), []byte(v[1])); err != nil {
				return nprocs, fmt.Errorf("write %s=%s in %q: %w", v[0], v[1], dir, err)
			}
		}
		for _, ps := range cg.procs {
			if _, err := p.start(dir, cg.rel, ps.argv, ps.waitsGo); err != nil {
				return nprocs, fmt.Errorf("start %s in %q: %w", ps.role, cg.rel, err)
			}
			nprocs++
		}
	}
	return nprocs, nil
}
