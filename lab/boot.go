package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

// bootLimit bounds the time from QEMU's start to the guest's init being up
// (about 3 s of guest time; 30 s seen on a machine loaded 15 times over).
var bootLimit = 2 * time.Minute

// Scenario is one boot of the lab: a plan for the guest runner and how to
// run the guest.
type Scenario struct {
	Plan wire.Plan
	// Helper is a prebuilt static kmemfix-node; "" builds cmd/kmemfix-node.
	Helper string
	// Memory is the guest's RAM (QEMU -m); "" means 1024M.
	Memory string
	// CPUs is the guest's vCPU count; 0 means 2.
	CPUs int
	// Timeout bounds the whole boot; 0 means 8 minutes (a boot takes 10 s
	// to 2 min on an idle 2-core machine; shared machines are far slower).
	Timeout time.Duration
	// Console, when set, gets every console line as it arrives (t.Log).
	Console func(line string)
}

// Result is what a boot produced.
type Result struct {
	Report     wire.Report
	ConsoleLog string  // the console, saved on the host
	Wall       float64 // seconds from QEMU start to its exit
	Ready      float64 // seconds from QEMU start to the guest's init being up
}

// Failed lists the report's failed checks and fatal error, one per line.
func (r *Result) Failed() []string {
	var out []string
	if r.Report.Fatal != "" {
		out = append(out, "fatal: "+r.Report.Fatal)
	}
	for _, c := range r.Report.Checks {
		if !c.OK {
			out = append(out, fmt.Sprintf("%s: %s %s", c.Name, c.Detail, strings.Join(c.Problems, "; ")))
		}
	}
	return out
}

// Boot builds the guest for the scenario, boots it under QEMU, streams its
// console and returns the runner's report. The guest powers itself off;
// the timeout kills it otherwise.
func Boot(ctx context.Context, sc Scenario) (*Result, error) {
	if sc.Timeout == 0 {
		sc.Timeout = 8 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, sc.Timeout)
	defer cancel()
	a, err := EnsureAssets(ctx)
	if err != nil {
		return nil, err
	}
	work := filepath.Join(a.Dir, "run", safeName(sc.Plan.Name))
	if err := os.MkdirAll(work, 0o750); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	bins, err := BuildBinaries(ctx, filepath.Join(a.Dir, "build"), sc.Helper)
	if err != nil {
		return nil, err
	}
	img, err := guestImage(ctx, a, bins, sc.Plan)
	if err != nil {
		return nil, err
	}
	initrd := filepath.Join(work, "initramfs.cpio")
	if err := img.WriteFile(initrd); err != nil {
		return nil, err
	}
	return runQEMU(ctx, a, sc, initrd, filepath.Join(work, "console.log"))
}

func runQEMU(ctx context.Context, a *Assets, sc Scenario, initrd, logPath string) (*Result, error) {
	mem, cpus := sc.Memory, sc.CPUs
	if mem == "" {
		mem = "1024M"
	}
	if cpus == 0 {
		cpus = 2
	}
	// TCG always: this kind of machine has a /dev/kvm that opens but hangs
	// guests (no nested virtualization), so KVM cannot be detected safely.
	cmd := exec.CommandContext(ctx, a.QEMU, "-accel", "tcg",
		"-nodefaults", "-no-reboot", "-display", "none", "-serial", "stdio", "-monitor", "none",
		"-m", mem, "-smp", fmt.Sprint(cpus), "-cpu", "max",
		"-kernel", a.Kernel, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 quiet loglevel=3 mitigations=off")
	cmd.WaitDelay = 5 * time.Second
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	defer logFile.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	cmd.Stderr = logFile
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: start qemu: %w", err)
	}
	res := &Result{ConsoleLog: logPath}
	// A guest whose init is not up in bootLimit never will be (a kernel
	// that cannot boot, an accelerator that hangs): fail fast, not at the
	// scenario's timeout.
	var up atomic.Bool
	watchdog := time.AfterFunc(bootLimit, func() {
		if !up.Load() {
			_ = cmd.Process.Kill()
		}
	})
	defer watchdog.Stop()
	report, tail := readConsole(out, logFile, sc.Console, start, res, &up)
	waitErr := cmd.Wait()
	res.Wall = time.Since(start).Seconds()
	if report == "" {
		why := "the guest printed no report"
		if !up.Load() {
			why = fmt.Sprintf("the guest's init was not up within %s", bootLimit)
		}
		if ctx.Err() != nil {
			why = fmt.Sprintf("no report within %s (guest killed)", sc.Timeout)
		}
		return res, fmt.Errorf("lab: %s: qemu: %w; console %s ends with:\n%s", why, waitErr, logPath, strings.Join(tail, "\n"))
	}
	r, err := wire.DecodeReport(report)
	if err != nil {
		return res, fmt.Errorf("lab: parse report (console %s): %w", logPath, err)
	}
	res.Report = *r
	return res, nil
}

// readConsole copies the console to the log (and to the callback) line by
// line, and returns the report found between the markers and the last
// lines seen.
func readConsole(r io.Reader, log io.Writer, each func(string), start time.Time, res *Result, up *atomic.Bool) (string, []string) {
	var report string
	var tail []string
	inReport := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		fmt.Fprintf(log, "%7.2f %s\n", time.Since(start).Seconds(), line)
		switch {
		case line == wire.ReportBegin:
			inReport = true
			continue
		case line == wire.ReportEnd:
			inReport = false
			continue
		case inReport:
			report += line + "\n"
			continue
		case strings.HasPrefix(line, "lab-init: up in") && res.Ready == 0:
			res.Ready = time.Since(start).Seconds()
			up.Store(true)
		}
		if each != nil {
			each(line)
		}
		if tail = append(tail, line); len(tail) > 40 {
			tail = tail[1:]
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		tail = append(tail, "(console read: "+err.Error()+")")
	}
	return report, tail
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
