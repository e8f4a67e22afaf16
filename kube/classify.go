package kube

import (
	"fmt"
	"regexp"
	"strconv"
)

// Class says what the Kubernetes API alone tells about a node.
type Class string

// Classes of a node before any SSH.
const (
	// MaybeAffected: a 3.10 kernel and a kubelet from 1.8 to 1.13, the
	// versions that switch kmem accounting on for every pod cgroup. Only an
	// inspection over SSH tells whether the node leaks and how badly.
	MaybeAffected Class = "maybe-affected"
	// NotAffected: the kernel is not a 3.10 kernel, or kubelet predates 1.8.
	NotAffected Class = "not-affected"
	// Unknown: a version could not be read, or kubelet is 1.14 or later on
	// a 3.10 kernel (it switches kmem on unless built with -tags=nokmem, and
	// the API does not say how it was built).
	Unknown Class = "unknown"
)

// Classification is a class and the reasons for it, in words.
type Classification struct {
	Class   Class    `json:"class"`
	Reasons []string `json:"reasons"`
}

var (
	kernelRe  = regexp.MustCompile(`^(\d+)\.(\d+)`)
	kubeletRe = regexp.MustCompile(`^v?(\d+)\.(\d+)`)
)

// The kubelet releases that set memory.kmem.limit_in_bytes on every new
// memory cgroup (kubernetes/kubernetes#61937).
const (
	firstKmemMinor = 8
	lastKmemMinor  = 13
)

// Classify decides from the versions a node reports in status.nodeInfo
// (kernelVersion, e.g. "3.10.0-1160.el7.x86_64"; kubeletVersion, e.g.
// "v1.12.10").
func Classify(kernel, kubelet string) Classification {
	km := kernelRe.FindStringSubmatch(kernel)
	if km == nil {
		return Classification{Unknown, []string{fmt.Sprintf("kernel version %q cannot be read: inspect the node", kernel)}}
	}
	if km[1] != "3" || km[2] != "10" {
		return Classification{NotAffected, []string{fmt.Sprintf("kernel %s is not a 3.10 kernel: the kmem css-id leak is a 3.10 behaviour", kernel)}}
	}
	vm := kubeletRe.FindStringSubmatch(kubelet)
	if vm == nil {
		return Classification{Unknown, []string{fmt.Sprintf("kernel %s is 3.10, but the kubelet version %q cannot be read: inspect the node", kernel, kubelet)}}
	}
	major, _ := strconv.Atoi(vm[1])
	minor, _ := strconv.Atoi(vm[2])
	switch {
	case major != 1:
		return Classification{Unknown, []string{fmt.Sprintf("kubelet %s is not a 1.x release: inspect the node", kubelet)}}
	case minor < firstKmemMinor:
		return Classification{NotAffected, []string{fmt.Sprintf("kubelet %s predates 1.8, which first switched kmem accounting on", kubelet)}}
	case minor > lastKmemMinor:
		return Classification{Unknown, []string{fmt.Sprintf("kernel %s is 3.10 and kubelet %s switches kmem accounting on unless it was built with -tags=nokmem, which the API does not say: inspect the node", kernel, kubelet)}}
	}
	return Classification{MaybeAffected, []string{fmt.Sprintf("kernel %s and kubelet %s: kubelet 1.8-1.13 switches kmem accounting on for every pod cgroup on 3.10; inspect to see the leak and the headroom", kernel, kubelet)}}
}
