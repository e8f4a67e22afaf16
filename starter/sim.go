package starter

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/sim/fleet"
)

func newSimCommand(*app) *cobra.Command {
	var fl fleet.Flags
	cmd := &cobra.Command{
		Use:   "sim --nodes N --inventory-out FILE [flags]",
		Short: "Run a simulated fleet of CentOS 7 nodes over SSH on 127.0.0.1, until interrupted",
		Long: `sim starts N simulated nodes, each an SSH server on a 127.0.0.1 port with a
simulated kernel 3.10 memory-cgroup tree, and writes the inventory, the client
key and known_hosts for the worker. The node helper runs in-process for the
helper builds given with --helper (default: kmemfix-node-amd64 and -arm64 beside
this binary).

Node settings (--node and --fault NODES=KNOBS): ` + fleet.Knobs,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(fl.Helpers) == 0 {
				fl.Helpers = helperBuilds()
			}
			opts, err := fl.Options()
			if err != nil {
				return usageError(err)
			}
			opts.Helper = helper.Main
			return fleet.Run(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.IntVar(&fl.Nodes, "nodes", 50, "number of nodes")
	f.StringVar(&fl.Prefix, "prefix", "node-", "node name prefix")
	f.StringVar(&fl.User, "user", "root", "login user every node accepts (non-root gets sudo -n)")
	f.StringVar(&fl.Dir, "dir", "", "where the client key and known_hosts go (default: the inventory's folder)")
	f.StringVar(&fl.InventoryOut, "inventory-out", "", "inventory file to write (.yaml or .csv; required)")
	f.StringVar(&fl.Node, "node", "", "every node's settings, e.g. containers=40,kubelet=1.12.3,leaked=2000")
	f.StringArrayVar(&fl.Faults, "fault", nil, "NODES=KNOBS for some nodes, repeatable: node-007=unreachable, 5%=kubelet-fails-start")
	f.StringArrayVar(&fl.Helpers, "helper", nil, "helper build whose sha256 may run on the nodes, repeatable")
	return cmd
}

// helperBuilds are the helper builds beside this executable, if any.
func helperBuilds() []string {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	var out []string
	for _, name := range []string{"kmemfix-node-amd64", "kmemfix-node-arm64"} {
		p := filepath.Join(filepath.Dir(exe), name)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}
