package worker

import (
	"os/exec"
	"strings"
	"testing"
)

// TestWorkerBinaryDoesNotImportTheTemporalServer keeps the production
// worker lean: go.temporal.io/server (the embedded dev server) belongs in
// the CLI only.
func TestWorkerBinaryDoesNotImportTheTemporalServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/kmemfix/kmemfix/cmd/kmemfix-worker").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "go.temporal.io/server") || strings.HasPrefix(pkg, "github.com/temporalio/ui-server") {
			t.Errorf("cmd/kmemfix-worker imports %s: keep the embedded server out of the worker", pkg)
		}
	}
}
