package simnode

import (
	"testing"
)

// walk reads a tree the way the procedure's snapshot does: list every
// directory, read its tasks and preserved values.
func walk(tb testing.TB, n *Node, dir string) (dirs, files int) {
	ents, err := n.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range []string{"cgroup.procs", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
		"memory.soft_limit_in_bytes", "memory.swappiness", "memory.oom_control", "memory.move_charge_at_immigrate",
		"memory.use_hierarchy"} {
		if _, err := n.ReadFile(dir + "/" + name); err != nil {
			tb.Fatal(err)
		}
		files++
	}
	if _, err := n.ReadFile(dir + "/memory.kmem.slabinfo"); err != nil {
		tb.Fatal(err)
	}
	dirs = 1
	for _, e := range ents {
		if e.IsDir() {
			d, f := walk(tb, n, dir+"/"+e.Name())
			dirs += d
			files += f
		}
	}
	return dirs, files
}

func BenchmarkPopulateAndWalk1000(b *testing.B) {
	for b.Loop() {
		n := New(Config{Kubelet: KubeletConfig{Buggy: true}, Seed: 1})
		if err := n.AddPods(PodsSpec{Containers: 1000, Forker: true, LeakIDs: 60000}); err != nil {
			b.Fatal(err)
		}
		walk(b, n, cg("kubepods"))
	}
}

func BenchmarkWalk1000(b *testing.B) {
	n := New(Config{Kubelet: KubeletConfig{Buggy: true}, Seed: 1})
	if err := n.AddPods(PodsSpec{Containers: 1000, Forker: true}); err != nil {
		b.Fatal(err)
	}
	var dirs int
	for b.Loop() {
		dirs, _ = walk(b, n, cg("kubepods"))
	}
	b.ReportMetric(float64(dirs), "dirs")
}

func BenchmarkPopulate50(b *testing.B) {
	for b.Loop() {
		n := New(Config{Kubelet: KubeletConfig{Buggy: true}, Seed: 1})
		if err := n.AddPods(PodsSpec{Containers: 50, Forker: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// A move storm: every process of a 1,000-container node moved to a mirror
// and back, as the procedure's move steps do.
func BenchmarkMoveAll1000(b *testing.B) {
	n := New(Config{Kubelet: KubeletConfig{Buggy: true}, Seed: 1, NoShims: true})
	if err := n.AddPods(PodsSpec{Containers: 1000}); err != nil {
		b.Fatal(err)
	}
	if err := n.Mkdir(cg("mirror")); err != nil {
		b.Fatal(err)
	}
	if err := n.WriteFile(cg("mirror/memory.move_charge_at_immigrate"), []byte("3")); err != nil {
		b.Fatal(err)
	}
	var pids []string
	for _, p := range n.Processes() {
		if p.Cgroup != "/" {
			pids = append(pids, itoa(p.Pid))
		}
	}
	for b.Loop() {
		for _, p := range pids {
			if err := n.WriteFile(cg("mirror/cgroup.procs"), []byte(p)); err != nil {
				b.Fatal(err)
			}
		}
		for _, p := range pids {
			if err := n.WriteFile(cg("cgroup.procs"), []byte(p)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(2*len(pids)), "moves/op")
}
