package fleet

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

// Flags are the `kmemfix sim` command-line values, as given.
type Flags struct {
	Nodes        int      // --nodes
	Prefix       string   // --prefix (default node-)
	User         string   // --user (default root)
	Dir          string   // --dir: where the key and known_hosts go (default: the inventory's folder)
	InventoryOut string   // --inventory-out FILE (.yaml, .yml or .csv)
	Node         string   // --node KNOBS: every node's settings, e.g. containers=40,kubelet=1.12.3,leaked=2000
	Faults       []string // --fault NODES=KNOBS, repeatable: node-007=unreachable, 5%=kubelet-fails-start
	Helpers      []string // --helper FILE, repeatable: helper builds that may run (bin/kmemfix-node-amd64, -arm64); an ELF build runs on nodes of its architecture only
}

// Options turns the flags into Options; the caller adds Options.Helper
// (node/helper.Main).
func (fl Flags) Options() (Options, error) {
	opts := Options{Nodes: fl.Nodes, Prefix: fl.Prefix, User: fl.User, Dir: fl.Dir, InventoryFile: fl.InventoryOut}
	if fl.InventoryOut == "" {
		return opts, fmt.Errorf("fleet: --inventory-out is required: the file (.yaml or .csv) the worker will read")
	}
	if opts.Dir == "" {
		opts.Dir = dirOf(fl.InventoryOut)
	}
	if fl.Node != "" {
		set, err := ParseKnobs(fl.Node)
		if err != nil {
			return opts, err
		}
		set(&opts.Defaults)
	}
	for _, s := range fl.Faults {
		ov, err := ParseOverride(s)
		if err != nil {
			return opts, err
		}
		opts.Overrides = append(opts.Overrides, ov)
	}
	for _, p := range fl.Helpers {
		sum, err := fileSum(p)
		if err != nil {
			return opts, fmt.Errorf("fleet: --helper %s: %w (build it with make node-helper)", p, err)
		}
		arch := elfArch(p)
		if arch == "" {
			opts.HelperSHA256s = append(opts.HelperSHA256s, sum)
			continue
		}
		if opts.HelperBuilds == nil {
			opts.HelperBuilds = map[string][]string{}
		}
		opts.HelperBuilds[arch] = append(opts.HelperBuilds[arch], sum)
	}
	return opts, nil
}

// Run starts the fleet, writes the client files into opts.Dir, prints
// where everything is, and serves until ctx is canceled.
func Run(ctx context.Context, opts Options, out io.Writer) error {
	if opts.Dir == "" {
		return fmt.Errorf("fleet: Options.Dir is empty: say where the key, known_hosts and inventory go")
	}
	f, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	defer f.Close()
	files, err := f.WriteFiles(opts.Dir, opts.InventoryFile)
	if err != nil {
		return err
	}
	nodes := f.Nodes()
	first, last := nodes[0], nodes[len(nodes)-1]
	fmt.Fprintf(out, "simulated fleet: %d nodes on 127.0.0.1, ports %d..%d, user %s\n", len(nodes), first.Port, last.Port, f.opts.User)
	for _, n := range nodes {
		if fl := n.Spec.Faults.String(); fl != "" {
			fmt.Fprintf(out, "  %s (port %d): %s\n", n.Name, n.Port, fl)
		}
	}
	if len(opts.HelperSHA256s)+len(opts.HelperBuilds) == 0 || opts.Helper == nil {
		fmt.Fprintln(out, "warning: no helper build accepted (--helper FILE): every helper exec will fail with exit 126")
	}
	fmt.Fprintf(out, "inventory:   %s\nknown_hosts: %s\nclient key:  %s\n", files.Inventory, files.KnownHosts, files.ClientKey)
	fmt.Fprintf(out, "try: ssh -i %s -o UserKnownHostsFile=%s -p %d %s@127.0.0.1 uname -m\n", files.ClientKey, files.KnownHosts, first.Port, f.opts.User)
	fmt.Fprintln(out, "running until interrupted (Ctrl-C)")
	<-ctx.Done()
	return nil
}

func fileSum(p string) (string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	d := sha256.New()
	if _, err := io.Copy(d, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(d.Sum(nil)), nil
}

// elfArch is the architecture of an ELF executable (amd64, arm64), or ""
// for anything else.
func elfArch(p string) string {
	f, err := elf.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	}
	return ""
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i+1]
	}
	return "."
}
