// Command runner is the lab's scenario runner, run by the guest's init: it
// builds a Kubernetes-like node in the guest's memory cgroups, runs the node
// helper through a scenario, checks the invariants against the state
// recorded before, and prints a wire.Report between markers on the console.
package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
	"github.com/kmemfix/kmemfix/lab/layout"
	"github.com/kmemfix/kmemfix/lab/probe"
)

func main() {
	report := &wire.Report{}
	defer func() {
		if r := recover(); r != nil {
			report.Fatal = fmt.Sprintf("runner panicked: %v", r)
		}
		emit(report)
	}()
	if err := run(report); err != nil {
		report.Fatal = err.Error()
	}
}

func run(report *wire.Report) error {
	b, err := os.ReadFile(wire.PlanPath)
	if err != nil {
		return fmt.Errorf("read plan: %w", err)
	}
	var plan wire.Plan
	if err := json.Unmarshal(b, &plan); err != nil {
		return fmt.Errorf("parse plan: %w", err)
	}
	report.Name, report.Kind = plan.Name, plan.Kind
	if u, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		report.Kernel = strings.TrimSpace(string(u))
	}
	p := newProcs()
	if plan.Kind == wire.KindProbes {
		start := time.Now()
		results, err := probe.Run(osKernel{p}, cgroupRoot, filepath.Join(cgroupRoot, "labprobe"), probe.All())
		for _, r := range results {
			report.Probes = append(report.Probes, wire.ProbeResult(r))
		}
		report.Setup = wire.Since(start)
		return err
	}
	return runNode(plan, report, p)
}

// runNode builds the node, runs the scenario and checks the end state.
func runNode(plan wire.Plan, report *wire.Report, p *procs) error {
	rng := rand.New(rand.NewSource(plan.Seed))
	start := time.Now()
	cacheFile, backing, err := prepareCacheFile(plan.Node.CacheMiB)
	if err != nil {
		return err
	}
	nd := plan.Node
	lay := layout.Plan(layout.Sizes{BurstablePods: nd.BurstablePods, BestEffortPods: nd.BestEffortPods,
		GuaranteedPods: nd.GuaranteedPods, ContainersPerPod: nd.ContainersPerPod}, plan.Seed)
	nprocs, err := build(lay, nd, cacheFile, p)
	if err != nil {
		return fmt.Errorf("build node: %w", err)
	}
	for _, unit := range []string{"kubelet", "cadvisor"} {
		if out, err := exec.Command("/bin/systemctl", "start", unit).CombinedOutput(); err != nil { //nolint:noctx // the guest runner has no context: the host's scenario timeout kills the VM
			return fmt.Errorf("start %s: %w: %s", unit, err, out)
		}
	}
	newSHA, err := stageKubelet()
	if err != nil {
		return err
	}
	oldSHA, err := sha256File(kubeletBin)
	if err != nil {
		return err
	}
	before, err := readTree(filepath.Join(cgroupRoot, kubepods))
	if err != nil {
		return err
	}
	idents := map[int]identity{}
	for _, st := range before {
		for _, pid := range st.pids {
			idents[pid], _ = procIdentity(pid)
		}
	}
	usageBefore := roleUsage(lay)
	report.Setup = wire.Since(start)
	report.Dirs, report.Containers, report.Procs = len(before), lay.Containers, before.procCount()
	logf("node built: %d cgroups, %d containers, %d processes started, %d in kubepods, page cache on %s, in %.1fs",
		len(before), lay.Containers, nprocs, report.Procs, backing, float64(report.Setup))

	s := &scenario{plan: plan, h: &helper{flags: plan.HelperFlags, report: report}, rng: rng,
		dirs: len(before), procs: report.Procs, report: report, newSHA: newSHA,
		expect: expectations{kubeletFlavor: "nokmem", kubeletSHA: newSHA}}
	var special []string
	for _, rel := range lay.Roles {
		special = append(special, rel)
	}
	sort.Strings(special)
	smp := startSampler(before, 500*time.Millisecond, 32, special)
	switch plan.Kind {
	case wire.KindProcedure:
		s.runProcedure()
	case wire.KindInterrupted:
		s.runInterrupted()
	case wire.KindCompensation:
		s.expect = expectations{kubeletFlavor: "kmem", kubeletSHA: oldSHA}
		s.runCompensation()
	default:
		return fmt.Errorf("unknown scenario kind %q", plan.Kind)
	}
	report.Checks = append(report.Checks, smp.finish())
	report.Checks = append(report.Checks, s.inspectCheck())
	c := &checker{before: before, idents: idents, expect: s.expect, hogRel: lay.Roles[layout.RoleHog], hogMiB: plan.Node.HogMiB}
	report.Checks = append(report.Checks, c.all()...)
	report.Before = before.values()
	if after, err := readTree(filepath.Join(cgroupRoot, kubepods)); err == nil {
		report.After = after.values()
	}
	report.Checks = append(report.Checks, usageNote(usageBefore, roleUsage(lay), backing))
	report.Checks = append(report.Checks, s.stepsCheck())
	return nil
}

// emit prints the report on the console between the markers.
func emit(r *wire.Report) {
	text, err := wire.EncodeReport(r)
	if err != nil {
		text, _ = wire.EncodeReport(&wire.Report{Name: r.Name, Kind: r.Kind, Fatal: err.Error()})
	}
	fmt.Printf("\n%s\n%s\n%s\n", wire.ReportBegin, text, wire.ReportEnd)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runner: "+format+"\n", args...)
}
