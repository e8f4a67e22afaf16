// Package kube takes the fleet from the Kubernetes API: the nodes that
// match a label selector, each with the address kmemfix should SSH to and
// the kernel and kubelet versions the node reports, classified before any
// SSH as maybe-affected, not-affected or unknown. It converts them to an
// inventory.Inventory for the CLI.
//
// It also cordons a node before its remediation and uncordons it after,
// restoring the node's original schedulable state: a node is uncordoned only
// if this rollout cordoned it, which the annotation kmemfix.io/cordoned-by
// records. A node someone else cordoned stays cordoned.
package kube
