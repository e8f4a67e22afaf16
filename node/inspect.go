package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"syscall"
)

// MaxCSSIDs is the 3.10 kernel's css id space (CSS_ID_MAX).
const MaxCSSIDs = 65535

// InspectOptions tune Inspect.
type InspectOptions struct {
	KubeletBinary string
	Margin        int  // ids to keep free beyond what the procedure needs
	NoProbe       bool // skip the mkdir probe
}

// Inspect reads everything needed to decide whether and how to remediate,
// changing nothing (the optional mkdir probe creates and removes one
// unaccounted cgroup). The verdict comes with the reasons behind it.
func (p *Procedure) Inspect(ctx context.Context, opts InspectOptions) (*InspectResult, error) {
	r := &InspectResult{CgroupRoot: p.cfg.CgroupRoot, IDsInUse: -1, LeakedIDs: -1, Headroom: Headroom{Available: -1}, Reasons: []string{}}
	var err error
	if r.BootID, err = p.BootID(); err != nil {
		return nil, err
	}
	legacy, release, err := p.kernelLegacy()
	if err != nil {
		return nil, err
	}
	r.Kernel, r.KernelGeneration = release, KernelModern
	if legacy {
		r.KernelGeneration = KernelLegacy
	}
	if r.MemoryMounted, err = p.memoryMounted(); err != nil {
		return nil, err
	}
	if err := p.inspectTree(r); err != nil {
		return nil, err
	}
	if err := p.inspectIDs(ctx, r, opts); err != nil {
		return nil, err
	}
	if r.Kubelet, err = p.inspectKubelet(ctx, opts.KubeletBinary); err != nil {
		return nil, err
	}
	if r.Phase, err = p.phase(); err != nil {
		return nil, err
	}
	if r.KubepodsExists && legacy {
		if r.Blocked, err = p.inheritanceBlocker(); err != nil {
			return nil, err
		}
	}
	decide(r)
	return r, nil
}

// memoryMounted tells whether the cgroup root is a cgroup v1 memory mount.
func (p *Procedure) memoryMounted() (bool, error) {
	raw, err := p.sys.ReadFile("/proc/self/mounts")
	if err != nil {
		return false, fmt.Errorf("read /proc/self/mounts: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 4 && f[1] == p.cfg.CgroupRoot && f[2] == "cgroup" && hasController([]byte(f[3]), "memory") {
			return true, nil
		}
	}
	return false, nil
}

func (p *Procedure) inspectTree(r *InspectResult) error {
	if r.MemoryMounted {
		if ok, err := p.exists(p.cfg.CgroupRoot + "/kubepods.slice"); err != nil {
			return err
		} else if ok {
			r.Driver = "systemd"
		}
	}
	exists, err := p.exists(p.cfg.kubepods().root)
	if err != nil {
		return err
	}
	r.KubepodsExists = exists
	if !exists {
		if r.Driver == "" {
			r.Driver = "none"
		}
		return nil
	}
	if r.Driver == "" {
		r.Driver = "cgroupfs"
	}
	rels, err := walk(p.sys, p.cfg.kubepods())
	if err != nil {
		return err
	}
	r.SubtreeDirs = len(rels)
	for _, rel := range rels {
		dir, _ := p.cfg.kubepods().dir(rel)
		countLayout(&r.Layout, rel)
		pids, err := readPids(p.sys, dir)
		if err != nil {
			return err
		}
		r.SubtreeProcs += len(pids)
		kmem, err := kmemAccounted(p.sys, dir)
		if err != nil {
			return err
		}
		if kmem {
			r.AccountedDirs++
			r.KubepodsKmem = r.KubepodsKmem || rel == ""
		}
	}
	return nil
}

// countLayout classifies a kubepods-relative path: pods sit under a QoS
// folder (burstable, besteffort) or directly under kubepods (guaranteed).
func countLayout(l *Layout, rel string) {
	parts := strings.Split(rel, "/")
	qos := parts[0] == "burstable" || parts[0] == "besteffort"
	switch {
	case rel == "":
	case qos && len(parts) == 2:
		l.QoSPods++
	case qos && len(parts) == 3, !qos && len(parts) == 2:
		l.Containers++
	case !qos && len(parts) == 1:
		l.DirectPods++
	}
}

// inspectIDs reads the live memcg count, the css ids in use (systemtap,
// when the node has it) and the mkdir probe, then the headroom.
func (p *Procedure) inspectIDs(ctx context.Context, r *InspectResult, opts InspectOptions) error {
	var err error
	if r.LiveMemcgs, err = p.liveMemcgs(); err != nil {
		return err
	}
	r.IDsSource = "unknown: systemtap (stap) is not installed"
	if n, source := p.stapIDs(ctx); n >= 0 {
		r.IDsInUse, r.IDsSource = n, "systemtap"
		r.LeakedIDs = max(n-r.LiveMemcgs, 0)
	} else if source != "" {
		r.IDsSource = source
	}
	r.Headroom.Required = 2*r.SubtreeDirs + opts.Margin
	if r.IDsInUse >= 0 {
		r.Headroom.Known = true
		r.Headroom.Available = MaxCSSIDs - r.IDsInUse
	}
	r.MkdirProbe = "skipped"
	if !opts.NoProbe && r.MemoryMounted {
		r.MkdirProbe = p.mkdirProbe()
		if r.MkdirProbe == "enospc" {
			r.Headroom.Known, r.Headroom.Available = true, 0
		}
	}
	return nil
}

