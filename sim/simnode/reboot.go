package simnode

// Reboot restarts the node: a new boot id, every css id free again (leaked
// ones too), the hierarchy back to its root, system processes and services
// restarted per their enabled state, locks gone. The disk (the regular
// filesystem) is kept. When the kubelet starts it recreates kubepods and the
// populated pods from its binary's behaviour: after a reboot with the fixed
// kubelet installed, nothing is accounted. Faults and an armed crash stay.
func (n *Node) Reboot() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.replay = len(n.pods) > 0
	n.boot()
}
