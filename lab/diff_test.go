package lab

import (
	"encoding/json"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/kmemfix/kmemfix/lab/probe"
	"github.com/kmemfix/kmemfix/sim/simnode"
)

// legacy is testdata/legacy-3.10.json: where 3.10 answers differently from
// the recorded 6.1 kernel.
type legacy struct {
	Probes map[string]struct {
		Errno  string `json:"errno"`
		Value  string `json:"value"`
		Source string `json:"source"`
		Skip   string `json:"skip"`
	} `json:"probes"`
}

// simKernel is probe.Kernel on the simulated node.
type simKernel struct {
	n    *simnode.Node
	root string
}

func (k simKernel) Mkdir(p string) error                  { return k.n.Mkdir(p) }
func (k simKernel) Remove(p string) error                 { return k.n.Remove(p) }
func (k simKernel) WriteFile(p string, data []byte) error { return k.n.WriteFile(p, data) }
func (k simKernel) ReadFile(p string) ([]byte, error)     { return k.n.ReadFile(p) }
func (k simKernel) Kill(pid int) error                    { return k.n.Kill(pid) }

func (k simKernel) Spawn(dir string, anonBytes int64) (int, error) {
	rel := strings.TrimPrefix(path.Clean(dir), k.root)
	return k.n.Spawn(rel, simnode.ProcSpec{Name: "probe", Anon: anonBytes})
}

// TestSimulatorAgreesWithKernel asks the simulated 3.10 node every probe
// and compares its answers with the real kernel's recorded ones (corrected
// where 3.10 is known to differ from 6.1). Known, not yet settled
// disagreements are listed in testdata/sim-known-differences.json: they are
// logged, and the test fails when one of them stops disagreeing, so the
// list shrinks as the simulator is fixed.
func TestSimulatorAgreesWithKernel(t *testing.T) {
	kernel := readKernelProbes(t)
	var leg legacy
	readJSON(t, "testdata/legacy-3.10.json", &leg)
	known := map[string]string{}
	readJSON(t, "testdata/sim-known-differences.json", &known)

	n := simnode.New(simnode.Config{Seed: 1, NoShims: true})
	root := simnode.DefaultCgroupRoot
	sim, err := probe.Run(simKernel{n: n, root: root}, root, path.Join(root, "labprobe"), probe.All())
	if err != nil {
		t.Errorf("simulator: %v", err)
	}
	simByName := map[string]probe.Result{}
	for _, r := range sim {
		simByName[r.Name] = r
	}
	for _, k := range kernel.Probes {
		want, source := k, "kernel "+kernel.Kernel
		if l, ok := leg.Probes[k.Name]; ok {
			if l.Skip != "" {
				t.Logf("%s: not compared (%s); simulator says errno %q value %q", k.Name, l.Skip, simByName[k.Name].Errno, simByName[k.Name].Value)
				continue
			}
			want.Errno, want.Value, source = l.Errno, l.Value, "3.10: "+l.Source
		}
		got, ok := simByName[k.Name]
		agree := ok && got.Errno == want.Errno && (want.Value == "" || got.Value == want.Value)
		msg := ""
		if !agree {
			msg = "simulator: errno " + quote(got.Errno) + " value " + quote(got.Value) + " " + got.Note +
				"; want errno " + quote(want.Errno) + " value " + quote(want.Value) + " (" + source + ")"
		}
		switch reason, isKnown := known[k.Name]; {
		case agree && isKnown:
			t.Errorf("%s: the simulator now agrees; remove it from testdata/sim-known-differences.json", k.Name)
		case !agree && isKnown:
			t.Logf("known difference %s: %s [%s]", k.Name, msg, reason)
		case !agree:
			t.Errorf("%s (%s): %s", k.Name, k.Op, msg)
		}
	}
}

func quote(s string) string { return "\"" + s + "\"" }

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
