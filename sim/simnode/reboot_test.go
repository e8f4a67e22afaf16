package simnode

import (
	"strings"
	"testing"
)

func TestReboot(t *testing.T) {
	n := newNode(t, Config{Kubelet: KubeletConfig{Buggy: true}, Stap: true})
	if err := n.AddPods(PodsSpec{Containers: 10, LeakIDs: 500, Forker: true}); err != nil {
		t.Fatal(err)
	}
	if err := n.MkdirAll("/var/lib/kmemfix"); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteFileAtomic("/var/lib/kmemfix/journal.json", strings.NewReader("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Lock("/var/lib/kmemfix/lock"); err != nil {
		t.Fatal(err)
	}
	boot, cgroups := n.BootID(), n.Cgroups()
	n.Reboot()
	if n.BootID() == boot {
		t.Fatal("boot id unchanged")
	}
	if n.LeakedIDs() != 0 || n.IDsInUse() != len(cgroups) {
		t.Fatalf("leaked %d in use %d, want 0 and %d", n.LeakedIDs(), n.IDsInUse(), len(cgroups))
	}
	if got := n.Cgroups(); strings.Join(got, "\n") != strings.Join(cgroups, "\n") {
		t.Fatalf("tree after reboot differs:\n%v\n%v", got, cgroups)
	}
	if st, _ := n.Cgroup("kubepods"); !st.Kmem {
		t.Fatal("the buggy kubelet's kubepods is not accounted after reboot")
	}
	if b, err := n.ReadFile("/var/lib/kmemfix/journal.json"); err != nil || string(b) != "{}" {
		t.Fatalf("disk lost: %q %v", b, err)
	}
	if _, err := n.Lock("/var/lib/kmemfix/lock"); err != nil {
		t.Fatal("lock survived the reboot")
	}
	forker := false
	for _, p := range n.Processes() {
		forker = forker || p.Forker
	}
	if !forker {
		t.Fatal("forker not recreated")
	}

	// With the fixed kubelet installed, the rebooted node is clean.
	if err := n.WriteFileAtomic("/usr/bin/kubelet", strings.NewReader(string(KubeletBinary("v1.12.3", false))), 0o755); err != nil {
		t.Fatal(err)
	}
	n.Reboot()
	for _, c := range n.Cgroups() {
		if st, _ := n.Cgroup(c); st.Kmem {
			t.Fatalf("%s accounted after reboot with the fixed kubelet", c)
		}
	}
	if !n.RunningKubelet().Running {
		t.Fatal("kubelet not started at boot")
	}

	// A disabled kubelet does not start: no kubepods until it is started.
	n.SetEnabled("kubelet", false)
	n.Reboot()
	if _, ok := n.Cgroup("kubepods"); ok || n.ServiceState("kubelet") != "inactive" {
		t.Fatal("disabled kubelet started at boot")
	}
	run(t, n, "systemctl", "start", "kubelet")
	if got := len(n.Cgroups()); got != len(cgroups) {
		t.Fatalf("pods not back after start: %d cgroups, want %d", got, len(cgroups))
	}
}
