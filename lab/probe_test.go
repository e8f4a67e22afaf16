package lab

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
	"github.com/kmemfix/kmemfix/lab/probe"
)

var updateKernel = flag.Bool("update-kernel", false, "rewrite the real kernel's recorded answers in testdata/ from this run's guest")

// kernelProbesFile holds the real kernel's answers to every probe, as
// recorded by TestKernelProbes; the differential test compares the
// simulator with it without booting anything.
const kernelProbesFile = "testdata/kernel-probes.json"

// KernelProbes is the recorded table.
type KernelProbes struct {
	Kernel string         `json:"kernel"`
	Probes []probe.Result `json:"probes"`
}

func readKernelProbes(t *testing.T) KernelProbes {
	t.Helper()
	b, err := os.ReadFile(kernelProbesFile)
	if err != nil {
		t.Fatalf("%v: record it with go test ./lab -run TestKernelProbes -update-kernel", err)
	}
	var kp KernelProbes
	if err := json.Unmarshal(b, &kp); err != nil {
		t.Fatalf("%s: %v", kernelProbesFile, err)
	}
	return kp
}

// TestKernelProbes asks the guest kernel every probe and compares its
// answers with the recorded table: the facts the simulator is held to are
// re-checked on the real kernel on every run.
func TestKernelProbes(t *testing.T) {
	res := boot(t, wire.Plan{Name: "probes", Kind: wire.KindProbes})
	got := KernelProbes{Kernel: res.Report.Kernel}
	for _, p := range res.Report.Probes {
		got.Probes = append(got.Probes, probe.Result(p))
		t.Logf("%-32s %-14s %-40s %s", p.Name, p.Errno, p.Value, p.Note)
		if p.Errno == probe.SetupFailed || p.Note != "" {
			t.Errorf("probe %s: %s %s", p.Name, p.Errno, p.Note)
		}
	}
	if *updateKernel {
		writeJSON(t, kernelProbesFile, got)
		return
	}
	want := readKernelProbes(t)
	if len(want.Probes) != len(got.Probes) {
		t.Fatalf("%d probes answered, %d recorded: rerun with -update-kernel after adding probes", len(got.Probes), len(want.Probes))
	}
	for i, w := range want.Probes {
		g := got.Probes[i]
		if g.Name != w.Name || g.Errno != w.Errno || g.Value != w.Value {
			t.Errorf("kernel %s answers %s: errno %q value %q; recorded (kernel %s): errno %q value %q",
				got.Kernel, g.Name, g.Errno, g.Value, want.Kernel, w.Errno, w.Value)
		}
	}
	// The facts the procedure relies on, spelled out.
	facts := map[string]string{
		"rmdir-tasks": "EBUSY", "rmdir-children": "EBUSY", "limit-above-memsw": "EINVAL",
		"memsw-below-limit": "EINVAL", "move-charge-4": "EINVAL", "procs-exited-pid": "ESRCH",
		"limit-below-usage": "EBUSY", "mkdir-newline": "EINVAL", "mkdir-hostile": "",
	}
	for _, p := range got.Probes {
		if want, ok := facts[p.Name]; ok && p.Errno != want {
			t.Errorf("%s: errno %q, the procedure relies on %q", p.Name, p.Errno, want)
		}
		if p.Name == "limit-rounding" && p.Value != "299999232" {
			t.Errorf("limit 300000000 reads back %s, want 299999232", p.Value)
		}
	}
}

func writeJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
