package workflows

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/node"
)

// TestNodeResultWording keeps every outcome's reasons in one golden file
// (testdata/node-results.golden), so the words an SRE acts on are reviewed
// like code. KMEMFIX_UPDATE_GOLDEN=1 rewrites it.
func TestNodeResultWording(t *testing.T) {
	scenarios := []struct {
		name  string
		setup func(f *fakeNode)
	}{
		{"remediated", func(f *fakeNode) { f.delay["Move"] = 40 * time.Second }},
		{"move fails, rolled back", func(f *fakeNode) { f.failWith("Move", nonRetryable(activities.ErrNotConverged)) }},
		{"restore fails", func(f *fakeNode) {
			f.failWith("Move", nonRetryable(activities.ErrNotConverged))
			f.failWith("Restore", nonRetryable(activities.ErrKernel))
		}},
		{"kubelet restore fails", func(f *fakeNode) {
			f.failWith("Mirror", nonRetryable(activities.ErrKernel))
			f.failWith("RestoreKubelet", nonRetryable(activities.ErrService))
		}},
		{"commit fails", func(f *fakeNode) { f.failWith("Commit", nonRetryable(activities.ErrKernel)) }},
		{"kubelet does not start", func(f *fakeNode) { f.failWith("StartKubelet", nonRetryable(activities.ErrUnhealthy)) }},
		{"cadvisor fails", func(f *fakeNode) { f.failWith("RestartCadvisor", nonRetryable(activities.ErrCommandFailed)) }},
		{"budget exceeded before commit", func(f *fakeNode) { f.delay["Move"] = 10 * time.Minute }},
		{"budget exceeded after commit", func(f *fakeNode) { f.delay["Rebuild"] = 4 * time.Minute }},
		{"rebooted", func(f *fakeNode) { f.failWith("Mirror", nonRetryable(activities.ErrRebooted)) }},
		{"auth failure", func(f *fakeNode) { f.failWith("EnsureHelper", nonRetryable(activities.ErrAuth)) }},
		{"needs reboot", func(f *fakeNode) {
			f.inspect.Verdict = node.VerdictNeedsReboot
			f.inspect.Headroom = node.Headroom{Known: true, Required: 900, Available: 12}
			f.inspect.Reasons = []string{"65523 css ids in use"}
		}},
		{"unknown headroom", func(f *fakeNode) { f.inspect.Headroom = node.Headroom{Available: -1} }},
		{"already remediated", func(f *fakeNode) {
			f.inspect.Verdict = node.VerdictNotAffected
			f.inspect.Kubelet.SHA256 = testSHA
			f.inspect.Reasons = []string{"memory.kmem.slabinfo: input/output error"}
		}},
	}
	var b strings.Builder
	for _, sc := range scenarios {
		f := newFakeNode(t)
		sc.setup(f)
		res, err := f.run(nil)
		require.NoError(t, err, sc.name)
		fmt.Fprintf(&b, "## %s\noutcome: %s (step %s, committed %v, kubelet running %v)\n", sc.name, res.Outcome, res.Step, res.Committed, res.KubeletRunning)
		for _, r := range res.Reasons {
			fmt.Fprintf(&b, "- %s\n", r)
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(&b, "! %s\n", w)
		}
		b.WriteString("\n")
	}
	path := filepath.Join("testdata", "node-results.golden")
	if os.Getenv("KMEMFIX_UPDATE_GOLDEN") == "1" {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with KMEMFIX_UPDATE_GOLDEN=1 to create it")
	require.Equal(t, string(want), b.String())
}
