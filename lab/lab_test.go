package lab

import (
	"context"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

// boot runs a scenario in QEMU, logs the console and the figures, and
// fails the test on any failed check.
func boot(t *testing.T, plan wire.Plan) *Result {
	t.Helper()
	if testing.Short() {
		t.Skip("the kernel lab boots QEMU (about 10-60 s a scenario): skipped under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := Boot(ctx, Scenario{Plan: plan, Console: func(line string) { t.Log(line) }})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	t.Logf("%s: kernel %s, %d cgroups, %d containers, %d processes; guest up %.1fs, setup %.1fs, migration %.1fs, kubelet down %.1fs; boot wall %.1fs, total %.1fs",
		r.Name, r.Kernel, r.Dirs, r.Containers, r.Procs, res.Ready, r.Setup, r.Migration, r.KubeletOff, res.Wall, time.Since(start).Seconds())
	for _, c := range r.Checks {
		t.Logf("check %-28s ok=%t %s %v", c.Name, c.OK, c.Detail, c.Problems)
	}
	for _, f := range res.Failed() {
		t.Error(f)
	}
	return res
}
