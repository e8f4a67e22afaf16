package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"path"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
	"github.com/kmemfix/kmemfix/lab/layout"
	"github.com/kmemfix/kmemfix/lab/probe"
	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/sim/simnode"
)

// preservedFiles are the files the guest runner records (lab/guest/runner).
var preservedFiles = []string{
	"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
	"memory.swappiness", "memory.oom_control", "memory.move_charge_at_immigrate", "memory.use_hierarchy",
}

// TestSimulatorRunsSameScenarios builds each node scenario's node on the
// simulator, compares the values the simulator reports with those the real
// kernel reported after the same writes, runs the same helper commands in
// process against the simulator (crashing them at the same operation
// counts), and compares the end state: every process in its own relative
// path, the values the kernel ended with, no mirror left, the kubelet
// binary expected. No QEMU: the kernel's side is testdata/kernel-<name>.json,
// re-checked against the live kernel by the scenario tests.
func TestSimulatorRunsSameScenarios(t *testing.T) {
	for _, plan := range []wire.Plan{procedurePlan, interruptedPlan, compensationPlan} {
		t.Run(plan.Name, func(t *testing.T) { simScenario(t, plan) })
	}
}

func simScenario(t *testing.T, plan wire.Plan) {
	var rec KernelProcedure
	file := kernelRecordFile(plan.Name)
	readJSON(t, file, &rec)
	if !reflect.DeepEqual(rec.Plan, plan) {
		t.Fatalf("%s was recorded for another plan: rerun the scenario test with -update-kernel", file)
	}
	n := simnode.New(simnode.Config{Seed: 1, NoShims: true})
	root := simnode.DefaultCgroupRoot
	pids, refused := buildSimNode(t, n, rec.Plan)
	legacyRefusals := 0
	for _, r := range refused {
		if r.errno == "EINVAL" && inheritedOn310[r.file] {
			legacyRefusals++ // 3.10: not settable below a use_hierarchy=1 parent
			continue
		}
		t.Errorf("simulator refused a write the kernel took: %q %s=%s: %s", r.rel, r.file, r.value, r.errno)
	}
	if legacyRefusals > 0 {
		t.Logf("%d writes of %v refused with EINVAL, as 3.10 does below a use_hierarchy=1 parent (6.1 takes them): those values are compared within the simulator only",
			legacyRefusals, []string{"memory.swappiness", "memory.oom_control"})
	}
	before := simValues(t, n, path.Join(root, "kubepods"))
	if len(before) != len(rec.Before) || len(pids) == 0 {
		t.Fatalf("simulator node: %d cgroups and %d processes; the kernel's had %d cgroups", len(before), len(pids), len(rec.Before))
	}
	t.Logf("same node on the simulator: %d cgroups, %d processes, %d values compared with kernel %s",
		len(before), len(pids), countValues(withoutFiles(before, inheritedOn310)), rec.Kernel)
	for _, d := range valueDiffs(withoutFiles(rec.Before, inheritedOn310), withoutFiles(before, inheritedOn310)) {
		t.Errorf("after the same writes, simulator vs kernel %s: %s", rec.Kernel, d)
	}

	oldKubelet, err := n.ReadFile("/usr/bin/kubelet")
	if err != nil {
		t.Fatal(err)
	}
	newKubelet := simnode.KubeletBinary("v1.12.3-nokmem", false)
	if err := n.MkdirAll("/var/lib/kmemfix"); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteFileAtomic("/var/lib/kmemfix/kubelet.new", bytes.NewReader(newKubelet), 0o755); err != nil {
		t.Fatal(err)
	}
	wantKubelet := newKubelet
	steps := simSteps(sha256Hex(newKubelet))
	runs := 0
	switch plan.Kind {
	case wire.KindProcedure:
		for _, st := range steps {
			runs += simRun(t, n, st.args, 0)
		}
	case wire.KindInterrupted:
		for _, st := range steps {
			done, crashedLate := 0, false
			for _, k := range simCrashPoints(st.ops(len(before), len(pids)), plan.CrashFractions) {
				at := max(1, k-done)
				if simCrash(t, n, st.args, at) {
					done += at
					crashedLate = crashedLate || at > 1
				}
				runs++
			}
			if st.ops(len(before), len(pids)) > 10 && !crashedLate {
				t.Errorf("simulator: %v was never killed past its first operation", st.args)
			}
			runs += simRun(t, n, st.args, 0)
		}
	case wire.KindCompensation:
		for _, st := range steps[1:6] {
			runs += simRun(t, n, st.args, 0)
		}
		simCrash(t, n, []string{"restore"}, max(1, len(pids)/2))
		runs += 1 + simRun(t, n, []string{"restore"}, 0)
		simCrash(t, n, []string{"kubelet", "restore", "--binary", "/usr/bin/kubelet"}, 1)
		runs += 1 + simRun(t, n, []string{"kubelet", "restore", "--binary", "/usr/bin/kubelet"}, 0)
		runs += simRun(t, n, []string{"service", "start", "kubelet"}, 0)
		runs += simRun(t, n, []string{"finish"}, 0)
		wantKubelet = oldKubelet
	}
	t.Logf("%d helper runs on the simulator", runs)

	after := simValues(t, n, path.Join(root, "kubepods"))
	for _, d := range valueDiffs(withoutFiles(rec.After, inheritedOn310), withoutFiles(after, inheritedOn310)) {
		t.Errorf("at the end, simulator vs kernel %s: %s", rec.Kernel, d)
	}
	for _, d := range valueDiffs(before, after) {
		t.Errorf("simulator, end vs start: %s", d)
	}
	for pid, rel := range pids {
		if cg, alive := n.CgroupOf(pid); alive && cg != "/"+path.Join("kubepods", rel) {
			t.Errorf("simulator: pid %d of %q ended in %q", pid, rel, cg)
		}
	}
	if _, err := n.Stat(path.Join(root, "kubepods2")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("simulator: the mirror is still there (%v)", err)
	}
	if got, _ := n.ReadFile("/usr/bin/kubelet"); !bytes.Equal(got, wantKubelet) {
		t.Errorf("simulator: /usr/bin/kubelet is %q, want %q", got, wantKubelet)
	}
}

