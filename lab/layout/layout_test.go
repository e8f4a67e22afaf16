package layout

import (
	"reflect"
	"strings"
	"testing"
)

func TestPlanHasBothLayoutsRolesAndHostileNames(t *testing.T) {
	s := Sizes{BurstablePods: 20, BestEffortPods: 8, GuaranteedPods: 12, ContainersPerPod: 3}
	n := Plan(s, 1)
	if n.Containers != 120 {
		t.Errorf("%d containers, want 120", n.Containers)
	}
	if len(n.Cgroups) != 3+40+120 {
		t.Errorf("%d cgroups, want 163 (kubepods, 2 QoS levels, 40 pods, 120 containers)", len(n.Cgroups))
	}
	depth := map[int]int{} // path depth -> containers
	seen := map[string]bool{}
	for _, cg := range n.Cgroups {
		if seen[cg.Rel] {
			t.Errorf("cgroup %q planned twice", cg.Rel)
		}
		seen[cg.Rel] = true
		if cg.Rel != "" && !seen[parent(cg.Rel)] {
			t.Errorf("%q planned before its parent", cg.Rel)
		}
		if len(cg.Procs) > 0 {
			depth[strings.Count(cg.Rel, "/")]++
		}
	}
	if depth[2] != 84 || depth[1] != 36 {
		t.Errorf("containers by depth %v: want 84 under a QoS level, 36 guaranteed (pod<uid>/<cid>)", depth)
	}
	for _, role := range specialRoles {
		if n.Roles[role] == "" {
			t.Errorf("no container has role %s", role)
		}
	}
	for _, name := range HostileNames {
		found := false
		for rel := range seen {
			found = found || strings.HasSuffix(rel, "/"+name)
		}
		if !found {
			t.Errorf("no container is named %q", name)
		}
	}
	if !reflect.DeepEqual(n, Plan(s, 1)) {
		t.Error("the same sizes and seed planned two different nodes")
	}
}

func parent(rel string) string {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return ""
	}
	return rel[:i]
}
