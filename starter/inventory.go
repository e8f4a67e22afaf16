package starter

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kmemfix/kmemfix/inventory"
	"github.com/kmemfix/kmemfix/kube"
)

func newInventoryCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Build inventories of nodes",
	}
	cmd.AddCommand(newInventoryFromKubeCommand(a))
	return cmd
}

// fromKubeFlags are the flags of `inventory from-kube`.
type fromKubeFlags struct {
	kubeconfig, context, selector, out string
	addressTypes, classes, labels      []string
}

func newInventoryFromKubeCommand(a *app) *cobra.Command {
	var f fromKubeFlags
	cmd := &cobra.Command{
		Use:   "from-kube -o FILE [flags]",
		Short: "Write an inventory of the cluster's nodes, classified by kernel and kubelet version",
		Long: `from-kube lists the nodes of a Kubernetes cluster (by label selector), takes each
node's address from its status (the first of --address-types it has) and
classifies it from the kernel and kubelet versions it reports:

  maybe-affected  a 3.10 kernel and kubelet 1.8 to 1.13: survey it
  unknown         a version cannot be read, or kubelet 1.14+ on 3.10 (depends on its build)
  not-affected    not a 3.10 kernel, or kubelet before 1.8

It writes the nodes to FILE (.yaml or .csv) and lists those left out and why:
a class not in --classes, or no address of a wanted type.

The API is reached through --kubeconfig/--context, else kubernetes.kubeconfig
and kubernetes.context from the configuration, else the pod's service account
in a cluster, else $KUBECONFIG or ~/.kube/config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := f.options()
			if err != nil {
				return usageError(err)
			}
			cfg, err := a.config(cmd)
			if err != nil {
				return err
			}
			co := kube.ClientOptions{Kubeconfig: cfg.Kubernetes.Kubeconfig, Context: cfg.Kubernetes.Context}
			if cmd.Flags().Changed("kubeconfig") || cmd.Flags().Changed("context") {
				co = kube.ClientOptions{Kubeconfig: f.kubeconfig, Context: f.context}
			}
			c, err := a.newKube(co)
			if err != nil {
				return err
			}
			types, _ := kube.ParseAddressTypes(f.addressTypes) // checked by options
			nodes, err := kube.ListNodes(cmd.Context(), c, kube.ListOptions{Selector: f.selector, AddressTypes: types})
			if err != nil {
				return err
			}
			inv, skipped := kube.ToInventory(nodes, opts)
			if err := inventory.Save(f.out, inv); err != nil {
				return err
			}
			return writeFromKube(cmd.OutOrStdout(), f.out, nodes, inv, skipped)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default kubernetes.kubeconfig, in-cluster, $KUBECONFIG or ~/.kube/config)")
	fl.StringVar(&f.context, "context", "", "kubeconfig context (default kubernetes.context, else the current one)")
	fl.StringVarP(&f.selector, "selector", "l", "", `label selector, e.g. "node-role.kubernetes.io/worker,zone=a" (default every node)`)
	fl.StringSliceVar(&f.addressTypes, "address-types", []string{"InternalIP", "ExternalIP", "Hostname"},
		"address types in order of preference: InternalIP, ExternalIP, Hostname, InternalDNS, ExternalDNS")
	fl.StringSliceVar(&f.classes, "classes", nil, "keep only these classes: maybe-affected, unknown, not-affected (default all)")
	fl.StringSliceVar(&f.labels, "label", nil, "node label KEY to copy into the inventory (for rollout selection), repeatable")
	fl.StringVarP(&f.out, "output", "o", "", "inventory file to write, .yaml or .csv (required)")
	return cmd
}

// options checks the flags that need no cluster and turns them into the
// conversion's options.
func (f *fromKubeFlags) options() (kube.InventoryOptions, error) {
	var problems []error
	if f.out == "" {
		problems = append(problems, errors.New("give the inventory file to write with -o FILE (.yaml or .csv)"))
	} else if _, err := inventory.FormatOf(f.out); err != nil {
		problems = append(problems, fmt.Errorf("-o: %w", err))
	}
	if _, err := kube.ParseAddressTypes(f.addressTypes); err != nil {
		problems = append(problems, fmt.Errorf("--address-types: %w", err))
	}
	var opts kube.InventoryOptions
	for _, c := range f.classes {
		switch cl := kube.Class(strings.TrimSpace(c)); cl {
		case kube.MaybeAffected, kube.Unknown, kube.NotAffected:
			opts.Classes = append(opts.Classes, cl)
		default:
			problems = append(problems, fmt.Errorf("--classes: %q is not a class; use maybe-affected, unknown or not-affected", c))
		}
	}
	for _, l := range f.labels {
		if strings.ContainsAny(l, "=,") || strings.TrimSpace(l) == "" {
			problems = append(problems, fmt.Errorf("--label: %q is not a label key; give the key only (e.g. topology.kubernetes.io/zone): its value is copied from each node", l))
			continue
		}
		opts.Labels = append(opts.Labels, l)
	}
	return opts, errors.Join(problems...)
}

// writeFromKube says what was written, how the cluster's nodes classify,
// and which nodes were left out and why.
func writeFromKube(w io.Writer, path string, nodes []kube.Node, inv *inventory.Inventory, skipped []kube.Skipped) error {
	classes := map[string]int{}
	for _, n := range nodes {
		classes[string(n.Class.Class)]++
	}
	var parts []string
	for _, c := range sortedKeys(classes) {
		parts = append(parts, fmt.Sprintf("%s %d", c, classes[c]))
	}
	if _, err := fmt.Fprintf(w, "Wrote %d of %d node(s) to %s (%s)\n", len(inv.Nodes), len(nodes), path, orWord(strings.Join(parts, ", "), "no node matched")); err != nil {
		return err
	}
	if len(skipped) == 0 {
		return nil
	}
	if _, err := fmt.Fprintf(w, "Left out %d node(s):\n", len(skipped)); err != nil {
		return err
	}
	t := newTable(w, "NODE", "WHY")
	for _, s := range skipped {
		if err := t.Append([]string{s.Node, s.Reason}); err != nil {
			return err
		}
	}
	return t.Render()
}
