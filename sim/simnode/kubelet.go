package simnode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"
)

const kubeletMagic = "#!simnode kubelet\n"

// KubeletBinary is the content of a simulated kubelet binary. Its version
// and whether it writes memory.kmem.limit_in_bytes on every cgroup it
// creates (kmem: the 1.8-1.13 bug) are part of the content, so the buggy
// and the fixed (nokmem) builds have different sha256.
func KubeletBinary(version string, kmem bool) []byte {
	var b bytes.Buffer
	b.WriteString(kubeletMagic)
	fmt.Fprintf(&b, "version=%s\nkmem=%t\n", version, kmem)
	// Some deterministic bulk, so it looks like a binary to a checksum.
	seed := sha256.Sum256(b.Bytes())
	for i := 0; i < 64; i++ {
		seed = sha256.Sum256(seed[:])
		b.Write(seed[:])
	}
	return b.Bytes()
}

// ParseKubeletBinary reads what KubeletBinary wrote.
func ParseKubeletBinary(data []byte) (version string, kmem bool, ok bool) {
	rest, found := bytes.CutPrefix(data, []byte(kubeletMagic))
	if !found {
		return "", false, false
	}
	for range 2 {
		line, tail, _ := bytes.Cut(rest, []byte("\n"))
		rest = tail
		k, v, _ := strings.Cut(string(line), "=")
		switch k {
		case "version":
			version = v
		case "kmem":
			kmem = v == "true"
		}
	}
	return version, kmem, version != ""
}

// KubeletInfo is the kubelet binary the kubelet unit was last started from.
type KubeletInfo struct {
	Binary  string
	Version string
	Kmem    bool   // it writes kmem limits (the bug)
	SHA256  string // of the binary it started from
	Running bool
}

// RunningKubelet tells which binary the kubelet runs, if it runs.
func (n *Node) RunningKubelet() KubeletInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := n.kubelet
	u := n.units[n.cfg.Kubelet.Unit]
	k.Running = u != nil && u.state == stateActive
	return k
}

// KubeletLog returns the kubelet's recent errors (mkdir ENOSPC and the like).
func (n *Node) KubeletLog() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.kubeletLog...)
}

func (n *Node) logKubelet(format string, args ...any) {
	n.kubeletLog = append(n.kubeletLog, fmt.Sprintf(format, args...))
	if len(n.kubeletLog) > 200 {
		n.kubeletLog = n.kubeletLog[len(n.kubeletLog)-100:]
	}
}

// startKubelet reads the kubelet binary from disk: its content decides how
// the kubelet behaves until the next start.
func (n *Node) startKubelet(u *unit, syncKubepods bool) error {
	bin := n.cfg.Kubelet.Binary
	f, ok := n.regularFile(bin)
	if !ok {
		return fmt.Errorf("exec %s: %w", bin, syscall.ENOENT)
	}
	if f.mode&0o111 == 0 {
		return fmt.Errorf("exec %s: %w", bin, syscall.EACCES)
	}
	version, kmem, ok := ParseKubeletBinary(f.data)
	if !ok {
		return fmt.Errorf("exec %s: %w", bin, syscall.ENOEXEC)
	}
	if u.failStart {
		return errors.New("kubelet exited: failed to run Kubelet (fault injected)")
	}
	sum := sha256.Sum256(f.data)
	n.kubelet = KubeletInfo{Binary: bin, Version: version, Kmem: kmem, SHA256: hex.EncodeToString(sum[:])}
	n.kubeletPending = true
	if syncKubepods {
		if err := n.kubeletSetup(); err != nil {
			return err
		}
	}
	return nil
}

// kubeletSetup is the kubelet's container manager start: kubepods and its
// QoS cgroups exist (created, kmem-accounted when the binary has the bug),
// then, after a reboot, the pods come back.
func (n *Node) kubeletSetup() error {
	if !n.kubeletPending {
		return nil
	}
	if n.cfg.Unmounted {
		return fmt.Errorf("failed to start ContainerManager: cgroup memory not mounted: %w", syscall.ENOENT)
	}
	kp, err := n.ensureCgroup(n.root, n.cfg.Kubepods, n.kubelet.Kmem)
	if err != nil {
		return err
	}
	if _, err := n.ensureCgroup(kp, string(Burstable), n.kubelet.Kmem); err != nil {
		return err
	}
	if _, err := n.ensureCgroup(kp, string(BestEffort), n.kubelet.Kmem); err != nil {
		return err
	}
	n.kubeletPending = false
	if n.replay {
		n.replay = false
		for _, p := range n.pods {
			if err := n.addPod(p, n.kubelet.Kmem); err != nil {
				n.logKubelet("%v", err)
			}
		}
	}
	return nil
}

