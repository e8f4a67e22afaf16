// Package helper is the node helper's command line (bin/kmemfix-node): one
// subcommand per step of the procedure, one JSON response on stdout, JSON
// progress lines on stderr, meaningful exit codes. Main is a function of its
// arguments, streams and the node's System so that the simulated fleet runs
// exactly this code in-process; cmd/kmemfix-node only wires the real OS.
package helper

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kmemfix/kmemfix/node"
)

// usageText is printed for -h and usage errors.
const usageText = `usage: kmemfix-node [global flags] COMMAND [args]

Commands, in procedure order:
  inspect [--kubelet-binary P] [--margin N] [--no-probe]
  service stop|start|restart|status UNIT [--timeout D] [--healthz URL]
  kubelet swap --binary P --new P --sha256 HEX
  snapshot
  mirror        build the mirror tree, limits first, charge moving on
  move          move every process into the mirror (nothing removed)
  commit        THE COMMIT POINT: remove the old kubepods
  rebuild       recreate kubepods unaccounted, move back, remove the mirror
  run-commands --argv JSON [--argv JSON ...]
  verify
  finish
Compensations (before the commit point):
  restore       move everything back to kubepods and remove the mirror
  kubelet restore --binary P

Global flags:
`

// global holds the flags that come before the command.
type global struct {
	cfg         node.Config
	progress    bool
	bootID      string
	crashAfter  int
	showVersion bool
}

// Main runs one helper invocation and returns its exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, sys node.System) int {
	g, rest, err := parseGlobal(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return node.ExitOK
	}
	if err != nil {
		return respond(stdout, "", "", nil, &node.StepError{Code: node.CodeUsage, Message: err.Error()})
	}
	if g.showVersion {
		fmt.Fprintf(stdout, "kmemfix-node %s protocol %d\n", node.Version, node.ProtocolVersion)
		return node.ExitOK
	}
	if len(rest) == 0 {
		fmt.Fprint(stderr, usageText)
		return respond(stdout, "", "", nil, &node.StepError{Code: node.CodeUsage, Message: "no command given"})
	}
	if g.crashAfter > 0 {
		sys = &crashingSystem{System: sys, left: g.crashAfter}
	}
	var progress func(node.Progress)
	if g.progress {
		enc := json.NewEncoder(stderr)
		progress = func(p node.Progress) { _ = enc.Encode(p) }
	}
	p, err := node.New(sys, g.cfg, progress)
	if err != nil {
		return respond(stdout, rest[0], "", nil, err)
	}
	bootID, _ := p.BootID()
	if err := p.CheckBootID(g.bootID); err != nil {
		return respond(stdout, rest[0], bootID, nil, err)
	}
	result, err := dispatch(ctx, p, rest)
	if cs, ok := sys.(*crashingSystem); ok && cs.left == 0 {
		// Exactly N operations done: die after acting, before reporting.
		panic(Crash{Ops: cs.done})
	}
	return respond(stdout, strings.Join(commandWords(rest), " "), bootID, result, err)
}

func parseGlobal(args []string, stderr io.Writer) (*global, []string, error) {
	g := &global{cfg: node.DefaultConfig()}
	fs := flag.NewFlagSet("kmemfix-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText); fs.PrintDefaults() }
	fs.StringVar(&g.cfg.CgroupRoot, "cgroup-root", g.cfg.CgroupRoot, "cgroup v1 memory hierarchy mount point")
	fs.StringVar(&g.cfg.Kubepods, "kubepods", g.cfg.Kubepods, "kubelet's top cgroup under the root")
	fs.StringVar(&g.cfg.Mirror, "mirror", g.cfg.Mirror, "temporary mirror cgroup under the root")
	fs.StringVar(&g.cfg.JournalDir, "journal-dir", g.cfg.JournalDir, "folder for the snapshot journal and the node lock")
	fs.StringVar(&g.cfg.KubeletUnit, "kubelet-unit", g.cfg.KubeletUnit, "kubelet's systemd unit")
	fs.BoolVar(&g.progress, "progress", false, "write JSON progress lines on stderr")
	fs.StringVar(&g.bootID, "boot-id", "", "refuse (code rebooted) unless the node's boot id is this one")
	fs.IntVar(&g.crashAfter, "crash-after-ops", 0, "testing: die like SIGKILL right before the (N+1)th mutating operation, or before reporting when the step did exactly N")
	fs.BoolVar(&g.showVersion, "version", false, "print the helper and protocol versions")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	return g, fs.Args(), nil
}

// commandWords is the command and its sub-action, for the response.
func commandWords(rest []string) []string {
	if len(rest) > 1 && (rest[0] == "service" || rest[0] == "kubelet") {
		return rest[:2]
	}
	return rest[:1]
}

// respond prints the single JSON response and maps the error to an exit code.
func respond(stdout io.Writer, command, bootID string, result any, err error) int {
	resp := node.Response{OK: err == nil, Command: command, Helper: node.Version, Protocol: node.ProtocolVersion, BootID: bootID, Result: result}
	code := node.ExitOK
	if err != nil {
		resp.Error = node.AsStepError(err)
		code = exitCode(resp.Error.Code)
	}
	enc := json.NewEncoder(stdout)
	if encErr := enc.Encode(resp); encErr != nil && code == node.ExitOK {
		return node.ExitFailed
	}
	return code
}

func exitCode(code string) int {
	switch code {
	case node.CodeUsage:
		return node.ExitUsage
	case node.CodeLocked:
		return node.ExitLocked
	case node.CodeRefused, node.CodePastCommit, node.CodeTreeChanged, node.CodeRebooted, node.CodeChecksum:
		return node.ExitRefused
	case node.CodeNeedsHelp:
		return node.ExitNeedsHelp
	case node.CodeInterrupted:
		return node.ExitInterrupted
	default:
		return node.ExitFailed
	}
}
