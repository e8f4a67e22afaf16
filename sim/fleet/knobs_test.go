package fleet

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/inventory"
)

func TestParseKnobs(t *testing.T) {
	set, err := ParseKnobs("containers=40, layout=qos,leaked:2000,exhausted,kubelet=1.14.10,arch=arm64,churn=50ms,latency=20ms,handshake-latency=1s," +
		"unreachable,handshake-hang,auth-refusal,changed-host-key,drop-exec,kubelet-fails-start,enospc-mkdir=3,reboot-after-exec=4")
	if err != nil {
		t.Fatal(err)
	}
	var got NodeSpec
	set(&got)
	want := NodeSpec{Containers: 40, Layout: "qos", LeakedIDs: 2000, Exhausted: true, KubeletVersion: "1.14.10", Arch: "arm64", ChurnEvery: 50 * time.Millisecond,
		ExecLatency: 20 * time.Millisecond, HandshakeLatency: time.Second,
		Faults: Faults{Unreachable: true, HandshakeHang: true, AuthRefusal: true, ChangedHostKey: true, DropExec: 1, KubeletFailsStart: true, MkdirENOSPC: 3, RebootAfterExec: 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"containers", "containers=-1", "layout=odd", "kubelet=2.0", "arch=mips", "latency=soon", "unreachable=yes", "reboot-after-exec", "frobnicate"} {
		if _, err := ParseKnobs(bad); err == nil {
			t.Errorf("ParseKnobs(%q) accepted", bad)
		}
	}
}

func TestOverrideSelection(t *testing.T) {
	opts, err := Flags{Nodes: 100, InventoryOut: "x.yaml", Node: "containers=7",
		Faults: []string{"node-00[0-4]=unreachable", "10%=kubelet-fails-start", "node-099=containers=9"}}.Options()
	if err != nil {
		t.Fatal(err)
	}
	opts, _ = opts.withDefaults()
	var unreachable, failing []string
	for i := range 100 {
		name := opts.nodeName(i)
		s := opts.spec(i, name)
		if s.Faults.Unreachable {
			unreachable = append(unreachable, name)
		}
		if s.Faults.KubeletFailsStart {
			failing = append(failing, name)
		}
		if want := map[bool]int{true: 9, false: 7}[name == "node-099"]; s.Containers != want {
			t.Errorf("%s: %d containers, want %d", name, s.Containers, want)
		}
	}
	if strings.Join(unreachable, ",") != "node-000,node-001,node-002,node-003,node-004" {
		t.Errorf("unreachable: %v", unreachable)
	}
	if len(failing) != 10 || failing[0] != "node-009" || failing[9] != "node-099" {
		t.Errorf("10%% of 100 nodes: %v", failing)
	}
	for _, bad := range []string{"node-007", "=unreachable", "node-[=unreachable", "150%=unreachable"} {
		if _, err := (Flags{Nodes: 1, InventoryOut: "x.yaml", Faults: []string{bad}}).Options(); err == nil {
			t.Errorf("--fault %q accepted", bad)
		}
	}
}

// TestRun starts the fleet as `kmemfix sim` does, reads the files it
// printed, and stops it by canceling the context.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	opts, err := Flags{Nodes: 3, InventoryOut: filepath.Join(dir, "fleet.csv"), Node: "containers=3", Faults: []string{"node-001=auth-refusal"}}.Options()
	if err != nil {
		t.Fatal(err)
	}
	opts.Helper = fakeHelper
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWatch{want: "running until interrupted", seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts, out) }()
	select {
	case <-out.seen:
	case err := <-done:
		t.Fatalf("Run returned early: %v\n%s", err, out.String())
	}
	inv, err := inventory.Load(filepath.Join(dir, "fleet.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Nodes) != 3 || !strings.Contains(out.String(), "node-001") || !strings.Contains(out.String(), "auth-refusal") {
		t.Errorf("inventory %+v, output:\n%s", inv.Nodes, out.String())
	}
	files := Files{Inventory: filepath.Join(dir, "fleet.csv"), KnownHosts: filepath.Join(dir, "known_hosts"), ClientKey: filepath.Join(dir, "id_ed25519")}
	for _, p := range []string{files.KnownHosts, files.ClientKey} {
		if !strings.Contains(out.String(), p) {
			t.Errorf("output does not say where %s is:\n%s", p, out.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

// lineWatch collects output and signals when a line containing want appears.
type lineWatch struct {
	mu   sync.Mutex
	b    strings.Builder
	want string
	seen chan struct{}
	once sync.Once
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestFlagsHelpers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "kmemfix-node-amd64")
	if err := os.WriteFile(p, fakeBuild, 0o755); err != nil {
		t.Fatal(err)
	}
	opts, err := Flags{Nodes: 1, InventoryOut: "x.yaml", Helpers: []string{p}}.Options()
	if err != nil || len(opts.HelperSHA256s) != 1 || opts.HelperSHA256s[0] != sum(fakeBuild) {
		t.Errorf("Options: %v %v, want the file's sha256", opts.HelperSHA256s, err)
	}
	if _, err := (Flags{Nodes: 1, InventoryOut: "x.yaml", Helpers: []string{p + ".missing"}}).Options(); err == nil || !strings.Contains(err.Error(), "make node-helper") {
		t.Errorf("missing helper build: %v", err)
	}
	if _, err := (Flags{Nodes: 1}).Options(); err == nil || !strings.Contains(err.Error(), "--inventory-out") {
		t.Errorf("no inventory path: %v", err)
	}
}

// TestHelperBuildPerArch: a node runs the helper build of its own
// architecture only.
func TestHelperBuildPerArch(t *testing.T) {
	amd, arm := fakeBuild, append([]byte("arm64 "), fakeBuild...)
	f, files := testFleet(t, Options{Nodes: 2, HelperSHA256s: []string{}, HelperBuilds: map[string][]string{"amd64": {sum(amd)}, "arm64": {sum(arm)}},
		Overrides: []Override{{Nodes: "node-001", Set: func(s *NodeSpec) { s.Arch = "arm64" }}}})
	for _, tc := range []struct {
		node  string
		build []byte
		code  int
	}{{"node-000", amd, 0}, {"node-000", arm, 126}, {"node-001", arm, 0}, {"node-001", amd, 126}} {
		c := dial(t, f, files, tc.node)
		uploadFile(t, c, helperPath, tc.build, 0o755)
		if o := run(t, c, quoteArgv([]string{helperPath, "echo"})); o.code != tc.code {
			t.Errorf("%s: %+v, want exit %d", tc.node, o, tc.code)
		}
	}
}

// TestElfArch reads the architecture of a real executable: this test's.
func TestElfArch(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if got := elfArch(exe); got != runtime.GOARCH {
		t.Errorf("elfArch(test binary) = %q, want %q", got, runtime.GOARCH)
	}
	p := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := elfArch(p); got != "" {
		t.Errorf("elfArch(script) = %q", got)
	}
	opts, err := Flags{Nodes: 1, InventoryOut: "x.yaml", Helpers: []string{exe, p}}.Options()
	if err != nil || len(opts.HelperBuilds[runtime.GOARCH]) != 1 || len(opts.HelperSHA256s) != 1 {
		t.Errorf("Options: builds %v any-arch %v, %v", opts.HelperBuilds, opts.HelperSHA256s, err)
	}
}