// simStep mirrors the guest runner's procedure steps and its estimates of
// their mutating operations (lab/guest/runner/scenario.go).
type simStep struct {
	args []string
	ops  func(dirs, procs int) int
}

func simSteps(sha string) []simStep {
	fixed := func(n int) func(int, int) int { return func(int, int) int { return n } }
	return []simStep{
		{[]string{"inspect"}, fixed(0)},
		{[]string{"service", "stop", "kubelet"}, fixed(2)},
		{[]string{"kubelet", "swap", "--binary", "/usr/bin/kubelet", "--new", "/var/lib/kmemfix/kubelet.new", "--sha256", sha}, fixed(3)},
		{[]string{"snapshot"}, fixed(2)},
		{[]string{"mirror"}, func(d, _ int) int { return 1 + 7*d }},
		{[]string{"move"}, func(_, p int) int { return p }},
		{[]string{"commit"}, func(d, _ int) int { return 2 * d }},
		{[]string{"rebuild"}, func(d, p int) int { return 10*d + p }},
		{[]string{"service", "start", "kubelet"}, fixed(2)},
		{[]string{"run-commands", "--argv", `["systemctl","restart","cadvisor"]`}, fixed(1)},
		{[]string{"verify"}, fixed(0)},
		{[]string{"finish"}, fixed(0)},
	}
}

