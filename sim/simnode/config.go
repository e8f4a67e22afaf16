package simnode

import "path"

// Defaults of Config.
const (
	DefaultKernel      = "3.10.0-1160.el7.x86_64"
	DefaultCgroupRoot  = "/sys/fs/cgroup/memory"
	DefaultKubepods    = "kubepods"
	DefaultMaxIDs      = 65535
	DefaultPageSize    = 4096
	DefaultKubelet     = "/usr/bin/kubelet"
	DefaultKubeletUnit = "kubelet"
	DefaultVersion     = "v1.12.3"
	DefaultAllocatable = 60 << 30
	// HealthzURL is where the kubelet answers while it runs.
	HealthzURL = "http://127.0.0.1:10248/healthz"
)

// Config describes a simulated node. The zero value is a CentOS 7 node with
// a fixed (nokmem) kubelet; set Kubelet.Buggy for an affected one.
type Config struct {
	Kernel     string // uname -r; default DefaultKernel. Not 3.x: no id leak, slabinfo reads empty.
	CgroupRoot string // memory hierarchy mount point; default DefaultCgroupRoot
	Unmounted  bool   // the memory controller is not mounted at all
	Kubepods   string // kubelet's top cgroup under CgroupRoot; default "kubepods"
	MaxIDs     int    // css ids available; default 65535 (small values make fast tests)
	PageSize   int64  // default 4096

	RootNoHierarchy bool // root memory.use_hierarchy=0 (systemd sets 1 on CentOS 7)
	NoSwapAccount   bool // no memory.memsw.* files (swapaccount=0)

	Stap       bool // systemtap installed
	NoDocker   bool // no docker binary nor unit
	NoCadvisor bool // no cadvisor unit

	NoShims bool // no docker-containerd-shim per container in the root cgroup

	Kubelet KubeletConfig
	Churn   ChurnConfig
	Seed    int64
}

// KubeletConfig describes the kubelet unit and its installed binary.
type KubeletConfig struct {
	Binary      string // default /usr/bin/kubelet
	Unit        string // default "kubelet"
	Version     string // default v1.12.3
	Buggy       bool   // the installed binary writes memory.kmem.limit_in_bytes
	FailStart   bool   // starting the unit fails (state failed, exit 1)
	Stopped     bool   // inactive when the node is created
	Disabled    bool   // not started by Reboot
	Allocatable int64  // kubepods memory.limit_in_bytes it sets; default 60 GiB
}

// ChurnConfig is what a running kubelet does on each Tick.
type ChurnConfig struct {
	DeletePods int    // pods deleted per Tick; default 1 (negative: none)
	CreatePods int    // pods created per Tick; default 1 (negative: none)
	Layout     Layout // where new pods go; default both layouts
}

func (c Config) withDefaults() Config {
	if c.Kernel == "" {
		c.Kernel = DefaultKernel
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = DefaultCgroupRoot
	}
	c.CgroupRoot = path.Clean(c.CgroupRoot)
	if c.Kubepods == "" {
		c.Kubepods = DefaultKubepods
	}
	if c.MaxIDs <= 0 {
		c.MaxIDs = DefaultMaxIDs
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	k := &c.Kubelet
	if k.Binary == "" {
		k.Binary = DefaultKubelet
	}
	k.Binary = path.Clean(k.Binary)
	if k.Unit == "" {
		k.Unit = DefaultKubeletUnit
	}
	if k.Version == "" {
		k.Version = DefaultVersion
	}
	if k.Allocatable <= 0 {
		k.Allocatable = DefaultAllocatable
	}
	if c.Churn.DeletePods == 0 {
		c.Churn.DeletePods = 1
	}
	if c.Churn.CreatePods == 0 {
		c.Churn.CreatePods = 1
	}
	return c
}
