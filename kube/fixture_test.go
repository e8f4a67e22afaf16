package kube

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// node builds a Node object as the API server returns it.
func node(name string, labels map[string]string, kernel, kubelet string, addrs ...corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, ResourceVersion: "1"},
		Status: corev1.NodeStatus{
			Addresses: addrs,
			NodeInfo: corev1.NodeSystemInfo{KernelVersion: kernel, KubeletVersion: kubelet,
				OSImage: "CentOS Linux 7 (Core)", Architecture: "amd64"},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

func internal(ip string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip}
}
func external(ip string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: ip}
}
func hostname(h string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeHostName, Address: h}
}

const (
	el7     = "3.10.0-1160.el7.x86_64"
	modern  = "5.15.0-1019-aws"
	kmem    = "v1.12.10"
	nokmem  = "v1.27.3"
	rollout = "kmemfix-rollout-r1"
)
