package starter

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/kmemfix/kmemfix/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// kmemfix runs the command line in-process and returns its exit code,
// stdout and stderr.
func kmemfix(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := Main(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// isolate gives the test its own HOME and no KMEMFIX_ environment.
func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "KMEMFIX_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

func TestRolloutStartListsEverySpecAndInventoryProblem(t *testing.T) {
	isolate(t)
	code, out, errOut := kmemfix(t, "rollout", "start", "-f", "testdata/bad-rollout.yaml")
	if code != ExitUsage {
		t.Errorf("exit code %d, want %d (usage)", code, ExitUsage)
	}
	if out != "" {
		t.Errorf("nothing should be started or printed on stdout, got %q", out)
	}
	golden(t, "testdata/bad-rollout.golden", errOut)
}

func TestRolloutStartResolvesWavesAgainstTheFleet(t *testing.T) {
	isolate(t)
	t.Setenv("KMEMFIX_NODE_REPLACEMENTKUBELET_PATH", "/srv/kubelet-nokmem")
	t.Setenv("KMEMFIX_NODE_REPLACEMENTKUBELET_SHA256", strings.Repeat("ab", 32))
	code, _, errOut := kmemfix(t, "rollout", "start", "-f", "testdata/small-waves.yaml")
	if code != ExitUsage {
		t.Fatalf("exit code %d, want %d: %s", code, ExitUsage, errOut)
	}
	golden(t, "testdata/small-waves.golden", errOut)
}

func TestFlagsOverrideTheSpecFile(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "rollout.yaml")
	os.WriteFile(spec, []byte("inventory: missing.yaml\nwaves: [\"1\", \"50%\"]\n"), 0o644)
	// --waves and --inventory fix both problems of the file; the missing
	// Temporal server is then the only thing in the way.
	inv, _ := filepath.Abs("testdata/nodes.yaml")
	t.Setenv("KMEMFIX_NODE_REPLACEMENTKUBELET_PATH", "/srv/kubelet-nokmem")
	t.Setenv("KMEMFIX_NODE_REPLACEMENTKUBELET_SHA256", strings.Repeat("ab", 32))
	code, _, errOut := kmemfix(t, "rollout", "start", "-f", spec, "--waves", "1,100%", "--inventory", inv,
		"--temporal-address", "127.0.0.1:1")
	if code != 1 || !strings.Contains(errOut, "connect to Temporal at 127.0.0.1:1") {
		t.Errorf("exit %d, stderr:\n%s\nwant a connection failure only", code, errOut)
	}
}

func TestTheExampleRolloutSpecLoads(t *testing.T) {
	isolate(t)
	cfg := config.Default()
	cfg.Node.ReplacementKubelet = config.Artifact{Path: "/srv/kubelet-nokmem", SHA256: strings.Repeat("0f", 32)}
	f := &startFlags{}
	fs := pflag.NewFlagSet("start", pflag.ContinueOnError)
	f.register(fs)
	f.file = "testdata/rollout.example.yaml"
	p, err := loadPlan(&cfg, f, fs)
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Name != "eu-west-batch-3" || p.Spec.Concurrency != 20 || p.Spec.Soak != 10*time.Minute || len(p.Nodes) != 4 {
		t.Errorf("plan %+v", p.Spec)
	}
	in, err := rolloutInput(&cfg, p, "kmemfix-rollout-eu-west-batch-3")
	if err != nil {
		t.Fatal(err)
	}
	if !in.Settings.Cordon {
		t.Error("the spec's cordon: true did not reach the node settings")
	}
}