func (p *Procedure) liveMemcgs() (int, error) {
	raw, err := p.sys.ReadFile("/proc/cgroups")
	if err != nil {
		return 0, fmt.Errorf("read /proc/cgroups: %w", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "memory" {
			return strconv.Atoi(f[2])
		}
	}
	return 0, errors.New("/proc/cgroups has no memory row: the memory controller is not built in")
}

// stapScript counts the memory controller's css ids in use, leaked ones
// included: on 3.10 a leaked memcg keeps its entry in the subsystem's idr,
// so css_lookup still finds it. It prints one line: "ids_in_use N".
const stapScript = `%{
#include <linux/cgroup.h>
#include <linux/kallsyms.h>
#include <linux/rcupdate.h>
%}
function ids_in_use:long () %{
	struct cgroup_subsys *ss = (struct cgroup_subsys *)kallsyms_lookup_name("mem_cgroup_subsys");
	int id, n = 0;
	if (!ss) { STAP_RETVALUE = -1; return; }
	rcu_read_lock();
	for (id = 1; id <= 65535; id++)
		if (css_lookup(ss, id))
			n++;
	rcu_read_unlock();
	STAP_RETVALUE = n;
%}
probe begin { printf("ids_in_use %d\n", ids_in_use()); exit() }
`

// stapIDs runs the systemtap script; it returns -1 and why when the count
// cannot be read, never a guess.
func (p *Procedure) stapIDs(ctx context.Context) (int, string) {
	out, err := p.sys.Run(ctx, []string{"stap", "-g", "-e", stapScript})
	if errors.Is(err, fs.ErrNotExist) {
		return -1, ""
	}
	if err != nil || out.ExitCode != 0 {
		return -1, fmt.Sprintf("unknown: stap failed (exit %d %v): %s", out.ExitCode, err, firstLine(out.Stderr))
	}
	for _, line := range strings.Split(string(out.Stdout), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ids_in_use "); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return n, ""
			}
		}
	}
	return -1, "unknown: stap printed no ids_in_use line"
}

// mkdirProbe creates and removes one cgroup at the hierarchy's root (never
// accounted, so its id comes back): ENOSPC means the ids are exhausted.
func (p *Procedure) mkdirProbe() string {
	dir := p.cfg.CgroupRoot + "/kmemfix-probe"
	err := p.sys.Mkdir(dir)
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "enospc"
	case err != nil && !errors.Is(err, fs.ErrExist):
		return "error: " + err.Error()
	}
	if err := p.sys.Remove(dir); err != nil {
		return "error: created but not removed: " + err.Error()
	}
	return "ok"
}

func (p *Procedure) inspectKubelet(ctx context.Context, binary string) (Kubelet, error) {
	k := Kubelet{Unit: p.cfg.KubeletUnit, Binary: binary}
	state, err := p.serviceState(ctx, p.cfg.KubeletUnit)
	if err != nil {
		k.State = "unknown: " + err.Error()
	} else {
		k.State = state
	}
	if binary == "" {
		return k, nil
	}
	if k.SHA256, err = FileSHA256(p.sys, binary); err != nil {
		k.SHA256 = ""
		k.Version = "unknown: " + err.Error()
		return k, nil
	}
	if out, err := p.sys.Run(ctx, []string{binary, "--version"}); err == nil && out.ExitCode == 0 {
		k.Version = firstLine(out.Stdout)
	}
	if k.Backup, err = p.exists(binary + backupSuffix); err != nil {
		return k, err
	}
	return k, nil
}

// inheritanceBlocker: on 3.10, under a root with use_hierarchy=1, a new
// cgroup inherits swappiness from the root (vm.swappiness) and the kernel
// refuses to set another value. If vm.swappiness changed since kubepods was
// created, neither the mirror nor the rebuilt kubepods could get kubepods'
// value back, so the procedure would fail at its first step.
func (p *Procedure) inheritanceBlocker() (string, error) {
	root, err := readValues(p.sys, p.cfg.CgroupRoot)
	if err != nil {
		return "", err
	}
	kubepods, err := readValues(p.sys, p.cfg.kubepods().root)
	if err != nil {
		return "", err
	}
	if root[fileUseHierarchy] != "1" || root[fileSwappiness] == kubepods[fileSwappiness] {
		return "", nil
	}
	return fmt.Sprintf("kubepods has swappiness %s but vm.swappiness is now %s: on 3.10 a new cgroup under a hierarchy inherits the latter and cannot be changed, so the rebuilt kubepods would differ; run `sysctl vm.swappiness=%s` on the node first (and make it persistent)",
		kubepods[fileSwappiness], root[fileSwappiness], kubepods[fileSwappiness]), nil
}

// phase reads how far a remediation on this node has come.
func (p *Procedure) phase() (string, error) {
	j, err := loadJournal(p.sys, p.cfg)
	if err != nil {
		return "", err
	}
	if j == nil {
		return PhaseIdle, nil
	}
	mirror, err := p.exists(p.cfg.mirror().root)
	if err != nil {
		return "", err
	}
	switch {
	case j.RebuildStarted && !mirror:
		return PhaseRebuilt, nil
	case j.CommitStarted || j.RebuildStarted:
		return PhaseCommitting, nil
	case mirror:
		return PhaseMirrored, nil
	default:
		return PhaseSnapshot, nil
	}
}
