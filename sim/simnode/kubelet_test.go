package simnode

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBuggyKubeletLeaksIDsUntilENOSPC(t *testing.T) {
	n := newNode(t, Config{MaxIDs: 400, Kubelet: KubeletConfig{Buggy: true}})
	if err := n.AddPods(PodsSpec{Containers: 20}); err != nil {
		t.Fatal(err)
	}
	var err error
	ticks := 0
	for ; ticks < 1000 && err == nil; ticks++ {
		err = n.Tick()
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("after %d ticks: %v, want ENOSPC", ticks, err)
	}
	if n.LeakedIDs() < 300 || n.FreeIDs() != 0 {
		t.Fatalf("leaked %d free %d", n.LeakedIDs(), n.FreeIDs())
	}
	wantErrno(t, n.Mkdir(cg("probe")), syscall.ENOSPC)
	if log := n.KubeletLog(); len(log) == 0 {
		t.Fatal("kubelet logged nothing")
	}
}

func TestFixedKubeletDoesNotLeak(t *testing.T) {
	n := newNode(t, Config{MaxIDs: 400})
	if err := n.AddPods(PodsSpec{Containers: 20, Accounting: AccountingOff}); err != nil {
		t.Fatal(err)
	}
	start := n.IDsInUse()
	for range 1000 {
		if err := n.Tick(); err != nil {
			t.Fatal(err)
		}
	}
	if n.LeakedIDs() != 0 || n.IDsInUse() > start+20 {
		t.Fatalf("leaked %d in use %d (started at %d)", n.LeakedIDs(), n.IDsInUse(), start)
	}
	wantErrno(t, n.Mkdir(cg("probe")), 0)
}

func TestFixedKubeletUnderAccountedKubepodsStillLeaks(t *testing.T) {
	// Swapping the kubelet alone is not enough: new cgroups inherit
	// accounting from the accounted kubepods.
	n := newNode(t, Config{MaxIDs: 400})
	if err := n.AddPods(PodsSpec{Containers: 20, Accounting: AccountingOn}); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		_ = n.Tick()
	}
	if n.LeakedIDs() == 0 {
		t.Fatal("no leak under an accounted kubepods")
	}
}

func TestStoppedKubeletDoesNotChurn(t *testing.T) {
	n := newNode(t, Config{Kubelet: KubeletConfig{Buggy: true, Stopped: true}})
	if err := n.AddPods(PodsSpec{Containers: 10}); err != nil {
		t.Fatal(err)
	}
	before := n.Cgroups()
	for range 10 {
		if err := n.Tick(); err != nil {
			t.Fatal(err)
		}
	}
	if len(n.Cgroups()) != len(before) || n.LeakedIDs() != 0 {
		t.Fatal("a stopped kubelet changed the tree")
	}
}

func TestKubeletStartCreatesKubepodsPerItsBinary(t *testing.T) {
	for _, buggy := range []bool{true, false} {
		n := newNode(t, Config{Kubelet: KubeletConfig{Buggy: buggy, Stopped: true}})
		run(t, n, "systemctl", "start", "kubelet")
		for _, rel := range []string{"kubepods", "kubepods/burstable", "kubepods/besteffort"} {
			st, ok := n.Cgroup(rel)
			if !ok || st.Kmem != buggy {
				t.Fatalf("buggy=%t: %s exists=%t kmem=%t", buggy, rel, ok, st.Kmem)
			}
		}
		if st, _ := n.Cgroup("kubepods"); st.Limit != DefaultAllocatable {
			t.Fatalf("kubepods limit %d", st.Limit)
		}
	}
}

func TestChurnCreatesBothLayouts(t *testing.T) {
	n := newNode(t, Config{Kubelet: KubeletConfig{Buggy: true}, Churn: ChurnConfig{DeletePods: -1, CreatePods: 3}})
	for range 10 {
		if err := n.Tick(); err != nil {
			t.Fatal(err)
		}
	}
	direct, qos := 0, 0
	for _, c := range n.Cgroups() {
		switch depth(c) {
		case 2:
			if c != "/kubepods/burstable" && c != "/kubepods/besteffort" {
				direct++
			}
		case 3:
			if strings.HasPrefix(c, "/kubepods/burstable/") || strings.HasPrefix(c, "/kubepods/besteffort/") {
				qos++
			}
		}
	}
	if direct == 0 || qos == 0 {
		t.Fatalf("direct %d qos %d", direct, qos)
	}
}

func depth(p string) int {
	d := 0
	for _, c := range p {
		if c == '/' {
			d++
		}
	}
	return d
}

func TestRunChurnStopsWithContext(t *testing.T) {
	n := newNode(t, Config{Kubelet: KubeletConfig{Buggy: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	n.RunChurn(ctx, time.Millisecond)
	if len(n.Cgroups()) < 4 {
		t.Fatal("no churn happened")
	}
}

func TestBuggyKubeletAccountsEveryNewCgroup(t *testing.T) {
	// Even under a clean kubepods, the buggy kubelet turns accounting on for
	// each cgroup it creates, so every deleted pod leaks.
	n := newNode(t, Config{MaxIDs: 1000, Kubelet: KubeletConfig{Buggy: true}, Churn: ChurnConfig{DeletePods: -1, CreatePods: 1}})
	if err := n.AddPods(PodsSpec{Containers: 5, Accounting: AccountingOff}); err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for _, c := range n.Cgroups() {
		before[c] = true
	}
	if err := n.Tick(); err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, c := range n.Cgroups() {
		if before[c] {
			continue
		}
		created++
		if st, _ := n.Cgroup(c); !st.Kmem {
			t.Fatalf("new cgroup %s not accounted", c)
		}
	}
	if created < 2 {
		t.Fatalf("created %d cgroups", created)
	}
	if st, _ := n.Cgroup("kubepods"); st.Kmem {
		t.Fatal("kubepods became accounted")
	}
}

func TestChurnConcurrentWithTheProcedure(t *testing.T) {
	n := newNode(t, Config{Kubelet: KubeletConfig{Buggy: true}})
	if err := n.AddPods(PodsSpec{Containers: 30, Forker: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.RunChurn(ctx, 100*time.Microsecond)
	}()
	for range 20 {
		ents, err := n.ReadDir(cg("kubepods/burstable"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() {
				// Pods come and go: a vanished one is ENOENT, nothing else.
				if _, err := n.ReadFile(cg("kubepods/burstable/" + e.Name() + "/cgroup.procs")); err != nil && !errors.Is(err, syscall.ENOENT) {
					t.Fatal(err)
				}
			}
		}
		_ = n.Processes()
	}
	cancel()
	<-done
}
