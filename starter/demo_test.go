package starter

import (
	"regexp"
	"strings"
	"testing"
)

// TestDemoReachesTheExpectedOutcomes is the short `make demo`: embedded
// server, simulated fleet over SSH, in-process worker with the real
// workflows, activities and node helper, survey, rollout. The summary is
// checked, not just printed.
func TestDemoReachesTheExpectedOutcomes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system")
	}
	isolate(t)
	code, out, errOut := kmemfix(t, "demo", "--nodes", "10", "--no-ui", "--temporal-address", "127.0.0.1:0",
		"--soak", "0s", "--waves", "1,50%,100%", "--dir", t.TempDir())
	if code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// Every outcome the fleet was built for shows up, each as expected.
	for _, outcome := range []string{"remediated", "skipped-not-affected", "needs-reboot", "unreachable"} {
		if !regexp.MustCompile(`│ ` + outcome + `\s+│ [1-9]\d*\s+│ [1-9]\d*\s+│ ok`).MatchString(out) {
			t.Errorf("summary lacks a matching %s row:\n%s", outcome, out)
		}
	}
	if !strings.Contains(out, "demo: every node got its expected outcome") || !regexp.MustCompile(`kubelet down: p50 \S+, p99 \S+, max \S+ over [1-9]\d* node\(s\)`).MatchString(out) {
		t.Errorf("summary:\n%s", out)
	}
}
