package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/transport"
)

// transportPool is the production client, configured from the fleet's
// files only, as the worker configures it.
func transportPool(t testing.TB, files Files, mutate func(*transport.Config)) *transport.Pool {
	t.Helper()
	cfg := transport.Config{
		KnownHostsFiles:  []string{files.KnownHosts},
		KeyFiles:         []string{files.ClientKey},
		HandshakeTimeout: 5 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := transport.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func target(n NodeInfo) transport.Target {
	return transport.Target{Name: n.Name, Address: n.Address, Port: n.Port, User: n.User, Arch: n.Arch, Sudo: true}
}

// installHelper puts an accepted helper build on every node directly, as a
// test shortcut for the upload the worker does through SFTP.
func installHelper(t testing.TB, f *Fleet, build []byte) {
	t.Helper()
	for _, n := range f.Nodes() {
		if err := f.Node(n.Name).MkdirAll("/usr/local/bin"); err != nil {
			t.Fatal(err)
		}
		if err := f.Node(n.Name).WriteFileAtomic(helperPath, bytesReader(build), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInspectThroughTransport runs the real helper's inspect through the
// transport pool against a buggy-kubelet node and a fixed one, and checks
// the transport's view of the faults.
func TestInspectThroughTransport(t *testing.T) {
	f, files := testFleet(t, Options{Nodes: 5, User: "kmemfix", Helper: helper.Main, Defaults: NodeSpec{Containers: 6, KubeletVersion: "1.12.3"},
		Overrides: []Override{
			{Nodes: "node-001", Set: func(s *NodeSpec) { s.KubeletVersion = "1.14.10" }},
			{Nodes: "node-002", Set: func(s *NodeSpec) { s.Faults.Unreachable = true }},
			{Nodes: "node-003", Set: func(s *NodeSpec) { s.Faults.ChangedHostKey = true }},
			{Nodes: "node-004", Set: func(s *NodeSpec) { s.Faults.AuthRefusal = true }},
		}})
	installHelper(t, f, fakeBuild)
	p := transportPool(t, files, nil)
	ctx := context.Background()
	nodes := f.Nodes()
	verdicts := map[string]string{}
	for _, n := range nodes[:2] {
		res, err := p.Exec(ctx, target(n), []string{helperPath, "inspect"}, transport.ExecOptions{})
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		var resp struct {
			node.Response
			Result node.InspectResult `json:"result"`
		}
		if err := json.Unmarshal(res.Stdout, &resp); err != nil {
			t.Fatalf("%s: exit %d stdout %q stderr %q: %v", n.Name, res.ExitCode, res.Stdout, res.Stderr, err)
		}
		if resp.Result.BootID == "" || resp.Result.Layout.Containers == 0 {
			t.Errorf("%s: inspect saw no node: %+v", n.Name, resp.Result)
		}
		verdicts[n.Name] = resp.Result.Verdict
	}
	if verdicts["node-000"] != node.VerdictAffected || verdicts["node-001"] != node.VerdictNotAffected {
		t.Errorf("verdicts %v: want node-000 affected (kubelet 1.12) and node-001 not affected (1.14)", verdicts)
	}
	for _, c := range []struct {
		node  int
		class transport.Class
	}{{2, transport.ClassUnreachable}, {3, transport.ClassHostKeyMismatch}, {4, transport.ClassAuthFailed}} {
		_, err := p.Exec(ctx, target(nodes[c.node]), []string{helperPath, "inspect"}, transport.ExecOptions{})
		var te *transport.Error
		if !errors.As(err, &te) || transport.Classify(err) != c.class {
			t.Errorf("%s: %v, want class %v", nodes[c.node].Name, err, c.class)
		}
	}
}
