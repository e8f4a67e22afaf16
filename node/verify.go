package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
)

// Verify compares the node with the snapshot (step 9): every process that
// still exists sits in the same relative path, every preserved value is
// equal, no dir under kubepods is kmem-accounted (3.10), the mirror is gone
// and a test mkdir/rmdir under kubepods works. It reports every difference.
func (p *Procedure) Verify(ctx context.Context) (*VerifyResult, error) {
	j, err := p.requireJournal("verify")
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{Dirs: len(j.Dirs), Problems: []string{}}
	problem := func(format string, args ...any) { res.Problems = append(res.Problems, fmt.Sprintf(format, args...)) }

	if mirror, err := p.exists(p.cfg.mirror().root); err != nil {
		return nil, err
	} else if mirror {
		problem("%s still exists", p.cfg.mirror().root)
	}
	for i, d := range j.Dirs {
		if err := interrupted(ctx); err != nil {
			return nil, err
		}
		if err := p.verifyDir(d, res, problem); err != nil {
			return nil, err
		}
		p.tick("verify", "compare", i+1, len(j.Dirs))
	}
	if err := p.verifyNotAccounted(problem); err != nil {
		return nil, err
	}
	p.probeMkdir(problem)
	if n := len(res.Problems); n > 0 {
		first := res.Problems[0]
		if n > maxProblems {
			// Bounded: the result lands in workflow history.
			res.Problems = append(res.Problems[:maxProblems], fmt.Sprintf("... and %d more", n-maxProblems))
		}
		return res, &StepError{Code: CodeVerify, Message: fmt.Sprintf("%d differences from the snapshot, first: %s", n, first)}
	}
	return res, nil
}

// maxProblems bounds the problems verify reports one by one.
const maxProblems = 50

func (p *Procedure) verifyDir(d DirState, res *VerifyResult, problem func(string, ...any)) error {
	t := p.cfg.kubepods()
	dir, err := t.dir(d.Path)
	if err != nil {
		return err
	}
	have, err := readValues(p.sys, dir)
	if err != nil {
		problem("%s: %v", dir, err)
		return nil
	}
	for name, want := range d.Values {
		if have[name] != want {
			problem("%s/%s is %s, was %s", dir, name, have[name], want)
		}
	}
	for _, pid := range d.Procs {
		where, alive, err := p.cgroupOf(pid)
		if err != nil {
			return err
		}
		if !alive {
			res.ProcsExited++
			continue
		}
		res.ProcsAlive++
		if want := t.cgroupPath(d.Path); where != want {
			problem("pid %d is in %s, was in %s", pid, where, want)
		}
	}
	return nil
}

// cgroupOf reads the memory cgroup of a process from /proc/PID/cgroup.
func (p *Procedure) cgroupOf(pid int) (string, bool, error) {
	raw, err := p.sys.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errESRCH) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	for _, line := range bytes.Split(raw, []byte("\n")) {
		// hierarchy-id:controllers:path; the path may itself contain ':'
		parts := bytes.SplitN(line, []byte(":"), 3)
		if len(parts) == 3 && hasController(parts[1], "memory") {
			return string(parts[2]), true, nil
		}
	}
	return "", false, fmt.Errorf("pid %d has no memory line in /proc/%d/cgroup", pid, pid)
}

func hasController(list []byte, name string) bool {
	for _, c := range bytes.Split(list, []byte(",")) {
		if string(c) == name {
			return true
		}
	}
	return false
}

// verifyNotAccounted checks the live tree (kubelet may have added pods by
// now) for kmem accounting, on 3.10 kernels where that can be read.
func (p *Procedure) verifyNotAccounted(problem func(string, ...any)) error {
	legacy, _, err := p.kernelLegacy()
	if err != nil || !legacy {
		return err
	}
	rels, err := walk(p.sys, p.cfg.kubepods())
	if err != nil {
		return err
	}
	for _, rel := range rels {
		dir, err := p.cfg.kubepods().dir(rel)
		if err != nil {
			return err
		}
		kmem, err := kmemAccounted(p.sys, dir)
		if err != nil {
			return err
		}
		if kmem {
			problem("%s is kmem-accounted", dir)
		}
	}
	return nil
}

// probeMkdir proves that a cgroup can be created under kubepods again.
func (p *Procedure) probeMkdir(problem func(string, ...any)) {
	dir := p.cfg.kubepods().root + "/kmemfix-probe"
	if err := p.sys.Mkdir(dir); err != nil && !errors.Is(err, fs.ErrExist) {
		problem("test mkdir %s failed: %v", dir, err)
		return
	}
	if err := p.sys.Remove(dir); err != nil {
		problem("test rmdir %s failed: %v", dir, err)
	}
}
