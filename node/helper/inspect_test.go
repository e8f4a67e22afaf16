package helper_test

import (
	"strings"
	"testing"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/sim/simnode"
)

func inspectNode(t *testing.T, n *simnode.Node) node.InspectResult {
	t.Helper()
	var ir node.InspectResult
	decode(t, must(t, n, "inspect"), &ir)
	return ir
}

// TestInspectVerdicts covers each verdict and the reasons behind it.
func TestInspectVerdicts(t *testing.T) {
	tests := []struct {
		name    string
		cfg     simnode.Config
		spec    simnode.PodsSpec
		prepare func(*simnode.Node)
		verdict string
		reason  string
	}{
		{name: "affected", cfg: simnode.Config{Kubelet: simnode.KubeletConfig{Buggy: true}, Stap: true},
			spec: simnode.PodsSpec{Containers: 20, LeakIDs: 5000}, verdict: node.VerdictAffected, reason: "the procedure fits"},
		{name: "headroom unknown without systemtap", cfg: simnode.Config{Kubelet: simnode.KubeletConfig{Buggy: true}},
			spec: simnode.PodsSpec{Containers: 20}, verdict: node.VerdictAffected, reason: "policy decides"},
		{name: "not affected: fixed kubelet", cfg: simnode.Config{Stap: true},
			spec: simnode.PodsSpec{Containers: 20}, verdict: node.VerdictNotAffected, reason: "EIO"},
		{name: "needs reboot: ids nearly gone", cfg: simnode.Config{Kubelet: simnode.KubeletConfig{Buggy: true}, Stap: true},
			spec: simnode.PodsSpec{Containers: 100, LeakIDs: 65000}, verdict: node.VerdictNeedsReboot, reason: "reboot this node"},
		{name: "needs reboot: mkdir ENOSPC without systemtap", cfg: simnode.Config{Kubelet: simnode.KubeletConfig{Buggy: true}, MaxIDs: 400},
			spec:    simnode.PodsSpec{Containers: 20},
			prepare: func(n *simnode.Node) { _ = n.LeakIDs(n.FreeIDs()) },
			verdict: node.VerdictNeedsReboot, reason: "only 0 css ids are free"},
		{name: "unsupported: modern kernel", cfg: simnode.Config{Kernel: "6.1.0-27-amd64", Kubelet: simnode.KubeletConfig{Buggy: true}},
			spec: simnode.PodsSpec{Containers: 5}, verdict: node.VerdictUnsupported, reason: "not a 3.10-generation kernel"},
		{name: "unsupported: memory not mounted", cfg: simnode.Config{Unmounted: true},
			verdict: node.VerdictUnsupported, reason: "not a cgroup v1 memory mount"},
		{name: "unsupported: systemd driver", cfg: simnode.Config{Kubelet: simnode.KubeletConfig{Buggy: true}},
			prepare: func(n *simnode.Node) { _ = n.Mkdir("/sys/fs/cgroup/memory/kubepods.slice") },
			verdict: node.VerdictUnsupported, reason: "systemd cgroup driver"},
		{name: "unsupported: vm.swappiness changed since kubepods was created", cfg: simnode.Config{Kubelet: simnode.KubeletConfig{Buggy: true}, Stap: true},
			spec: simnode.PodsSpec{Containers: 5}, prepare: func(n *simnode.Node) { n.SetVMSwappiness(10) },
			verdict: node.VerdictUnsupported, reason: "sysctl vm.swappiness=60"},
		{name: "not affected: no kubepods", cfg: simnode.Config{Stap: true},
			verdict: node.VerdictNotAffected, reason: "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := simnode.New(tt.cfg)
			if tt.spec.Containers > 0 {
				if err := n.AddPods(tt.spec); err != nil {
					t.Fatal(err)
				}
			}
			if tt.prepare != nil {
				tt.prepare(n)
			}
			ir := inspectNode(t, n)
			if ir.Verdict != tt.verdict {
				t.Fatalf("verdict %s, want %s: %v", ir.Verdict, tt.verdict, ir.Reasons)
			}
			if !strings.Contains(strings.Join(ir.Reasons, "\n"), tt.reason) {
				t.Fatalf("reasons %q do not say %q", ir.Reasons, tt.reason)
			}
		})
	}
}

// TestInspectReadsTheNode checks the figures inspect reports against the
// simulated kernel's own counts.
func TestInspectReadsTheNode(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 60, LeakIDs: 3000})
	ir := inspectNode(t, n)
	if ir.IDsInUse != n.IDsInUse() || ir.LiveMemcgs != n.LiveCgroups() || ir.LeakedIDs != n.LeakedIDs() {
		t.Fatalf("ids %d live %d leaked %d; kernel says %d %d %d", ir.IDsInUse, ir.LiveMemcgs, ir.LeakedIDs, n.IDsInUse(), n.LiveCgroups(), n.LeakedIDs())
	}
	if ir.Headroom.Available != node.MaxCSSIDs-n.IDsInUse() || ir.Headroom.Required != 2*ir.SubtreeDirs+256 {
		t.Fatalf("headroom %+v for %d dirs and %d ids in use", ir.Headroom, ir.SubtreeDirs, n.IDsInUse())
	}
	if ir.Layout.Containers == 0 || ir.Layout.QoSPods == 0 || ir.Layout.DirectPods == 0 {
		t.Fatalf("layout %+v: both layouts expected", ir.Layout)
	}
	if ir.Kubelet.State != "active" || ir.Kubelet.SHA256 == "" || !strings.Contains(ir.Kubelet.Version, "v1.12.3") {
		t.Fatalf("kubelet %+v", ir.Kubelet)
	}
	if ir.BootID != n.BootID() || ir.MkdirProbe != "ok" || ir.KernelGeneration != node.KernelLegacy {
		t.Fatalf("boot %s probe %s generation %s", ir.BootID, ir.MkdirProbe, ir.KernelGeneration)
	}
	if n.IDsInUse() != ir.IDsInUse {
		t.Fatal("the mkdir probe leaked an id")
	}
}
