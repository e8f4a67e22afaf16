package helper

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kmemfix/kmemfix/node"
)

// dispatch runs one command. Every command but inspect mutates the node and
// runs under the node lock.
func dispatch(ctx context.Context, p *node.Procedure, rest []string) (any, error) {
	name, args := rest[0], rest[1:]
	if name == "inspect" {
		return inspect(ctx, p, args)
	}
	cmd, ok := mutating[name]
	if !ok {
		return nil, usage("unknown command %q (see kmemfix-node -h)", name)
	}
	release, err := p.Lock()
	if err != nil {
		return nil, err
	}
	defer func() { _ = release() }()
	return cmd(ctx, p, args)
}

type command func(ctx context.Context, p *node.Procedure, args []string) (any, error)

var mutating = map[string]command{
	"snapshot":     noArgs("snapshot", func(ctx context.Context, p *node.Procedure) (any, error) { return p.Snapshot(ctx) }),
	"mirror":       noArgs("mirror", func(ctx context.Context, p *node.Procedure) (any, error) { return p.Mirror(ctx) }),
	"move":         noArgs("move", func(ctx context.Context, p *node.Procedure) (any, error) { return p.Move(ctx) }),
	"commit":       noArgs("commit", func(ctx context.Context, p *node.Procedure) (any, error) { return p.Commit(ctx) }),
	"rebuild":      noArgs("rebuild", func(ctx context.Context, p *node.Procedure) (any, error) { return p.Rebuild(ctx) }),
	"restore":      noArgs("restore", func(ctx context.Context, p *node.Procedure) (any, error) { return p.Restore(ctx) }),
	"verify":       noArgs("verify", func(ctx context.Context, p *node.Procedure) (any, error) { return p.Verify(ctx) }),
	"finish":       noArgs("finish", func(_ context.Context, p *node.Procedure) (any, error) { return struct{}{}, p.Finish() }),
	"service":      service,
	"kubelet":      kubelet,
	"run-commands": runCommands,
}

func usage(format string, args ...any) error {
	return &node.StepError{Code: node.CodeUsage, Message: fmt.Sprintf(format, args...)}
}

func noArgs(name string, run func(context.Context, *node.Procedure) (any, error)) command {
	return func(ctx context.Context, p *node.Procedure, args []string) (any, error) {
		if len(args) > 0 {
			return nil, usage("%s takes no arguments, got %q", name, args)
		}
		return run(ctx, p)
	}
}

// parse parses a command's flags; positional arguments must number want.
func parse(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, usage("%s: %v", fs.Name(), err)
	}
	if fs.NArg() != want {
		return nil, usage("%s takes %d positional arguments, got %q", fs.Name(), want, fs.Args())
	}
	return fs.Args(), nil
}

func inspect(ctx context.Context, p *node.Procedure, args []string) (any, error) {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	var opts node.InspectOptions
	fs.StringVar(&opts.KubeletBinary, "kubelet-binary", "/usr/bin/kubelet", "installed kubelet binary")
	fs.IntVar(&opts.Margin, "margin", 256, "css ids to keep free beyond the procedure's need")
	fs.BoolVar(&opts.NoProbe, "no-probe", false, "skip the mkdir probe")
	if _, err := parse(fs, args, 0); err != nil {
		return nil, err
	}
	return p.Inspect(ctx, opts)
}

func service(ctx context.Context, p *node.Procedure, args []string) (any, error) {
	if len(args) < 2 {
		return nil, usage("service needs an action and a unit: service stop|start|restart|status UNIT")
	}
	action, unit := args[0], args[1]
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	var opts node.ServiceOptions
	fs.DurationVar(&opts.Timeout, "timeout", 60*time.Second, "how long to wait for the unit's state")
	fs.StringVar(&opts.HealthzURL, "healthz", "", "health URL checked after start")
	if _, err := parse(fs, args[2:], 0); err != nil {
		return nil, err
	}
	return p.Service(ctx, action, unit, opts)
}

func kubelet(_ context.Context, p *node.Procedure, args []string) (any, error) {
	if len(args) < 1 {
		return nil, usage("kubelet needs an action: swap or restore")
	}
	fs := flag.NewFlagSet("kubelet "+args[0], flag.ContinueOnError)
	binary := fs.String("binary", "/usr/bin/kubelet", "installed kubelet binary")
	staged := fs.String("new", "", "staged replacement kubelet (swap)")
	sha := fs.String("sha256", "", "sha256 of the replacement kubelet (swap)")
	if _, err := parse(fs, args[1:], 0); err != nil {
		return nil, err
	}
	switch args[0] {
	case "swap":
		if *staged == "" || *sha == "" {
			return nil, usage("kubelet swap needs --new and --sha256")
		}
		return p.SwapKubelet(*binary, *staged, *sha)
	case "restore":
		return p.RestoreKubelet(*binary)
	}
	return nil, usage("kubelet %q: use swap or restore", args[0])
}

// argvList collects repeated --argv flags, each a JSON array of strings.
type argvList [][]string

func (a *argvList) String() string { return fmt.Sprint(*a) }
func (a *argvList) Set(s string) error {
	var argv []string
	if err := json.Unmarshal([]byte(s), &argv); err != nil {
		return fmt.Errorf("--argv %q is not a JSON array of strings: %w", s, err)
	}
	*a = append(*a, argv)
	return nil
}

func runCommands(ctx context.Context, p *node.Procedure, args []string) (any, error) {
	fs := flag.NewFlagSet("run-commands", flag.ContinueOnError)
	var cmds argvList
	fs.Var(&cmds, "argv", `a command as a JSON array, e.g. '["systemctl","restart","cadvisor"]' (repeatable)`)
	if _, err := parse(fs, args, 0); err != nil {
		return nil, err
	}
	return p.RunCommands(ctx, cmds)
}