func simCrashPoints(total int, fractions []float64) []int {
	if total == 0 {
		return nil
	}
	var out []int
	for _, f := range fractions {
		k := max(1, int(f*float64(total)+0.5))
		if len(out) == 0 || k > out[len(out)-1] {
			out = append(out, k)
		}
	}
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func countValues(t map[string]wire.Values) int {
	n := 0
	for _, v := range t {
		n += len(v)
	}
	return n
}

// buildSimNode builds the planned node on the simulator (its kubelet has
// already made kubepods and the QoS levels) and returns the pid -> relative
// path of every process it started, and the writes it refused.
// inheritedOn310 are the files 3.10 does not let a cgroup below a
// use_hierarchy=1 parent set (they are inherited at creation), while 6.1
// does: testdata/legacy-3.10.json, probes swappiness-0 and oom-control-1.
var inheritedOn310 = map[string]bool{"memory.swappiness": true, "memory.oom_control": true}

// refusal is a write the simulator refused while building a node.
type refusal struct{ rel, file, value, errno string }

func withoutFiles(t map[string]wire.Values, skip map[string]bool) map[string]wire.Values {
	out := make(map[string]wire.Values, len(t))
	for rel, v := range t {
		w := wire.Values{}
		for f, val := range v {
			if !skip[f] {
				w[f] = val
			}
		}
		out[rel] = w
	}
	return out
}

func buildSimNode(t *testing.T, n *simnode.Node, plan wire.Plan) (map[int]string, []refusal) {
	t.Helper()
	s := plan.Node
	lay := layout.Plan(layout.Sizes{BurstablePods: s.BurstablePods, BestEffortPods: s.BestEffortPods,
		GuaranteedPods: s.GuaranteedPods, ContainersPerPod: s.ContainersPerPod}, plan.Seed)
	root := simnode.DefaultCgroupRoot
	pids := map[int]string{}
	var refused []refusal
	for _, cg := range lay.Cgroups {
		dir := path.Join(root, "kubepods", cg.Rel)
		if err := n.Mkdir(dir); err != nil && !errors.Is(err, syscall.EEXIST) {
			t.Fatalf("simulator: mkdir %q: %v", dir, err)
		}
		for _, v := range cg.Values {
			if err := n.WriteFile(path.Join(dir, v[0]), []byte(v[1])); err != nil {
				refused = append(refused, refusal{cg.Rel, v[0], v[1], probe.Errno(err)})
			}
		}
		for _, role := range cg.Procs {
			pid, err := n.Spawn(path.Join("kubepods", cg.Rel), simProc(role, s))
			if err != nil {
				t.Fatalf("simulator: spawn %s in %q: %v", role, cg.Rel, err)
			}
			pids[pid] = cg.Rel
		}
	}
	return pids, refused
}

// simProc is the simulator's stand-in for a container process of a role.
func simProc(role string, s wire.Node) simnode.ProcSpec {
	switch role {
	case layout.RoleHog:
		return simnode.ProcSpec{Name: role, Anon: int64(s.HogMiB) << 20}
	case layout.RoleCache, layout.RoleTmpfs:
		return simnode.ProcSpec{Name: role, Anon: 2 << 20, File: int64(s.CacheMiB) << 20}
	case layout.RoleThreads:
		return simnode.ProcSpec{Name: role, Threads: s.Threads, Anon: 2 << 20}
	case layout.RoleForker:
		return simnode.ProcSpec{Name: role, Anon: 2 << 20, ForkEvery: 7}
	}
	return simnode.ProcSpec{Name: role, Anon: 128 << 10}
}

// simValues reads the preserved values of every cgroup under top.
func simValues(t *testing.T, n *simnode.Node, top string) map[string]wire.Values {
	t.Helper()
	out := map[string]wire.Values{}
	var walk func(dir, rel string)
	walk = func(dir, rel string) {
		v := wire.Values{}
		for _, f := range preservedFiles {
			b, err := n.ReadFile(path.Join(dir, f))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatalf("simulator: read %s/%s: %v", dir, f, err)
			}
			val := strings.TrimSpace(string(b))
			if f == "memory.oom_control" {
				val = oomKillDisable(val)
			}
			v[f] = val
		}
		out[rel] = v
		ents, err := n.ReadDir(dir)
		if err != nil {
			t.Fatalf("simulator: readdir %s: %v", dir, err)
		}
		for _, e := range ents {
			if e.IsDir() {
				walk(path.Join(dir, e.Name()), path.Join(rel, e.Name()))
			}
		}
	}
	walk(top, "")
	return out
}

func oomKillDisable(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill_disable "); ok {
			return v
		}
	}
	return "?"
}

// simRun runs one helper command in process against the simulator; it has
// to succeed. It returns 1 (one run).
func simRun(t *testing.T, sys node.System, args []string, _ int) int {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := helper.Main(context.Background(), args, nil, &stdout, &stderr, sys)
	var resp node.Response
	_ = json.Unmarshal(stdout.Bytes(), &resp)
	if code != 0 || !resp.OK {
		t.Fatalf("simulator: kmemfix-node %s: exit %d: %.2000s %.500s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	return 1
}

// simCrash runs a helper command with --crash-after-ops k in process and
// tells whether it died (the helper.Crash panic the binary turns into exit
// 137); otherwise the command had fewer operations and must have succeeded.
func simCrash(t *testing.T, sys node.System, args []string, k int) (crashed bool) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := -1
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(helper.Crash); !ok {
					panic(r)
				}
				crashed = true
			}
		}()
		code = helper.Main(context.Background(), append([]string{"--crash-after-ops", strconv.Itoa(k)}, args...), nil, &stdout, &stderr, sys)
	}()
	if !crashed && code != 0 {
		t.Fatalf("simulator: kmemfix-node --crash-after-ops %d %s: exit %d: %.2000s", k, strings.Join(args, " "), code, stdout.String())
	}
	return crashed
}
