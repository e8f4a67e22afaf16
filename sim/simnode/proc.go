package simnode

import (
	"container/heap"
	"fmt"
	"sort"
	"strconv"
	"syscall"
)

// proc is a thread group (a process).
type proc struct {
	pid, ppid int
	name      string
	threads   []*thread // live threads, leader first
	anon      int64
	file      int64
	anonCg    *cgroup // owner of the anon pages
	fileCg    *cgroup // owner of the file pages
	alive     bool
	origin    string // path in the other (unmodelled) hierarchies
	forkEvery int64
	forkLife  int64
	forkPhase int64
}

// thread is a task: what the tasks file lists and moves.
type thread struct {
	tid int
	p   *proc
	cg  *cgroup
}

// ProcSpec describes a process to spawn.
type ProcSpec struct {
	Name    string
	PPid    int   // parent pid; 0: 1 (systemd)
	Threads int   // 1 when 0
	Anon    int64 // anonymous pages charged at start (rounded up to pages)
	File    int64 // page cache charged at start (rounded up to pages)
	// ForkEvery > 0 makes a forking process: every ForkEvery kernel
	// operations it forks a child into the cgroup it is in then, and each
	// child exits ForkLife operations later (default 3*ForkEvery).
	ForkEvery int
	ForkLife  int
}

// ProcInfo describes a live process for tests.
type ProcInfo struct {
	Pid, PPid int
	Name      string
	Cgroup    string // the leader's memory cgroup, as /proc/<pid>/cgroup shows it
	Tasks     []TaskInfo
	Anon      int64
	File      int64
	AnonOwner string // cgroup that owns the anon pages
	FileOwner string
	Forker    bool
}

// TaskInfo is one thread of a process.
type TaskInfo struct {
	Tid    int
	Cgroup string
}

type exitEvent struct {
	at  int64
	pid int
}

type exitHeap []exitEvent

func (h exitHeap) Len() int { return len(h) }
func (h exitHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].pid < h[j].pid
}
func (h exitHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *exitHeap) Push(x any)   { *h = append(*h, x.(exitEvent)) }
func (h *exitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (n *Node) pageUp(b int64) int64 {
	if b <= 0 {
		return 0
	}
	ps := n.cfg.PageSize
	return (b + ps - 1) / ps * ps
}

// spawn starts a process in c, charging its pages to c. It fails with
// ENOMEM when the pages do not fit under c's limits.
func (n *Node) spawn(c *cgroup, spec ProcSpec) (*proc, syscall.Errno) {
	return n.spawnFrom(c, spec, "")
}

// spawnFrom is spawn with the process's path in the other hierarchies
// ("": c's path).
func (n *Node) spawnFrom(c *cgroup, spec ProcSpec, origin string) (*proc, syscall.Errno) {
	anon, file := n.pageUp(spec.Anon), n.pageUp(spec.File)
	if x := overLimit(c, anon+file, nil); x != nil {
		fail(x, anon+file)
		return nil, syscall.ENOMEM
	}
	threads := max(spec.Threads, 1)
	ppid := spec.PPid
	if ppid == 0 {
		ppid = 1
	}
	p := &proc{
		pid: n.nextPid, ppid: ppid, name: spec.Name, alive: true,
		anon: anon, file: file, anonCg: c, fileCg: c, origin: origin,
	}
	if origin == "" {
		p.origin = c.path()
	}
	if p.name == "" {
		p.name = "proc"
	}
	for i := range threads {
		t := &thread{tid: n.nextPid + i, p: p, cg: c}
		p.threads = append(p.threads, t)
		c.tasks[t.tid] = t
		n.threads[t.tid] = t
	}
	n.nextPid += threads
	n.procs[p.pid] = p
	c.charged[p] = struct{}{}
	addCharge(c, anon, file)
	if spec.ForkEvery > 0 {
		p.forkEvery = int64(spec.ForkEvery)
		p.forkLife = int64(spec.ForkLife)
		if p.forkLife <= 0 {
			p.forkLife = 3 * p.forkEvery
		}
		p.forkPhase = n.rng.Int64N(p.forkEvery)
		n.forkers = append(n.forkers, p)
	}
	return p, 0
}

// exit ends a process: its threads leave their cgroups and its pages are
// uncharged.
func (n *Node) exit(p *proc) {
	if !p.alive {
		return
	}
	p.alive = false
	for _, t := range p.threads {
		delete(t.cg.tasks, t.tid)
		delete(n.threads, t.tid)
	}
	addCharge(p.anonCg, -p.anon, 0)
	addCharge(p.fileCg, 0, -p.file)
	delete(p.anonCg.charged, p)
	delete(p.fileCg.charged, p)
	delete(n.procs, p.pid)
}

// fork makes a forking process's child in the cgroup the parent's leader
// is in now. The child gets one page of anon memory when it fits.
func (n *Node) fork(p *proc) {
	c := p.threads[0].cg
	var anon int64
	if overLimit(c, n.cfg.PageSize, nil) == nil {
		anon = n.cfg.PageSize
	}
	child, e := n.spawnFrom(c, ProcSpec{Name: p.name, PPid: p.pid, Anon: anon}, p.origin)
	if e != 0 {
		return
	}
	heap.Push(&n.exits, exitEvent{at: n.clock + p.forkLife, pid: child.pid})
}

// tick advances the kernel clock by one operation: scheduled exits happen
// and forking processes fork.
func (n *Node) tick() {
	n.clock++
	for len(n.exits) > 0 && n.exits[0].at <= n.clock {
		e := heap.Pop(&n.exits).(exitEvent)
		if p := n.procs[e.pid]; p != nil {
			n.exit(p)
		}
	}
	kept := n.forkers[:0]
	for _, p := range n.forkers {
		if !p.alive {
			continue
		}
		kept = append(kept, p)
		if (n.clock+p.forkPhase)%p.forkEvery == 0 {
			n.fork(p)
		}
	}
	n.forkers = kept
}

// attach is a write to cgroup.procs (whole) or tasks of dst.
func (n *Node) attach(dst *cgroup, s string, whole bool) syscall.Errno {
	v, ok := parseU64(s)
	if !ok || v == 0 {
		return syscall.EINVAL // pid 0 is the writer itself, which is not simulated
	}
	if v > 1<<22 {
		return syscall.ESRCH
	}
	t := n.threads[int(v)]
	if t == nil {
		return syscall.ESRCH
	}
	p := t.p
	group := []*thread{t}
	if whole {
		group = p.threads
	}
	leader := p.threads[0]
	moveAnon, moveFile := false, false
	// Charges move only with the mm owner, only from the cgroup it leaves.
	if from := leader.cg; (whole || t == leader) && from != dst {
		moveAnon = dst.moveCharge&1 != 0 && p.anonCg == from && p.anon > 0
		moveFile = dst.moveCharge&2 != 0 && p.fileCg == from && p.file > 0
		var delta int64
		if moveAnon {
			delta += p.anon
		}
		if moveFile {
			delta += p.file
		}
		if x := overLimit(dst, delta, from); x != nil {
			fail(x, delta)
			return syscall.ENOMEM
		}
	}
	for _, t := range group {
		if t.cg == dst {
			continue
		}
		delete(t.cg.tasks, t.tid)
		t.cg = dst
		dst.tasks[t.tid] = t
	}
	if moveAnon {
		setAnonOwner(p, dst)
	}
	if moveFile {
		setFileOwner(p, dst)
	}
	return 0
}

// listProcs is cgroup.procs: the thread groups with a task in c, sorted.
func listProcs(c *cgroup) []byte {
	seen := make(map[int]struct{}, len(c.tasks))
	pids := make([]int, 0, len(c.tasks))
	for _, t := range c.tasks {
		if _, ok := seen[t.p.pid]; !ok {
			seen[t.p.pid] = struct{}{}
			pids = append(pids, t.p.pid)
		}
	}
	return pidLines(pids)
}

// listTasks is the tasks file: the tids in c, sorted.
func listTasks(c *cgroup) []byte {
	tids := make([]int, 0, len(c.tasks))
	for tid := range c.tasks {
		tids = append(tids, tid)
	}
	return pidLines(tids)
}

func pidLines(ids []int) []byte {
	sort.Ints(ids)
	b := make([]byte, 0, len(ids)*7)
	for _, id := range ids {
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, '\n')
	}
	return b
}

