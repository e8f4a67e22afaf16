package helper_test

import (
	"testing"

	"github.com/kmemfix/kmemfix/sim/simnode"
)

// BenchmarkProcedure1000 runs the whole procedure (kubelet stop to verify)
// on a 1,000-container simulated node. Reported: kernel operations
// (System calls) and mutating operations per container.
//
//	go test ./node/helper -run '^$' -bench Procedure1000 -benchtime 5x
func BenchmarkProcedure1000(b *testing.B) {
	const containers = 1000
	var calls, mutations int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		n := newNode(b, simnode.PodsSpec{Containers: containers, Forker: true})
		clock, ops := n.Clock(), n.Ops()
		b.StartTimer()
		for _, step := range procedure {
			must(b, n, step...)
		}
		b.StopTimer()
		calls += n.Clock() - clock
		mutations += int64(n.Ops() - ops)
		b.StartTimer()
	}
	b.ReportMetric(float64(calls)/float64(b.N)/containers, "syscalls/container")
	b.ReportMetric(float64(mutations)/float64(b.N)/containers, "mutations/container")
}
