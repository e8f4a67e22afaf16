// Package layout plans the Kubernetes-like node the lab builds: kubepods in
// both layouts (pods under the burstable/besteffort QoS levels and
// guaranteed pods directly under kubepods), the values kubelet and
// operators leave in each cgroup, and the processes of each container. The
// guest runner builds the plan on the real kernel and the differential test
// builds the same plan on the simulator.
package layout

import (
	"fmt"
	"math/rand"
	"path"
	"strconv"
)

// Roles of container processes.
const (
	RoleSleeper = "sleeper" // an idle process
	RoleHog     = "hog"     // anonymous memory touched
	RoleCache   = "cache"   // a file read: page cache
	RoleTmpfs   = "tmpfs"   // a tmpfs file written
	RoleThreads = "threads" // a multi-threaded process
	RoleForker  = "forker"  // a process that forks continuously
)

// specialRoles go, in order, to the first non-pause containers of the
// burstable and guaranteed pods.
var specialRoles = []string{RoleHog, RoleCache, RoleTmpfs, RoleThreads, RoleForker}

// HostileNames are container names a shell would misread; the first
// containers get them. (A newline is refused by the kernel, and '/' cannot
// be in a name.) A shell that ran one would create /pwned-* (cwd is /).
var HostileNames = []string{
	"ctr with spaces",
	"ctr;touch pwned-semicolon",
	"ctr$(touch pwned-subshell)",
	"ctr`touch pwned-backquote`",
	"ctr'quote\"dq",
}

// Sizes are the node's dimensions.
type Sizes struct {
	BurstablePods, BestEffortPods, GuaranteedPods, ContainersPerPod int
}

// Cgroup is one cgroup to create: its path relative to kubepods ("" is
// kubepods itself), the values to write in order, its processes' roles.
type Cgroup struct {
	Rel    string
	Values [][2]string // file, value
	Procs  []string    // roles
}

// Node is the plan, parents first.
type Node struct {
	Cgroups    []Cgroup
	Containers int
	Roles      map[string]string // role -> the container that has it
}

// Plan lays out a node; the same sizes and seed give the same plan.
func Plan(s Sizes, seed int64) Node {
	rng := rand.New(rand.NewSource(seed)) //nolint:gosec // G404: a reproducible layout from a seed, not a secret
	n := Node{Roles: map[string]string{}}
	n.Cgroups = append(n.Cgroups, Cgroup{Rel: "", Values: [][2]string{
		{"memory.use_hierarchy", "1"},
		{"memory.limit_in_bytes", strconv.FormatInt(6<<30, 10)},
		{"memory.memsw.limit_in_bytes", strconv.FormatInt(6<<30, 10)},
	}})
	n.Cgroups = append(n.Cgroups,
		Cgroup{Rel: "burstable", Values: [][2]string{{"memory.soft_limit_in_bytes", "1073741824"}}},
		Cgroup{Rel: "besteffort", Values: [][2]string{{"memory.soft_limit_in_bytes", "0"}}})
	roles := specialRoles
	hostile := 0
	groups := []struct {
		qos   string // "" for guaranteed pods (no QoS level)
		count int
	}{{"burstable", s.BurstablePods}, {"besteffort", s.BestEffortPods}, {"", s.GuaranteedPods}}
	for _, g := range groups {
		for i := 0; i < g.count; i++ {
			pod := path.Join(g.qos, "pod"+uid(rng))
			var podLimit int64
			var ctrs []Cgroup
			for c := 0; c < s.ContainersPerPod; c++ {
				name := cid(rng)
				if c > 0 && hostile < len(HostileNames) {
					name = HostileNames[hostile]
					hostile++
				}
				ctr, limit := container(path.Join(pod, name), g.qos == "besteffort", rng)
				podLimit += limit
				ctr.Procs = []string{RoleSleeper}
				switch {
				case c > 0 && len(roles) > 0 && g.qos != "besteffort":
					ctr.Procs = []string{roles[0]}
					n.Roles[roles[0]] = ctr.Rel
					roles = roles[1:]
				case n.Containers%5 == 4:
					ctr.Procs = append(ctr.Procs, RoleSleeper)
				}
				ctrs = append(ctrs, ctr)
				n.Containers++
			}
			podCg := Cgroup{Rel: pod}
			if g.qos != "besteffort" {
				podCg.Values = [][2]string{
					{"memory.limit_in_bytes", strconv.FormatInt(podLimit, 10)},
					{"memory.memsw.limit_in_bytes", strconv.FormatInt(podLimit, 10)},
				}
			}
			n.Cgroups = append(n.Cgroups, podCg)
			n.Cgroups = append(n.Cgroups, ctrs...)
		}
	}
	return n
}

// container picks a container's values the way kubelet and operators leave
// them: limits not always page-aligned (the kernel rounds), memsw at or
// above the limit, soft limits, swappiness, oom_kill_disable and
// move_charge_at_immigrate now and then.
func container(rel string, bestEffort bool, rng *rand.Rand) (Cgroup, int64) {
	c := Cgroup{Rel: rel}
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
		c.Values = append(c.Values,
			[2]string{"memory.limit_in_bytes", strconv.FormatInt(limit, 10)},
			[2]string{"memory.memsw.limit_in_bytes", strconv.FormatInt(memsw, 10)},
			[2]string{"memory.soft_limit_in_bytes", strconv.FormatInt(limit/2+int64(rng.Intn(1<<20)), 10)})
	}
	c.Values = append(c.Values, [2]string{"memory.swappiness", strconv.Itoa(rng.Intn(101))})
	if rng.Intn(7) == 0 {
		c.Values = append(c.Values, [2]string{"memory.oom_control", "1"})
	}
	if rng.Intn(9) == 0 {
		c.Values = append(c.Values, [2]string{"memory.move_charge_at_immigrate", strconv.Itoa(1 + rng.Intn(3))})
	}
	return c, limit
}

func uid(rng *rand.Rand) string {
	b := make([]byte, 16)
	_, _ = rng.Read(b) // math/rand's Read always fills b and returns nil
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func cid(rng *rand.Rand) string {
	b := make([]byte, 32)
	_, _ = rng.Read(b) // math/rand's Read always fills b and returns nil
	return fmt.Sprintf("%x", b)
}
