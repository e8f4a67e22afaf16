package simnode

import (
	"fmt"
	"syscall"
)

// Layout is where pods go.
type Layout int

// Layouts: both (QoS folders and guaranteed pods directly under kubepods),
// QoS folders only, or directly under kubepods only.
const (
	LayoutBoth Layout = iota
	LayoutQoS
	LayoutDirect
)

// QoS is a pod's QoS class, which decides its parent cgroup.
type QoS string

// QoS classes: guaranteed pods sit directly under kubepods, the others
// under kubepods/burstable and kubepods/besteffort.
const (
	Guaranteed QoS = "guaranteed"
	Burstable  QoS = "burstable"
	BestEffort QoS = "besteffort"
)

// Accounting says whether populated cgroups are kmem-accounted.
type Accounting int

// AccountingAuto follows Config.Kubelet.Buggy.
const (
	AccountingAuto Accounting = iota
	AccountingOn
	AccountingOff
)

// Pod is one pod's cgroups and processes.
type Pod struct {
	Name       string // the pod cgroup's name ("pod<uid>")
	QoS        QoS    // "" is Guaranteed
	Limit      int64  // pod memory.limit_in_bytes; 0 leaves it unlimited
	Containers []Container
}

// Container is one container cgroup with its processes.
type Container struct {
	Name           string // the cgroup's name (a container id)
	Limit          int64  // 0 leaves it unlimited
	MemswLimit     int64  // 0 leaves it unlimited
	SoftLimit      int64  // 0 leaves it unlimited
	Swappiness     *int   // nil inherits the parent's
	OOMKillDisable bool
	MoveCharge     int
	Procs          []ProcSpec // the first is the container's main process
}

// PodsSpec describes a generated, realistic population.
type PodsSpec struct {
	Containers      int    // application containers (a pause container per pod comes on top)
	Layout          Layout // default both
	Accounting      Accounting
	LeakIDs         int  // css ids leaked by pods deleted before (taken before the pods)
	Forker          bool // one container gets a process that keeps forking
	ForkEvery       int  // default 6 kernel operations
	ForkLife        int  // default 20 kernel operations
	Hostile         bool // some pod and container names from HostileNames
	MaxPerPod       int  // application containers per pod, 1..MaxPerPod; default 3
	ProcsPerCtr     int  // processes per container, 1..ProcsPerCtr; default 3
	MaxThreads      int  // threads of a multi-threaded process, 2..MaxThreads; default 16
	NoShims         bool // no docker-containerd-shim per container in the root cgroup
	NoQoSWithDirect bool // LayoutDirect without the (empty) QoS cgroups
}

// HostileNames are cgroup names the kernel accepts and a careless tool
// mishandles: spaces, shell syntax, leading dashes, globs, quotes, unicode,
// control characters, names that look like options or escapes.
var HostileNames = []string{
	"pod with spaces",
	"pod;rm -rf ~",
	"$(reboot)",
	"-rf",
	"--help",
	"pöd-ünïcødé-日本-😀",
	"`id`",
	"tab\there",
	"..dots",
	`quote'"double`,
	"*?[glob]",
	`back\slash`,
	"pipe|amp&gt>lt<",
	" leading space",
	"trailing space ",
	"%s%n%x",
	"\x1b[31mred",
	"-",
}

const shimName = "docker-containerd-shim"

var appNames = []string{
	"nginx", "java", "python3", "node", "redis-server", "envoy", "prometheus", "fluentd",
	"coredns", "kube-proxy", "postgres", "ruby", "dotnet", "php-fpm", "mysqld", "memcached",
}

// AddPods populates the node the way a kubelet left it: kubepods with its
// QoS cgroups, leaked ids, then pods with their containers and processes.
// The pods are remembered: Reboot brings them back.
func (n *Node) AddPods(spec PodsSpec) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if spec.MaxPerPod <= 0 {
		spec.MaxPerPod = 3
	}
	if spec.ProcsPerCtr <= 0 {
		spec.ProcsPerCtr = 3
	}
	if spec.MaxThreads < 2 {
		spec.MaxThreads = 16
	}
	if spec.ForkEvery <= 0 {
		spec.ForkEvery = 6
	}
	if spec.ForkLife <= 0 {
		spec.ForkLife = 20
	}
	kmem := n.accounted(spec.Accounting)
	kp, err := n.ensureCgroup(n.root, n.cfg.Kubepods, kmem)
	if err != nil {
		return err
	}
	if spec.Layout != LayoutDirect || !spec.NoQoSWithDirect {
		for _, q := range []QoS{Burstable, BestEffort} {
			if _, err := n.ensureCgroup(kp, string(q), kmem); err != nil {
				return err
			}
		}
	}
	n.kubeletPending = false
	if err := n.leakIDs(spec.LeakIDs); err != nil {
		return err
	}
	var pods []Pod
	hostile := 0
	for left := spec.Containers; left > 0; {
		k := min(1+n.rng.IntN(spec.MaxPerPod), left)
		left -= k
		name := ""
		if spec.Hostile && hostile < len(HostileNames) {
			name = HostileNames[hostile]
			hostile++
		}
		pods = append(pods, n.genPodSized(n.pickQoS(spec.Layout), k, name, name != "", spec))
	}
	if spec.Forker && len(pods) > 0 {
		p := &pods[len(pods)/2]
		c := &p.Containers[len(p.Containers)-1]
		c.Procs = append(c.Procs, ProcSpec{Name: "forker", Anon: 1 << 20, ForkEvery: spec.ForkEvery, ForkLife: spec.ForkLife})
	}
	for _, p := range pods {
		if err := n.addPod(p, kmem); err != nil {
			return err
		}
		n.pods = append(n.pods, p)
	}
	return nil
}

