package node

import "fmt"

// decide sets the verdict and the reasons a human can act on. The order
// matters: a node we cannot read correctly is unsupported before anything
// else is concluded about it.
func decide(r *InspectResult) {
	reason := func(format string, args ...any) { r.Reasons = append(r.Reasons, fmt.Sprintf(format, args...)) }
	switch {
	case !r.MemoryMounted:
		r.Verdict = VerdictUnsupported
		reason("%s is not a cgroup v1 memory mount (cgroup v2 or another root?): kmemfix works on cgroup v1 only", r.CgroupRoot)
		return
	case r.Driver == "systemd":
		r.Verdict = VerdictUnsupported
		reason("kubelet uses the systemd cgroup driver (kubepods.slice): only the cgroupfs layout is supported")
		return
	case r.Phase != PhaseIdle:
		// A remediation is in progress: whatever the tree looks like now, it
		// must be finished or compensated, so the node counts as affected.
		r.Verdict = VerdictAffected
		reason("a remediation is in progress on this node (phase %s): resume it", r.Phase)
		return
	case !r.KubepodsExists:
		r.Verdict = VerdictNotAffected
		reason("%s/kubepods does not exist: no kubelet pods on cgroupfs here", r.CgroupRoot)
		return
	case r.KernelGeneration != KernelLegacy:
		r.Verdict = VerdictUnsupported
		reason("kernel %s is not a 3.10-generation kernel: the kmem css-id leak and its slabinfo signature do not apply here (%d of %d dirs read as accounted, which means nothing on this kernel)", r.Kernel, r.AccountedDirs, r.SubtreeDirs)
		return
	case r.AccountedDirs == 0:
		r.Verdict = VerdictNotAffected
		reason("no cgroup under kubepods has kmem accounting (memory.kmem.slabinfo gives EIO)")
		return
	}
	reason("%d of %d cgroups under kubepods are kmem-accounted (kubepods itself: %t)", r.AccountedDirs, r.SubtreeDirs, r.KubepodsKmem)
	if r.Blocked != "" {
		r.Verdict = VerdictUnsupported
		reason("%s", r.Blocked)
		return
	}
	switch {
	case r.Headroom.Known && r.Headroom.Available < r.Headroom.Required:
		r.Verdict = VerdictNeedsReboot
		reason("only %d css ids are free and the procedure needs %d (mirror + rebuild + margin): reboot this node instead", r.Headroom.Available, r.Headroom.Required)
	case !r.Headroom.Known:
		r.Verdict = VerdictAffected
		reason("css ids in use are %s; the mkdir probe says %q: headroom is unknown, so policy decides", r.IDsSource, r.MkdirProbe)
	default:
		r.Verdict = VerdictAffected
		reason("%d css ids free, %d needed: the procedure fits", r.Headroom.Available, r.Headroom.Required)
	}
	if r.LeakedIDs > 0 {
		reason("%d css ids are leaked already; they come back only with a reboot", r.LeakedIDs)
	}
}
