package transport

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SweepReport summarises one command run on many targets.
type SweepReport struct {
	Calls               int
	Failed              int           // transport errors (see ByClass)
	NonZeroExit         int           // commands that ran and exited non-zero
	ByClass             map[Class]int // transport errors by class
	Wall                time.Duration
	P50, P99            time.Duration // per call, successful or not
	Max                 time.Duration
	Handshakes          int64 // new handshakes during the sweep
	HandshakesPerSecond float64
	PeakRSSBytes        int64 // the process's peak resident memory (VmHWM), 0 if unknown
}

// Sweep runs argv on every target with at most concurrency calls in flight,
// calls each (if not nil) with every outcome, from several goroutines at
// once, and reports latencies. It is the fleet benchmark's and a survey's
// loop; stop it by canceling ctx.
func (p *Pool) Sweep(ctx context.Context, targets []Target, argv []string, concurrency int, each func(Target, Result, error)) SweepReport {
	concurrency = max(1, concurrency)
	rep := SweepReport{Calls: len(targets), ByClass: map[Class]int{}}
	lat := make([]time.Duration, len(targets))
	hs := p.Stats().Handshakes
	var mu sync.Mutex
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i, t := range targets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t0 := time.Now()
			res, err := p.Exec(ctx, t, argv, ExecOptions{})
			lat[i] = time.Since(t0)
			mu.Lock()
			switch {
			case err != nil:
				rep.Failed++
				rep.ByClass[Classify(err)]++
			case res.ExitCode != 0:
				rep.NonZeroExit++
			}
			mu.Unlock()
			if each != nil {
				each(t, res, err)
			}
		})
	}
	wg.Wait()
	rep.Wall = time.Since(start)
	rep.Handshakes = p.Stats().Handshakes - hs
	if rep.Wall > 0 {
		rep.HandshakesPerSecond = float64(rep.Handshakes) / rep.Wall.Seconds()
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		rep.P50 = lat[len(lat)/2]
		rep.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
		rep.Max = lat[len(lat)-1]
	}
	rep.PeakRSSBytes = peakRSS()
	return rep
}

// peakRSS reads VmHWM from /proc/self/status.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
