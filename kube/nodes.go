package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// Node is a Kubernetes node as kmemfix sees it.
type Node struct {
	Name string
	// Address is the first of the preferred address types the node has;
	// "" if it has none of them (AddressType says which was used).
	Address     string
	AddressType corev1.NodeAddressType
	Kernel      string // status.nodeInfo.kernelVersion
	Kubelet     string // status.nodeInfo.kubeletVersion
	OSImage     string // e.g. "CentOS Linux 7 (Core)"
	Arch        string // status.nodeInfo.architecture: amd64, arm64
	// Unschedulable is spec.unschedulable (cordoned); CordonedBy is the
	// rollout that cordoned it, "" if kmemfix did not.
	Unschedulable bool
	CordonedBy    string
	Ready         bool
	Labels        map[string]string
	Class         Classification
}

// DefaultAddressTypes is the address preference when none is given: the
// cluster-internal address first, as SSH from inside the cluster expects.
var DefaultAddressTypes = []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName}

// ListOptions selects nodes and their address.
type ListOptions struct {
	// Selector is a label selector, e.g. "node-role.kubernetes.io/worker,zone=a"; "" is every node.
	Selector string
	// AddressTypes is the preference order; nil means DefaultAddressTypes.
	AddressTypes []corev1.NodeAddressType
}

// pageSize bounds one List call: large fleets are read in pages.
const pageSize = 500

// ListNodes reads the nodes that match o.Selector, sorted by name.
func ListNodes(ctx context.Context, c kubernetes.Interface, o ListOptions) ([]Node, error) {
	if _, err := labels.Parse(o.Selector); err != nil {
		return nil, fmt.Errorf("kube: label selector %q: %w", o.Selector, err)
	}
	prefs := o.AddressTypes
	if len(prefs) == 0 {
		prefs = DefaultAddressTypes
	}
	var out []Node
	opts := metav1.ListOptions{LabelSelector: o.Selector, Limit: pageSize}
	for {
		list, err := c.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("kube: list nodes (selector %q): %w", o.Selector, err)
		}
		for i := range list.Items {
			out = append(out, fromNode(&list.Items[i], prefs))
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func fromNode(n *corev1.Node, prefs []corev1.NodeAddressType) Node {
	info := n.Status.NodeInfo
	out := Node{
		Name: n.Name, Kernel: info.KernelVersion, Kubelet: info.KubeletVersion,
		OSImage: info.OSImage, Arch: info.Architecture,
		Unschedulable: n.Spec.Unschedulable, CordonedBy: n.Annotations[CordonedByAnnotation],
		Labels: n.Labels, Class: Classify(info.KernelVersion, info.KubeletVersion),
	}
	out.Address, out.AddressType = address(n.Status.Addresses, prefs)
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	return out
}

// address picks the first address of the first preferred type.
func address(addrs []corev1.NodeAddress, prefs []corev1.NodeAddressType) (string, corev1.NodeAddressType) {
	for _, t := range prefs {
		for _, a := range addrs {
			if a.Type == t && a.Address != "" {
				return a.Address, t
			}
		}
	}
	return "", ""
}

// ParseAddressTypes reads a preference such as "InternalIP,ExternalIP".
func ParseAddressTypes(names []string) ([]corev1.NodeAddressType, error) {
	known := []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName,
		corev1.NodeInternalDNS, corev1.NodeExternalDNS}
	var out []corev1.NodeAddressType
	for _, n := range names {
		t := corev1.NodeAddressType(n)
		if !slices.Contains(known, t) {
			return nil, fmt.Errorf("kube: address type %q: use InternalIP, ExternalIP, Hostname, InternalDNS or ExternalDNS", n)
		}
		out = append(out, t)
	}
	return out, nil
}
