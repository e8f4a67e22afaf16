package lab

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

// A guest that does not come up is killed after bootLimit, not left to run
// into the scenario's timeout.
func TestBootFailsFastWhenTheGuestIsNotUp(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU: skipped under -short")
	}
	saved := bootLimit
	bootLimit = 200 * time.Millisecond // no kernel boots that fast under TCG
	defer func() { bootLimit = saved }()
	start := time.Now()
	_, err := Boot(context.Background(), Scenario{Plan: wire.Plan{Name: "not-up", Kind: wire.KindProbes}})
	if err == nil || !strings.Contains(err.Error(), "init was not up") {
		t.Fatalf("Boot: %v, want the init-not-up error", err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("took %s to give up", d)
	}
}
