package fleet

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/transport"
)

// helperCall runs the real helper through the transport and decodes its
// response.
func helperCall(t *testing.T, p *transport.Pool, tg transport.Target, args ...string) (transport.Result, node.Response) {
	t.Helper()
	res, err := p.Exec(context.Background(), tg, append([]string{helperPath}, args...), transport.ExecOptions{})
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	var resp node.Response
	if err := json.Unmarshal(res.Stdout, &resp); err != nil {
		t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, res.ExitCode, res.Stdout, res.Stderr)
	}
	return res, resp
}

// TestHelperSeesNodeFaults: the node-side knobs reach the real helper as
// it would meet them on a node.
func TestHelperSeesNodeFaults(t *testing.T) {
	f, files := testFleet(t, Options{Nodes: 4, Helper: helper.Main, Defaults: NodeSpec{Containers: 5, KubeletVersion: "1.12.3"},
		Overrides: []Override{
			{Nodes: "node-000", Set: func(s *NodeSpec) { s.Faults.KubeletFailsStart = true }},
			{Nodes: "node-001", Set: func(s *NodeSpec) { s.Exhausted = true }},
			{Nodes: "node-002", Set: func(s *NodeSpec) { s.Faults.MkdirENOSPC = 1 }},
			{Nodes: "node-003", Set: func(s *NodeSpec) { s.Faults.RebootAfterExec = 1 }},
		}})
	installHelper(t, f, fakeBuild)
	p := transportPool(t, files, nil)
	nodes := f.Nodes()

	t.Run("kubelet fails to start", func(t *testing.T) {
		tg := target(nodes[0])
		helperCall(t, p, tg, "service", "stop", "kubelet")
		res, resp := helperCall(t, p, tg, "service", "start", "kubelet")
		if res.ExitCode == 0 || resp.OK || resp.Error == nil || resp.Error.Code != node.CodeService {
			t.Errorf("service start kubelet: exit %d %+v, want a %q error", res.ExitCode, resp.Error, node.CodeService)
		}
	})
	t.Run("exhausted needs a reboot", func(t *testing.T) {
		var r node.InspectResult
		_, resp := helperCall(t, p, target(nodes[1]), "inspect")
		remarshal(t, resp.Result, &r)
		if r.Verdict != node.VerdictNeedsReboot || r.MkdirProbe != "enospc" {
			t.Errorf("inspect: verdict %q probe %q, want %q and enospc", r.Verdict, r.MkdirProbe, node.VerdictNeedsReboot)
		}
	})
	t.Run("mkdir ENOSPC", func(t *testing.T) {
		var r node.InspectResult
		_, resp := helperCall(t, p, target(nodes[2]), "inspect")
		remarshal(t, resp.Result, &r)
		if r.MkdirProbe != "enospc" {
			t.Errorf("inspect mkdir probe %q, want enospc", r.MkdirProbe)
		}
	})
	t.Run("reboot after the first exec", func(t *testing.T) {
		tg := target(nodes[3])
		_, first := helperCall(t, p, tg, "inspect")
		if first.BootID == "" {
			var r node.InspectResult
			remarshal(t, first.Result, &r)
			first.BootID = r.BootID
		}
		res, resp := helperCall(t, p, tg, "--boot-id", first.BootID, "snapshot")
		if res.ExitCode != node.ExitRefused || resp.Error == nil || resp.Error.Code != node.CodeRebooted {
			t.Errorf("snapshot with the old boot id: exit %d %+v, want %q", res.ExitCode, resp.Error, node.CodeRebooted)
		}
		if got := f.Node(tg.Name).BootID(); got == first.BootID {
			t.Error("boot id unchanged")
		}
	})
}

// TestHelperCrashIsAKilledProcess: a helper dying mid-step (the test flag
// --crash-after-ops) exits 137 and leaves the node lock free, as a killed
// process does, and the fleet goes on serving.
func TestHelperCrashIsAKilledProcess(t *testing.T) {
	f, files := testFleet(t, Options{Helper: helper.Main, Defaults: NodeSpec{Containers: 5, KubeletVersion: "1.12.3"}})
	installHelper(t, f, fakeBuild)
	p := transportPool(t, files, nil)
	tg := target(f.Nodes()[0])
	for _, step := range [][]string{{"service", "stop", "kubelet"}, {"snapshot"}} {
		if res, resp := helperCall(t, p, tg, step...); res.ExitCode != 0 {
			t.Fatalf("%v: exit %d %+v", step, res.ExitCode, resp.Error)
		}
	}
	res, err := p.Exec(context.Background(), tg, []string{helperPath, "--crash-after-ops", "3", "mirror"}, transport.ExecOptions{})
	if err != nil || res.ExitCode != 137 {
		t.Fatalf("crashing mirror: exit %d stderr %q %v, want exit 137", res.ExitCode, res.Stderr, err)
	}
	res2, resp := helperCall(t, p, tg, "mirror")
	if res2.ExitCode != 0 || !resp.OK {
		t.Errorf("mirror after the crash: exit %d %+v (the lock must be free, the step idempotent)", res2.ExitCode, resp.Error)
	}
}

func remarshal(t *testing.T, from, to any) {
	t.Helper()
	b, err := json.Marshal(from)
	if err == nil {
		err = json.Unmarshal(b, to)
	}
	if err != nil {
		t.Fatal(err)
	}
}
