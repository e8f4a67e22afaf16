package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"time"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

// Paths of the kubelet stand-in.
const (
	kubeletBin    = "/usr/bin/kubelet"
	kubeletStaged = "/var/lib/kmemfix/kubelet.new"
)

// step is one helper command of the procedure.
type step struct {
	args     []string
	mutating bool
	// ops estimates the step's mutating operations on a subtree of dirs
	// cgroups holding procs processes (to place crash points).
	ops func(dirs, procs int) int
}

func fixed(n int) func(int, int) int { return func(int, int) int { return n } }

// procedureSteps are the helper's commands in procedure order, inspect
// and verify excluded.
func procedureSteps(sha string) []step {
	return []step{
		{args: []string{"service", "stop", "kubelet"}, mutating: true, ops: fixed(2)},
		{args: []string{"kubelet", "swap", "--binary", kubeletBin, "--new", kubeletStaged, "--sha256", sha}, mutating: true, ops: fixed(3)},
		{args: []string{"snapshot"}, mutating: true, ops: fixed(2)},
		{args: []string{"mirror"}, mutating: true, ops: func(d, _ int) int { return 1 + 7*d }},
		{args: []string{"move"}, mutating: true, ops: func(_, p int) int { return p }},
		{args: []string{"commit"}, mutating: true, ops: func(d, _ int) int { return 2 * d }},
		{args: []string{"rebuild"}, mutating: true, ops: func(d, p int) int { return 10*d + p }},
		{args: []string{"service", "start", "kubelet"}, mutating: true, ops: fixed(2)},
		{args: []string{"run-commands", "--argv", `["systemctl","restart","cadvisor"]`}, mutating: true, ops: fixed(1)},
	}
}

// scenario carries what every scenario kind needs.
type scenario struct {
	plan    wire.Plan
	h       *helper
	rng     *rand.Rand
	dirs    int
	procs   int
	report  *wire.Report
	newSHA  string // sha256 of the staged replacement kubelet
	expect  expectations
	inspect map[string]any
	failed  []string // runs that had to succeed and did not
}

// expectations are what the checks compare the node against at the end.
type expectations struct {
	kubeletFlavor string // kmem (original) or nokmem (swapped)
	kubeletSHA    string
}

// runProcedure runs every step once, in order, and the refused compensation
// after the commit point.
func (s *scenario) runProcedure() {
	s.runInspect()
	s.forEachStep(func(st step) {
		s.mustSucceed(st.args)
		if st.args[0] == "commit" {
			run, _ := s.h.run([]string{"restore"}, runOpts{})
			s.report.Checks = append(s.report.Checks, wire.Check{
				Name:   "restore-refused-past-commit",
				OK:     run.Exit != 0 && !run.OK,
				Detail: fmt.Sprintf("exit %d code %q", run.Exit, run.ErrorCode),
			})
		}
	})
	s.mustSucceed([]string{"verify"})
	s.mustSucceed([]string{"finish"})
}

// runInterrupted kills each mutating step at several points, then runs it
// to completion, then goes on.
func (s *scenario) runInterrupted() {
	s.runInspect()
	s.forEachStep(func(st step) {
		total := st.ops(s.dirs, s.procs)
		done, longest := 0, 0.0
		for _, k := range crashPoints(total, s.plan.CrashFractions) {
			at := max(1, k-done)
			run, _ := s.h.run(st.args, runOpts{crashAt: at})
			if run.Exit == crashExit {
				done += at
			}
			longest = max(longest, float64(run.Seconds))
		}
		// SIGKILL at a random instant too, including the steps the
		// operation count cannot interrupt (one operation only).
		for i := 0; i < s.plan.RandomKills; i++ {
			s.h.run(st.args, runOpts{killAfter: killDelay(s.rng, longest)})
		}
		s.mustSucceed(st.args)
	})
	s.mustSucceed([]string{"verify"})
	s.mustSucceed([]string{"finish"})
}

// runCompensation fails the procedure after move and compensates: restore
// (itself interrupted once), kubelet restore, kubelet started.
func (s *scenario) runCompensation() {
	s.runInspect()
	for _, st := range procedureSteps(s.newSHA)[:5] {
		s.mustSucceed(st.args)
	}
	got, err := sha256File(kubeletBin)
	var problems []string
	if err != nil || got != s.newSHA {
		problems = append(problems, fmt.Sprintf("%s sha256 %s (%v) after swap, want %s", kubeletBin, got, err, s.newSHA))
	}
	s.report.Checks = append(s.report.Checks, newCheck("kubelet-swapped-before-failure", problems, ""))
	s.h.run([]string{"restore"}, runOpts{crashAt: max(1, s.procs/2)})
	s.mustSucceed([]string{"restore"})
	s.h.run([]string{"kubelet", "restore", "--binary", kubeletBin}, runOpts{crashAt: 1})
	s.mustSucceed([]string{"kubelet", "restore", "--binary", kubeletBin})
	s.mustSucceed([]string{"service", "start", "kubelet"})
	s.mustSucceed([]string{"finish"})
}

// killDelay picks when to SIGKILL a step: uniformly within twice the
// longest run of it so far (the crash runs), so the kill lands inside the
// step however fast or slow the emulated guest is today.
func killDelay(rng *rand.Rand, longest float64) time.Duration {
	span := max(int64(2*longest*float64(time.Second)), int64(50*time.Millisecond))
	return time.Duration(10*int64(time.Millisecond) + rng.Int63n(span))
}

// crashPoints turns fractions of a step's operations into distinct
// ascending operation counts, the first one never below 1.
func crashPoints(total int, fractions []float64) []int {
	var out []int
	for _, f := range fractions {
		k := max(1, int(math.Round(f*float64(total))))
		if len(out) == 0 || k > out[len(out)-1] {
			out = append(out, k)
		}
	}
	return out
}

// forEachStep runs fn for each procedure step, timing the migration (mirror
// start to rebuild end) and the kubelet's down time.
func (s *scenario) forEachStep(fn func(step)) {
	var migStart, downStart time.Time
	for _, st := range procedureSteps(s.newSHA) {
		switch {
		case st.args[0] == "mirror":
			migStart = time.Now()
		case st.args[0] == "service" && st.args[1] == "stop":
			downStart = time.Now()
		}
		fn(st)
		switch {
		case st.args[0] == "rebuild":
			s.report.Migration = wire.Since(migStart)
		case st.args[0] == "service" && st.args[1] == "start":
			s.report.KubeletOff = wire.Since(downStart)
		}
	}
}

func (s *scenario) runInspect() {
	_, resp := s.h.run([]string{"inspect"}, runOpts{})
	if resp != nil && resp.OK {
		_ = json.Unmarshal(resp.Result, &s.inspect)
	}
}

// mustSucceed runs a step that has to succeed; a failure is recorded as a
// failed check (and the scenario goes on, so the end state is reported).
func (s *scenario) mustSucceed(args []string) {
	run, _ := s.h.run(args, runOpts{})
	if run.Exit != 0 || !run.OK {
		s.failed = append(s.failed, fmt.Sprintf("%v: exit %d code %q: %s", args, run.Exit, run.ErrorCode, run.Message))
	}
}

// stepsCheck: every run that had to succeed did.
func (s *scenario) stepsCheck() wire.Check {
	return newCheck("helper-steps", s.failed, fmt.Sprintf("%d helper runs", len(s.report.Runs)))
}