// AddPod adds one pod as given (hostile names and exact values for tests).
// Its cgroups are kmem-accounted per acc.
func (n *Node) AddPod(p Pod, acc Accounting) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	kmem := n.accounted(acc)
	kp, err := n.ensureCgroup(n.root, n.cfg.Kubepods, kmem)
	if err != nil {
		return err
	}
	if p.QoS == Burstable || p.QoS == BestEffort {
		if _, err := n.ensureCgroup(kp, string(p.QoS), kmem); err != nil {
			return err
		}
	}
	if err := n.addPod(p, kmem); err != nil {
		return err
	}
	n.pods = append(n.pods, p)
	return nil
}

func (n *Node) accounted(acc Accounting) bool {
	switch acc {
	case AccountingOn:
		return true
	case AccountingOff:
		return false
	}
	return n.cfg.Kubelet.Buggy
}

// leakIDs takes k css ids for good, as k accounted cgroups created and
// removed earlier would have.
func (n *Node) leakIDs(k int) error {
	for range k {
		if _, ok := n.ids.alloc(); !ok {
			return fmt.Errorf("simnode: leak ids: %w", syscall.ENOSPC)
		}
		n.leaked++
	}
	return nil
}

// LeakIDs takes k more css ids for good.
func (n *Node) LeakIDs(k int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leakIDs(k)
}

func (n *Node) pickQoS(l Layout) QoS {
	r := n.rng.IntN(10)
	switch l {
	case LayoutDirect:
		return Guaranteed
	case LayoutQoS:
		if r < 7 {
			return Burstable
		}
		return BestEffort
	}
	switch {
	case r < 4:
		return Guaranteed
	case r < 8:
		return Burstable
	}
	return BestEffort
}

func (n *Node) containerID() string {
	return fmt.Sprintf("%016x%016x%016x%016x", n.rng.Uint64(), n.rng.Uint64(), n.rng.Uint64(), n.rng.Uint64())
}

func (n *Node) genPod(q QoS, apps int, name string) Pod {
	return n.genPodSized(q, apps, name, false, PodsSpec{ProcsPerCtr: 3, MaxThreads: 16})
}

// genPodSized makes a realistic pod: a pause container, then apps with
// limits as kubelet and docker set them for the QoS class. A hostile pod's
// first application container gets a hostile name too.
func (n *Node) genPodSized(q QoS, apps int, name string, hostile bool, spec PodsSpec) Pod {
	if name == "" {
		name = "pod" + n.uuid()
	}
	pod := Pod{Name: name, QoS: q}
	pod.Containers = append(pod.Containers, Container{
		Name:  n.containerID(),
		Procs: []ProcSpec{{Name: "pause", Anon: 512 << 10}},
	})
	allLimited := true
	for i := range apps {
		c := n.genContainer(q, spec)
		if hostile && i == 0 {
			c.Name = "-- " + name + " $(ctr)"
		}
		if c.Limit == 0 {
			allLimited = false
		}
		pod.Limit += c.Limit
		pod.Containers = append(pod.Containers, c)
	}
	if !allLimited || q == BestEffort {
		pod.Limit = 0
	}
	return pod
}

var limitChoices = []int64{64 << 20, 128 << 20, 256 << 20, 300000000, 512 << 20, 1 << 30, 1536 << 20, 2 << 30}

func (n *Node) genContainer(q QoS, spec PodsSpec) Container {
	r := n.rng
	c := Container{Name: n.containerID()}
	if q == Guaranteed || (q == Burstable && r.IntN(4) > 0) {
		c.Limit = limitChoices[r.IntN(len(limitChoices))]
		switch x := r.IntN(10); {
		case x < 5:
			c.MemswLimit = c.Limit
		case x < 8:
			c.MemswLimit = 2 * c.Limit
		}
		switch x := r.IntN(10); {
		case x < 3:
			c.SoftLimit = c.Limit / 2
		case x < 4:
			c.SoftLimit = 100000000
		}
	}
	switch x := r.IntN(10); {
	case x < 2:
		v := 0
		c.Swappiness = &v
	case x < 3:
		v := []int{10, 30, 100}[r.IntN(3)]
		c.Swappiness = &v
	}
	c.OOMKillDisable = r.IntN(20) == 0
	switch r.IntN(20) {
	case 0:
		c.MoveCharge = 1
	case 1:
		c.MoveCharge = 3
	}
	budget := int64(32 << 20)
	if c.Limit > 0 {
		budget = min(budget, c.Limit/4)
	}
	procs := 1 + r.IntN(spec.ProcsPerCtr)
	main := appNames[r.IntN(len(appNames))]
	for i := range procs {
		threads := 1
		if r.IntN(5) < 2 {
			threads = 2 + r.IntN(spec.MaxThreads-1)
		}
		anonMax := budget * 7 / 10 / int64(procs)
		fileMax := budget * 3 / 10 / int64(procs)
		name := main
		if i > 0 {
			name = main + "-worker"
		}
		c.Procs = append(c.Procs, ProcSpec{
			Name:    name,
			Threads: threads,
			Anon:    256<<10 + r.Int64N(max(anonMax-256<<10, 1)),
			File:    r.Int64N(max(fileMax, 1)),
		})
	}
	return c
}

