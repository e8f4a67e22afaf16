package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

// helperBin is the node helper under test, as built from cmd/kmemfix-node.
const helperBin = "/lab/bin/kmemfix-node"

// crashExit is the helper's exit code after --crash-after-ops fires, and
// the shell's code for a process killed by SIGKILL.
const crashExit = 137

// helper runs the node helper and records every run in the report.
type helper struct {
	flags  []string // global flags for every run
	report *wire.Report
}

// response is the part of node.Response the runner reads.
type response struct {
	OK      bool            `json:"ok"`
	Command string          `json:"command"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// runOpts makes a run fail on purpose: at an operation count or after a
// delay.
type runOpts struct {
	crashAt   int
	killAfter time.Duration
}

// run executes the helper with args and returns the recorded run and the
// parsed response (nil when stdout held no JSON).
func (h *helper) run(args []string, o runOpts) (wire.Run, *response) {
	argv := append([]string{}, h.flags...)
	if o.crashAt > 0 {
		argv = append(argv, "--crash-after-ops", strconv.Itoa(o.crashAt))
	}
	argv = append(argv, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helperBin, argv...)
	cmd.Env = []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	run := wire.Run{Args: args, CrashAt: o.crashAt}
	err := cmd.Start()
	if err == nil && o.killAfter > 0 {
		timer := time.AfterFunc(o.killAfter, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
		defer timer.Stop()
		run.KilledAt = wire.Seconds(o.killAfter.Seconds())
	}
	if err == nil {
		err = cmd.Wait()
	}
	run.Seconds = wire.Since(start)
	run.Exit = exitCode(err)
	var resp response
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &resp); jerr == nil {
		run.OK = resp.OK
		if resp.Error != nil {
			run.ErrorCode, run.Message = resp.Error.Code, resp.Error.Message
		}
	}
	if run.Exit != 0 && run.Exit != crashExit || run.Exit == 0 && !run.OK {
		run.Stdout = truncate(stdout.String(), 2000)
		run.Stderr = truncate(stderr.String(), 2000)
	}
	h.report.Runs = append(h.report.Runs, run)
	logf("helper %v crash=%d kill=%s -> exit %d ok=%t %s %s (%.2fs)", args, o.crashAt, o.killAfter, run.Exit, run.OK, run.ErrorCode, run.Message, float64(run.Seconds))
	if run.OK || run.ErrorCode != "" {
		return run, &resp
	}
	return run, nil
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "...(truncated)"
}