// Spawn starts a process in the cgroup at rel ("kubepods/pod1/c1" or
// "/kubepods/pod1/c1"; "" or "/" for the root) and returns its pid.
func (n *Node) Spawn(rel string, spec ProcSpec) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.cgroupAt(rel)
	if c == nil {
		return 0, fmt.Errorf("simnode: spawn in %q: %w", rel, syscall.ENOENT)
	}
	p, e := n.spawn(c, spec)
	if e != 0 {
		return 0, fmt.Errorf("simnode: spawn in %q: %w", rel, e)
	}
	return p.pid, nil
}

// Kill ends the process that pid (or any of its threads' tids) belongs to.
func (n *Node) Kill(pid int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	t := n.threads[pid]
	if t == nil {
		return fmt.Errorf("simnode: kill %d: %w", pid, syscall.ESRCH)
	}
	n.exit(t.p)
	return nil
}

// CgroupOf returns the memory cgroup of a live task (a pid or a tid), as
// /proc/<pid>/cgroup shows it ("/kubepods/pod1/c1").
func (n *Node) CgroupOf(pid int) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t := n.threads[pid]
	if t == nil {
		return "", false
	}
	return t.cg.path(), true
}

// Alive tells whether a pid or tid is a live task.
func (n *Node) Alive(pid int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.threads[pid] != nil
}

// Processes lists every live process, by pid.
func (n *Node) Processes() []ProcInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]ProcInfo, 0, len(n.procs))
	for _, p := range n.procs {
		info := ProcInfo{
			Pid: p.pid, PPid: p.ppid, Name: p.name, Cgroup: p.threads[0].cg.path(),
			Anon: p.anon, File: p.file, AnonOwner: p.anonCg.path(), FileOwner: p.fileCg.path(),
			Forker: p.forkEvery > 0,
		}
		for _, t := range p.threads {
			info.Tasks = append(info.Tasks, TaskInfo{Tid: t.tid, Cgroup: t.cg.path()})
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pid < out[j].Pid })
	return out
}