// ensureCgroup creates a kubelet-managed cgroup when it is missing.
func (n *Node) ensureCgroup(parent *cgroup, name string, kmem bool) (*cgroup, error) {
	if c := parent.children[name]; c != nil {
		return c, nil
	}
	c, e := n.mkdirCgroup(parent, name)
	if e != 0 {
		return nil, perr("mkdir", n.cfg.CgroupRoot+parent.pathJoin(name), e)
	}
	if kmem { // runc's EnableKernelMemoryAccounting: 1 turns it on, -1 lifts the limit
		_ = writeKmemLimit(n, c, "1")
		_ = writeKmemLimit(n, c, "-1")
	}
	if parent == n.root {
		_ = writeLimit(n, c, fmt.Sprint(n.cfg.Kubelet.Allocatable))
	}
	return c, nil
}

func (c *cgroup) pathJoin(name string) string {
	if c.parent == nil {
		return "/" + name
	}
	return c.path() + "/" + name
}

// Tick is one round of a running kubelet's pod churn: it deletes
// Churn.DeletePods pods (killing their processes, then rmdir leaf-first)
// and creates Churn.CreatePods pods in both layouts, writing
// memory.kmem.limit_in_bytes on each new cgroup when its binary has the bug.
// It returns what the kubelet would log (mkdir: no space left on device).
// A stopped kubelet does nothing. Tick is not a kernel operation of the
// procedure: it neither advances the clock nor counts as an operation.
func (n *Node) Tick() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	u := n.units[n.cfg.Kubelet.Unit]
	if u == nil || u.state != stateActive {
		return nil
	}
	if err := n.kubeletSetup(); err != nil {
		n.logKubelet("%v", err)
		return err
	}
	kp := n.root.children[n.cfg.Kubepods]
	if kp == nil {
		err := perr("mkdir", n.cfg.CgroupRoot+"/"+n.cfg.Kubepods+"/...", syscall.ENOENT)
		n.logKubelet("%v", err)
		return err
	}
	var errs []error
	for i := 0; i < n.cfg.Churn.DeletePods; i++ {
		pods := n.podCgroups(kp)
		if len(pods) == 0 {
			break
		}
		if err := n.deletePod(pods[n.rng.IntN(len(pods))]); err != nil {
			errs = append(errs, err)
		}
	}
	for i := 0; i < n.cfg.Churn.CreatePods; i++ {
		pod := n.genPod(n.pickQoS(n.cfg.Churn.Layout), 1+n.rng.IntN(2), "")
		if err := n.addPod(pod, n.kubelet.Kmem); err != nil {
			errs = append(errs, err)
		}
	}
	for _, err := range errs {
		n.logKubelet("%v", err)
	}
	return errors.Join(errs...)
}

// RunChurn calls Tick every interval until ctx ends (for demos).
func (n *Node) RunChurn(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = n.Tick()
		}
	}
}

// podCgroups lists the pod cgroups under kubepods: its children other than
// the QoS cgroups, and the QoS cgroups' children.
func (n *Node) podCgroups(kp *cgroup) []*cgroup {
	var pods []*cgroup
	for _, name := range kp.sortedChildren() {
		c := kp.children[name]
		if name == string(Burstable) || name == string(BestEffort) {
			for _, pn := range c.sortedChildren() {
				pods = append(pods, c.children[pn])
			}
			continue
		}
		pods = append(pods, c)
	}
	return pods
}

// deletePod kills a pod's processes (and their shims) and removes its
// cgroups, leaves first.
func (n *Node) deletePod(pod *cgroup) error {
	var cgs []*cgroup
	walkCgroups(pod, func(c *cgroup) { cgs = append(cgs, c) })
	for _, c := range cgs {
		for _, t := range c.tasks {
			p := t.p
			if parent := n.procs[p.ppid]; parent != nil && parent.name == shimName {
				n.exit(parent)
			}
			n.exit(p)
		}
	}
	for i := len(cgs) - 1; i >= 0; i-- {
		if e := n.rmdirCgroup(cgs[i]); e != 0 {
			return perr("remove", n.cfg.CgroupRoot+cgs[i].path(), e)
		}
	}
	return nil
}
