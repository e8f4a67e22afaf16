package kube

import (
	"fmt"
	"slices"

	"github.com/kmemfix/kmemfix/inventory"
)

// InventoryOptions shapes the conversion to an inventory.
type InventoryOptions struct {
	// Defaults are the inventory's SSH user and port.
	Defaults inventory.Defaults
	// Classes keeps only nodes of these classes; empty keeps all.
	Classes []Class
	// Labels are the node labels copied into the inventory (to select
	// nodes in a rollout spec); none by default, to keep workflow inputs
	// small on large fleets.
	Labels []string
}

// Skipped is a node left out of an inventory, and why.
type Skipped struct {
	Node   string
	Reason string
}

// ToInventory turns nodes into an inventory. Nodes without an address of
// a preferred type and nodes of an unwanted class are returned as skipped
// with the reason.
func ToInventory(nodes []Node, o InventoryOptions) (*inventory.Inventory, []Skipped) {
	inv := &inventory.Inventory{Defaults: o.Defaults}
	var skipped []Skipped
	for _, n := range nodes {
		if len(o.Classes) > 0 && !slices.Contains(o.Classes, n.Class.Class) {
			skipped = append(skipped, Skipped{n.Name, fmt.Sprintf("%s: %s", n.Class.Class, first(n.Class.Reasons))})
			continue
		}
		if n.Address == "" {
			skipped = append(skipped, Skipped{n.Name, "no address of a preferred type in status.addresses: choose other address types"})
			continue
		}
		inv.Nodes = append(inv.Nodes, n.InventoryNode(o.Labels))
	}
	return inv, skipped
}

// InventoryNode is the node as an inventory entry: its address, its
// architecture (so the worker need not ask uname) and the chosen labels.
func (n Node) InventoryNode(keepLabels []string) inventory.Node {
	out := inventory.Node{Name: n.Name, Address: n.Address}
	if n.Arch == "amd64" || n.Arch == "arm64" {
		out.Arch = n.Arch
	}
	for _, k := range keepLabels {
		if v, ok := n.Labels[k]; ok {
			if out.Labels == nil {
				out.Labels = map[string]string{}
			}
			out.Labels[k] = v
		}
	}
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
