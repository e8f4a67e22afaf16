package helper_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/sim/simnode"
)

// TestProcedureEndToEnd runs the whole procedure on simulated nodes of
// 1, 100 and 1,000 containers in every layout: afterwards no process is lost
// or misplaced, every preserved value is equal, kubepods is not accounted and
// kubelet runs the new binary.
func TestProcedureEndToEnd(t *testing.T) {
	layouts := map[string]simnode.Layout{"both": simnode.LayoutBoth, "qos": simnode.LayoutQoS, "direct": simnode.LayoutDirect}
	for _, size := range []int{1, 100, 1000} {
		for name, layout := range layouts {
			t.Run(fmt.Sprintf("%d-%s", size, name), func(t *testing.T) {
				if size == 1000 && testing.Short() {
					t.Skip("1,000 containers: skipped with -short")
				}
				n := newNode(t, simnode.PodsSpec{Containers: size, Layout: layout, Forker: size > 1, LeakIDs: 1000})
				insp := must(t, n, "inspect")
				var ir node.InspectResult
				decode(t, insp, &ir)
				if ir.Verdict != node.VerdictAffected {
					t.Fatalf("verdict %s, want affected: %v", ir.Verdict, ir.Reasons)
				}
				b := capture(t, n)
				for _, step := range procedure {
					must(t, n, step...)
				}
				checkInvariants(t, n, b, fixedKubeletSHA)
				checkNotAccounted(t, n)
				if got := n.RunningKubelet(); got.Kmem {
					t.Fatalf("running kubelet still writes kmem limits: %+v", got)
				}
				after := must(t, n, "inspect")
				decode(t, after, &ir)
				if ir.Verdict != node.VerdictNotAffected || ir.Phase != node.PhaseIdle {
					t.Fatalf("after remediation: verdict %s phase %s: %v", ir.Verdict, ir.Phase, ir.Reasons)
				}
			})
		}
	}
}

// TestProcedureHostileNames runs the procedure over cgroup names made of
// shell syntax, spaces, quotes and control characters: they are data.
func TestProcedureHostileNames(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 40, Hostile: true, Forker: true})
	b := capture(t, n)
	hostile := 0
	for _, pl := range b.place {
		for _, h := range simnode.HostileNames {
			if strings.Contains(pl, h) {
				hostile++
				break
			}
		}
	}
	if hostile == 0 {
		t.Fatal("the population has no process in a hostile-named cgroup: the test proves nothing")
	}
	for _, step := range procedure {
		must(t, n, step...)
	}
	checkInvariants(t, n, b, fixedKubeletSHA)
}

// TestProcedureRepeatable runs every step twice in a row: the second run of
// each converges without changing anything.
func TestProcedureRepeatable(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 30})
	b := capture(t, n)
	for _, step := range procedure[:len(procedure)-1] {
		must(t, n, step...)
		must(t, n, step...)
	}
	must(t, n, "finish")
	checkInvariants(t, n, b, fixedKubeletSHA)
}

func decode(t testing.TB, r result, into any) {
	t.Helper()
	var env struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal([]byte(r.raw), &env); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(env.Result, into); err != nil {
		t.Fatal(err)
	}
}

// TestProcedureWithoutRootHierarchy runs on a node whose root memory cgroup
// has use_hierarchy=0: there 3.10 lets containers carry their own
// swappiness and oom_kill_disable, which the mirror and the rebuild must
// set before any process moves in.
func TestProcedureWithoutRootHierarchy(t *testing.T) {
	n := simnode.New(simnode.Config{RootNoHierarchy: true, Kubelet: simnode.KubeletConfig{Buggy: true}, Stap: true, Seed: 3})
	if err := n.AddPods(simnode.PodsSpec{Containers: 120, Forker: true}); err != nil {
		t.Fatal(err)
	}
	stage(t, n)
	b := capture(t, n)
	swappiness, oom := map[int]bool{}, 0
	for _, s := range b.values {
		swappiness[s.Swappiness] = true
		if s.OOMKillDisable {
			oom++
		}
	}
	if len(swappiness) < 2 || oom == 0 {
		t.Fatalf("the population has %d swappiness values and %d oom-disabled cgroups: the test proves nothing", len(swappiness), oom)
	}
	for _, step := range procedure {
		must(t, n, step...)
	}
	checkInvariants(t, n, b, fixedKubeletSHA)
}
