package lab

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

// TestLabCatchesABrokenHelper runs the procedure with a helper that answers
// ok to everything but dumps the container processes into the root cgroup
// and loses the soft limits (testdata/broken-helper.sh): the checks that guard the invariants must
// fail, or the lab proves nothing.
func TestLabCatchesABrokenHelper(t *testing.T) {
	if testing.Short() {
		t.Skip("the kernel lab boots QEMU: skipped under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	helper, err := filepath.Abs("testdata/broken-helper.sh")
	if err != nil {
		t.Fatal(err)
	}
	tiny := wire.Node{BurstablePods: 2, BestEffortPods: 1, GuaranteedPods: 1, ContainersPerPod: 2, HogMiB: 16, CacheMiB: 4, Threads: 4}
	res, err := Boot(ctx, Scenario{Plan: wire.Plan{Name: "broken-helper", Kind: wire.KindProcedure, Node: tiny, Seed: 4}, Helper: helper})
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]bool{}
	for _, c := range res.Report.Checks {
		if !c.OK {
			failed[c.Name] = true
			t.Logf("caught: %s: %s %v", c.Name, c.Detail, c.Problems)
		}
	}
	for _, name := range []string{"procs-in-place", "values-preserved", "threads-in-place", "containers-in-place", "limits-held-throughout", "kubelet-binary", "kubelet-running", "inspect-kernel-generation"} {
		if !failed[name] {
			t.Errorf("check %s passed with a helper that broke it", name)
		}
	}
}
