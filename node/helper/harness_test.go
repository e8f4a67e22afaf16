package helper_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/sim/simnode"
)

// The replacement kubelet every test stages, and its sha256.
var (
	fixedKubelet    = simnode.KubeletBinary("v1.12.3-nokmem", false)
	fixedKubeletSHA = sha256Hex(fixedKubelet)
)

const stagedKubelet = "/var/lib/kmemfix/kubelet.new"

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// newNode is a buggy-kubelet node with its pods and the fixed kubelet
// already staged.
func newNode(t testing.TB, spec simnode.PodsSpec) *simnode.Node {
	t.Helper()
	n := simnode.New(simnode.Config{Kubelet: simnode.KubeletConfig{Buggy: true}, Stap: true, Seed: 7})
	if err := n.AddPods(spec); err != nil {
		t.Fatalf("populate: %v", err)
	}
	stage(t, n)
	return n
}

// stage puts the replacement kubelet where the workflow uploads it.
func stage(t testing.TB, n *simnode.Node) {
	t.Helper()
	if err := n.MkdirAll("/var/lib/kmemfix"); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteFileAtomic(stagedKubelet, bytes.NewReader(fixedKubelet), 0o755); err != nil {
		t.Fatal(err)
	}
}

// result of one helper run.
type result struct {
	exit int
	resp node.Response
	raw  string
}

// run runs the helper in-process as the fleet does. A simnode.Crash panic
// (the helper process dying mid-step) is returned as crashed=true.
func run(t testing.TB, sys node.System, args ...string) (r result, crashed bool) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	func() {
		defer func() {
			if p := recover(); p != nil {
				switch p.(type) {
				case simnode.Crash, helper.Crash:
					crashed = true
					return
				}
				panic(p)
			}
		}()
		r.exit = helper.Main(context.Background(), args, nil, &stdout, &stderr, sys)
	}()
	if crashed {
		return r, true
	}
	r.raw = stdout.String()
	if err := json.Unmarshal(stdout.Bytes(), &r.resp); err != nil {
		t.Fatalf("kmemfix-node %s: stdout is not one JSON response: %v\n%s", strings.Join(args, " "), err, r.raw)
	}
	return r, false
}

// must runs a step that has to succeed.
func must(t testing.TB, sys node.System, args ...string) result {
	t.Helper()
	r, crashed := run(t, sys, args...)
	if crashed {
		t.Fatalf("kmemfix-node %s crashed", strings.Join(args, " "))
	}
	if r.exit != 0 || !r.resp.OK {
		t.Fatalf("kmemfix-node %s: exit %d: %.2000s", strings.Join(args, " "), r.exit, r.raw)
	}
	return r
}

// procedure is the forward path, in order, as the workflow runs it.
var procedure = [][]string{
	{"service", "stop", "kubelet"},
	{"kubelet", "swap", "--binary", "/usr/bin/kubelet", "--new", stagedKubelet, "--sha256", fixedKubeletSHA},
	{"snapshot"},
	{"mirror"},
	{"move"},
	{"commit"},
	{"rebuild"},
	{"service", "start", "kubelet", "--healthz", simnode.HealthzURL},
	{"run-commands", "--argv", `["systemctl","restart","cadvisor"]`},
	{"verify"},
	{"finish"},
}

// stepsBeforeCommit is how many procedure steps precede commit.
const stepsBeforeCommit = 5

// placement is where every process is: pid -> memory cgroup.
type placement map[int]string

func placementOf(n *simnode.Node) placement {
	out := placement{}
	for _, p := range n.Processes() {
		out[p.Pid] = p.Cgroup
	}
	return out
}

// values is every preserved value of every cgroup under a prefix, keyed by
// the path relative to that prefix.
func valuesUnder(n *simnode.Node, prefix string) map[string]simnode.CgroupState {
	out := map[string]simnode.CgroupState{}
	for _, p := range n.Cgroups() {
		if p != prefix && !strings.HasPrefix(p, prefix+"/") {
			continue
		}
		s, _ := n.Cgroup(p)
		rel := strings.TrimPrefix(p, prefix)
		s.Path, s.ID, s.Kmem, s.Usage, s.Tasks = rel, 0, false, 0, 0
		out[rel] = s
	}
	return out
}

// before is the node's state that must survive the procedure.
type before struct {
	place  placement
	values map[string]simnode.CgroupState
	binary string
	leaked int
}

func capture(t testing.TB, n *simnode.Node) before {
	t.Helper()
	bin, err := n.ReadFile("/usr/bin/kubelet")
	if err != nil {
		t.Fatal(err)
	}
	return before{place: placementOf(n), values: valuesUnder(n, "/kubepods"), binary: sha256Hex(bin), leaked: n.LeakedIDs()}
}

// checkInvariants asserts what must hold when a node workflow ends:
// every process that is still alive sits where it was (no process lost
// or misplaced), every preserved value is equal, no mirror is left, and
// the kubelet runs (with wantBinary).
func checkInvariants(t testing.TB, n *simnode.Node, b before, wantBinary string) {
	t.Helper()
	var problems []string
	now := placementOf(n)
	for pid, was := range b.place {
		if is, alive := now[pid]; alive && is != was {
			problems = append(problems, fmt.Sprintf("pid %d moved from %s to %s", pid, was, is))
		}
	}
	for pid, is := range now {
		if _, known := b.place[pid]; !known && strings.HasPrefix(is, "/kubepods2") {
			problems = append(problems, fmt.Sprintf("new pid %d left in %s", pid, is))
		}
	}
	after := valuesUnder(n, "/kubepods")
	for rel, was := range b.values {
		is, ok := after[rel]
		if !ok {
			problems = append(problems, fmt.Sprintf("cgroup /kubepods%s is gone", rel))
			continue
		}
		if is != was {
			problems = append(problems, fmt.Sprintf("cgroup /kubepods%s changed:\n  was %+v\n  is  %+v", rel, was, is))
		}
	}
	if _, ok := n.Cgroup("/kubepods2"); ok {
		problems = append(problems, "mirror /kubepods2 left behind")
	}
	if s := n.ServiceState("kubelet"); s != "active" {
		problems = append(problems, "kubelet is "+s)
	}
	if bin, _ := n.ReadFile("/usr/bin/kubelet"); sha256Hex(bin) != wantBinary {
		problems = append(problems, "kubelet binary is not the expected one")
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("... and %d more", len(problems)-10))
		}
		t.Fatalf("invariants broken:\n%s", strings.Join(problems, "\n"))
	}
}

// checkNotAccounted asserts no cgroup under kubepods is kmem-accounted.
func checkNotAccounted(t testing.TB, n *simnode.Node) {
	t.Helper()
	for _, p := range n.Cgroups() {
		if s, _ := n.Cgroup(p); strings.HasPrefix(p, "/kubepods") && s.Kmem {
			t.Fatalf("%s is still kmem-accounted", p)
		}
	}
}
