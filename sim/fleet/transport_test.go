package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
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

// TestTransportSeesNetworkFaults: a node that never finishes the handshake
// and one that cuts the connection mid-command are retryable
// (unreachable) for the transport, and the cut command did run.
func TestTransportSeesNetworkFaults(t *testing.T) {
	f, files := testFleet(t, Options{Nodes: 2, Overrides: []Override{
		{Nodes: "node-000", Set: func(s *NodeSpec) { s.Faults.HandshakeHang = true }},
		{Nodes: "node-001", Set: func(s *NodeSpec) { s.Faults.DropExec = 1 }},
	}})
	p := transportPool(t, files, func(c *transport.Config) { c.HandshakeTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	nodes := f.Nodes()
	_, err := p.Exec(ctx, target(nodes[0]), []string{"true"}, transport.ExecOptions{})
	if transport.Classify(err) != transport.ClassUnreachable || !transport.Classify(err).Retryable() {
		t.Errorf("hanging handshake: %v, want retryable unreachable", err)
	}
	_, err = p.Exec(ctx, target(nodes[1]), []string{"mkdir", "-p", "/var/lib/kmemfix/cut"}, transport.ExecOptions{})
	if !errors.Is(err, transport.ErrConnectionLost) || transport.Classify(err) != transport.ClassUnreachable {
		t.Errorf("connection cut mid-command: %v, want ErrConnectionLost", err)
	}
	if _, err := f.Node(nodes[1].Name).Stat("/var/lib/kmemfix/cut"); err != nil {
		t.Errorf("the cut command did not run: %v", err)
	}
	if res, err := p.Exec(ctx, target(nodes[1]), []string{"true"}, transport.ExecOptions{}); err != nil || res.ExitCode != 0 {
		t.Errorf("the next call (a new connection): %+v %v", res, err)
	}
}

// TestUploadThroughTransport: the transport's Upload, over SFTP for root
// and through sudo dd for a sudo user, lands an accepted helper that then
// runs; a second upload is skipped; a wrong build never runs.
func TestUploadThroughTransport(t *testing.T) {
	for _, user := range []string{"root", "kmemfix"} {
		t.Run(user, func(t *testing.T) {
			f, files := testFleet(t, Options{User: user})
			p := transportPool(t, files, nil)
			ctx := context.Background()
			tg := target(f.Nodes()[0])
			if err := f.Node(tg.Name).MkdirAll("/opt/kmemfix"); err != nil {
				t.Fatal(err)
			}
			req := transport.UploadRequest{Content: bytesReaderAt(fakeBuild), Size: int64(len(fakeBuild)), RemotePath: "/opt/kmemfix/kmemfix-node", Mode: 0o755}
			res, err := p.Upload(ctx, tg, req)
			if err != nil || res.Skipped || res.SHA256 != sum(fakeBuild) {
				t.Fatalf("upload: %+v %v", res, err)
			}
			t.Logf("upload: %+v", res)
			again, err := p.Upload(ctx, tg, req)
			if err != nil || !again.Skipped {
				t.Errorf("second upload: %+v %v, want skipped", again, err)
			}
			out, err := p.Exec(ctx, tg, []string{req.RemotePath, "echo", "ok"}, transport.ExecOptions{})
			if err != nil || out.ExitCode != 0 || string(out.Stdout) != "[\"ok\"]\n" {
				t.Errorf("exec after upload: %+v %v", out, err)
			}
			wrong := []byte("#!/bin/sh\nexit 0\n")
			req = transport.UploadRequest{Content: bytesReaderAt(wrong), Size: int64(len(wrong)), RemotePath: "/opt/kmemfix/other", Mode: 0o755}
			if _, err := p.Upload(ctx, tg, req); err != nil {
				t.Fatal(err)
			}
			out, err = p.Exec(ctx, tg, []string{req.RemotePath, "echo"}, transport.ExecOptions{})
			if err != nil || out.ExitCode != 126 {
				t.Errorf("exec of a wrong build: %+v %v, want exit 126", out, err)
			}
			entries, _ := f.Node(tg.Name).ReadDir("/opt/kmemfix")
			if len(entries) != 2 {
				t.Errorf("temporary files left behind: %v", entries)
			}
		})
	}
}

// TestHostileArgvThroughTransport: the transport's quoting and the node's
// parsing agree byte for byte, with and without sudo.
func TestHostileArgvThroughTransport(t *testing.T) {
	f, files := testFleet(t, Options{User: "kmemfix"})
	installHelper(t, f, fakeBuild)
	p := transportPool(t, files, nil)
	argv := hostileArgv()
	argv[0] = "echo"
	argv = slices.DeleteFunc(argv, func(s string) bool { return strings.ContainsRune(s, 0) })
	for _, sudo := range []bool{true, false} {
		tg := target(f.Nodes()[0])
		tg.Sudo = sudo
		res, err := p.Exec(context.Background(), tg, append([]string{helperPath}, argv...), transport.ExecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !sudo {
			if res.ExitCode != 1 || !strings.Contains(string(res.Stderr), "needs root") {
				t.Errorf("without sudo: %+v", res)
			}
			continue
		}
		var got []string
		if err := json.Unmarshal(res.Stdout, &got); err != nil || !slices.Equal(got, argv[1:]) {
			t.Errorf("helper got %q (%v), want %q", got, err, argv[1:])
		}
	}
}

// TestCancelThroughTransport: canceling the caller's context stops the
// command on the node (the transport kills its process group) and returns.
func TestCancelThroughTransport(t *testing.T) {
	f, files := testFleet(t, Options{User: "kmemfix"})
	installHelper(t, f, fakeBuild)
	p := transportPool(t, files, func(c *transport.Config) { c.CancelGrace = 5 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	var lines []string
	var mu sync.Mutex
	started := make(chan struct{})
	go func() { <-started; cancel() }()
	res, err := p.Exec(ctx, target(f.Nodes()[0]), []string{helperPath, "wait"}, transport.ExecOptions{StderrLine: func(s string) {
		mu.Lock()
		lines = append(lines, s)
		mu.Unlock()
	}, Stdin: startedReader{started}})
	if transport.Classify(err) != transport.ClassCanceled {
		t.Fatalf("Exec: %+v %v, want canceled", res, err)
	}
	h := f.byName[f.Nodes()[0].Name]
	h.procMu.Lock()
	left := len(h.procs)
	h.procMu.Unlock()
	if left != 0 {
		t.Errorf("%d simulated processes still running after the cancel", left)
	}
}

// startedReader closes started when the command reads its stdin, i.e.
// once it runs, then reports EOF.
type startedReader struct{ started chan struct{} }

func (r startedReader) Read([]byte) (int, error) {
	select {
	case <-r.started:
	default:
		close(r.started)
	}
	return 0, io.EOF
}

func bytesReaderAt(b []byte) io.ReaderAt { return bytes.NewReader(b) }

// TestArchThroughTransport: the transport learns each node's architecture
// from uname -m, without sudo, as it does before choosing a helper build.
func TestArchThroughTransport(t *testing.T) {
	f, files := testFleet(t, Options{Nodes: 2, User: "kmemfix", Overrides: []Override{{Nodes: "node-001", Set: func(s *NodeSpec) { s.Arch = "arm64" }}}})
	p := transportPool(t, files, nil)
	for _, n := range f.Nodes() {
		tg := target(n)
		tg.Arch = ""
		got, err := p.Arch(context.Background(), tg)
		if err != nil || got != n.Arch {
			t.Errorf("%s: Arch = %q, %v; want %q", n.Name, got, err, n.Arch)
		}
	}
}