// addPod creates a pod's cgroups the way kubelet and docker do: mkdir,
// kmem limit first when the kubelet has the bug, then the limits, then the
// processes.
func (n *Node) addPod(p Pod, kmem bool) error {
	kp := n.root.children[n.cfg.Kubepods]
	if kp == nil {
		return perr("mkdir", n.cfg.CgroupRoot+"/"+n.cfg.Kubepods+"/"+p.Name, syscall.ENOENT)
	}
	parent := kp
	if p.QoS == Burstable || p.QoS == BestEffort {
		parent = kp.children[string(p.QoS)]
		if parent == nil {
			return perr("mkdir", n.cfg.CgroupRoot+kp.pathJoin(string(p.QoS)+"/"+p.Name), syscall.ENOENT)
		}
	}
	pc, err := n.newManaged(parent, p.Name, kmem)
	if err != nil {
		return err
	}
	if err := n.setLimits(pc, p.Limit, 0, 0); err != nil {
		return err
	}
	for _, ct := range p.Containers {
		cc, err := n.newManaged(pc, ct.Name, kmem)
		if err != nil {
			return err
		}
		if err := n.setLimits(cc, ct.Limit, ct.MemswLimit, ct.SoftLimit); err != nil {
			return err
		}
		// 3.10 lets a cgroup differ from its parent here only outside a
		// hierarchy: under use_hierarchy=1 the values are inherited.
		if !pc.useHierarchy {
			if ct.Swappiness != nil {
				cc.swappiness = *ct.Swappiness
			}
			cc.oomKillDisable = ct.OOMKillDisable
		}
		cc.moveCharge = ct.MoveCharge
		n.spawnContainer(cc, ct.Procs)
	}
	return nil
}

func (n *Node) newManaged(parent *cgroup, name string, kmem bool) (*cgroup, error) {
	c, e := n.mkdirCgroup(parent, name)
	if e != 0 {
		return nil, perr("mkdir", n.cfg.CgroupRoot+parent.pathJoin(name), e)
	}
	if kmem { // as runc's EnableKernelMemoryAccounting: 1 turns it on, -1 lifts the limit
		for _, v := range []string{"1", "-1"} {
			if e := writeKmemLimit(n, c, v); e != 0 {
				return nil, perr("write", n.cfg.CgroupRoot+c.path()+"/memory.kmem.limit_in_bytes", e)
			}
		}
	}
	return c, nil
}

// setLimits writes limit, memsw limit and soft limit through the kernel's
// own rules (0: leave unlimited).
func (n *Node) setLimits(c *cgroup, limit, memsw, soft int64) error {
	for _, w := range []struct {
		v     int64
		file  string
		write func(*Node, *cgroup, string) syscall.Errno
	}{
		{limit, "memory.limit_in_bytes", writeLimit},
		{memsw, "memory.memsw.limit_in_bytes", writeMemswLimit},
		{soft, "memory.soft_limit_in_bytes", nil},
	} {
		if w.v <= 0 || (w.file == "memory.memsw.limit_in_bytes" && !n.swap) {
			continue
		}
		s := fmt.Sprint(w.v)
		if w.write == nil {
			v, _ := n.parseLimit(s)
			c.softLimit = v
			continue
		}
		if e := w.write(n, c, s); e != 0 {
			return perr("write", n.cfg.CgroupRoot+c.path()+"/"+w.file, e)
		}
	}
	return nil
}

// spawnContainer starts a container's processes (the first is the main
// one, the others its children) under a shim in the root cgroup. Pages
// that do not fit the limits are not charged.
func (n *Node) spawnContainer(c *cgroup, procs []ProcSpec) {
	if len(procs) == 0 {
		return
	}
	shim := 1
	if !n.cfg.NoShims {
		if p, e := n.spawn(n.root, ProcSpec{Name: shimName, Threads: 9, Anon: 2 << 20}); e == 0 {
			shim = p.pid
			if d := n.units["docker"]; d != nil && d.pid != 0 {
				p.ppid = d.pid
			}
		}
	}
	mainPid := shim
	for i, s := range procs {
		s.PPid = mainPid
		p, e := n.spawn(c, s)
		if e != 0 {
			s.Anon, s.File = 0, 0
			p, _ = n.spawn(c, s)
		}
		if i == 0 && p != nil {
			mainPid = p.pid
		}
	}
}
