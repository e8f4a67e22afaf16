package simnode

import (
	"slices"
	"strings"
	"testing"
)

func TestAddPodsLayouts(t *testing.T) {
	for _, tc := range []struct {
		layout           Layout
		wantQoS, wantDir bool
	}{
		{LayoutBoth, true, true},
		{LayoutQoS, true, false},
		{LayoutDirect, false, true},
	} {
		n := newNode(t, Config{Kubelet: KubeletConfig{Buggy: true}})
		if err := n.AddPods(PodsSpec{Containers: 60, Layout: tc.layout}); err != nil {
			t.Fatal(err)
		}
		var qosPods, directPods, containers, pause int
		for _, c := range n.Cgroups() {
			parts := strings.Split(strings.TrimPrefix(c, "/"), "/")
			if parts[0] != "kubepods" {
				continue
			}
			qos := len(parts) > 1 && (parts[1] == "burstable" || parts[1] == "besteffort")
			switch {
			case qos && len(parts) == 3:
				qosPods++
			case !qos && len(parts) == 2:
				directPods++
			case qos && len(parts) == 4, !qos && len(parts) == 3:
				containers++
			}
		}
		for _, p := range n.Processes() {
			if p.Name == "pause" {
				pause++
			}
		}
		if (qosPods > 0) != tc.wantQoS || (directPods > 0) != tc.wantDir {
			t.Errorf("layout %d: %d qos pods, %d direct pods", tc.layout, qosPods, directPods)
		}
		if containers != 60+qosPods+directPods || pause != qosPods+directPods {
			t.Errorf("layout %d: %d containers, %d pause for %d pods", tc.layout, containers, pause, qosPods+directPods)
		}
	}
}

func TestAddPodsIsRealisticAndDeterministic(t *testing.T) {
	build := func() *Node {
		n := newNode(t, Config{Kubelet: KubeletConfig{Buggy: true}, Seed: 9})
		if err := n.AddPods(PodsSpec{Containers: 200, LeakIDs: 1000, Forker: true}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := build()
	if strings.Join(n.Cgroups(), "\n") != strings.Join(build().Cgroups(), "\n") {
		t.Fatal("same seed, different tree")
	}
	if n.LeakedIDs() != 1000 {
		t.Fatalf("leaked %d", n.LeakedIDs())
	}
	limits, memsw, soft, swappiness, oom, move := map[int64]bool{}, map[int64]bool{}, map[int64]bool{}, map[int]bool{}, 0, 0
	for _, c := range n.Cgroups() {
		st, _ := n.Cgroup(c)
		if strings.HasPrefix(c, "/kubepods") && !st.Kmem {
			t.Fatalf("%s not accounted", c)
		}
		limits[st.Limit], memsw[st.MemswLimit], soft[st.SoftLimit], swappiness[st.Swappiness] = true, true, true, true
		if st.OOMKillDisable {
			oom++
		}
		if st.MoveCharge != 0 {
			move++
		}
		if st.Usage > st.Limit {
			t.Fatalf("%s over its limit", c)
		}
	}
	// Under use_hierarchy=1 (kubepods here) 3.10 lets no cgroup differ from
	// its parent in swappiness or oom_kill_disable: they are inherited.
	if len(limits) < 5 || len(memsw) < 5 || len(soft) < 3 || len(swappiness) != 1 || oom != 0 || move == 0 {
		t.Fatalf("values do not vary: %d limits %d memsw %d soft %d swappiness %d oom %d move", len(limits), len(memsw), len(soft), len(swappiness), oom, move)
	}
	if !limits[299999232] {
		t.Fatal("no rounded limit (300000000 -> 299999232)")
	}
	perContainer := map[string]int{}
	threaded, forkers := 0, 0
	for _, p := range n.Processes() {
		if strings.HasPrefix(p.Cgroup, "/kubepods/") {
			perContainer[p.Cgroup]++
		}
		if len(p.Tasks) > 1 {
			threaded++
		}
		if p.Forker {
			forkers++
		}
	}
	for c, k := range perContainer {
		if k < 1 || k > 4 { // 1-3, plus the forker in one container
			t.Fatalf("%s has %d processes", c, k)
		}
	}
	if threaded == 0 || forkers != 1 {
		t.Fatalf("%d multi-threaded, %d forkers", threaded, forkers)
	}
}

func TestHostileNames(t *testing.T) {
	n := newNode(t, Config{Kubelet: KubeletConfig{Buggy: true}})
	if err := n.AddPods(PodsSpec{Containers: 40, Hostile: true, MaxPerPod: 1}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range n.Cgroups() {
		names = append(names, c[strings.LastIndex(c, "/")+1:])
	}
	for _, h := range HostileNames {
		if !slices.Contains(names, h) {
			t.Errorf("no cgroup named %q", h)
		}
	}
	// Every hostile cgroup is reachable through the System interface.
	for _, c := range n.Cgroups() {
		if _, err := n.ReadFile(cg(strings.TrimPrefix(c, "/")) + "/cgroup.procs"); c != "/" && err != nil {
			t.Fatalf("%q: %v", c, err)
		}
	}
	if err := n.AddPod(Pod{Name: "pod\nnewline"}, AccountingOff); err == nil {
		t.Fatal("a newline in a name was accepted")
	}
}
