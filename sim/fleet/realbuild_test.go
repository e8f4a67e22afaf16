package fleet

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/transport"
)

// TestRealHelperBuild builds bin/kmemfix-node as the Makefile does, accepts
// it the way `kmemfix sim --helper` does, uploads it through the transport
// and runs inspect: the path a rollout takes, with the real binary's sha256
// as the gate.
func TestRealHelperBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the node helper")
	}
	bin := filepath.Join(t.TempDir(), "kmemfix-node-amd64")
	// go test puts its own GOROOT/bin first on PATH, so this is the go running the test.
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/kmemfix/kmemfix/cmd/kmemfix-node")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the helper: %v\n%s", err, out)
	}
	opts, err := Flags{Nodes: 1, InventoryOut: "x.yaml", Helpers: []string{bin}}.Options()
	if err != nil || len(opts.HelperBuilds["amd64"]) != 1 {
		t.Fatalf("--helper %s: %+v %v", bin, opts.HelperBuilds, err)
	}
	f, files := testFleet(t, Options{User: "kmemfix", Helper: helper.Main, HelperSHA256s: []string{}, HelperBuilds: opts.HelperBuilds,
		Defaults: NodeSpec{Containers: 8, KubeletVersion: "1.12.3"}})
	p := transportPool(t, files, nil)
	tg := target(f.Nodes()[0])
	up, err := p.Upload(context.Background(), tg, transport.UploadRequest{LocalPath: bin, RemotePath: "/usr/local/bin/kmemfix-node", Mode: 0o755})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	res, err := p.Exec(context.Background(), tg, []string{"/usr/local/bin/kmemfix-node", "inspect"}, transport.ExecOptions{})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("inspect after upload (%+v): exit %d %v: %s", up, res.ExitCode, err, res.Stderr)
	}
	var resp struct {
		node.Response
		Result node.InspectResult `json:"result"`
	}
	if err := json.Unmarshal(res.Stdout, &resp); err != nil || resp.Result.Verdict != node.VerdictAffected {
		t.Errorf("inspect: %s (%v), want verdict %q", res.Stdout, err, node.VerdictAffected)
	}
}
