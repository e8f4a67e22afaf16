package lab

import (
	"testing"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

func TestKernelProbes(t *testing.T) {
	res := boot(t, wire.Plan{Name: "probes", Kind: wire.KindProbes})
	for _, p := range res.Report.Probes {
		t.Logf("%-32s %-14s %-40s %s", p.Name, p.Errno, p.Value, p.Note)
	}
}
