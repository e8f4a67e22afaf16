package node

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// maxMovePasses bounds the "read the source, move each pid" loop. A source
// that still has new processes after this many passes has something forking
// faster than we move: stop and let a human look rather than spin.
const maxMovePasses = 100

// moveAll moves every process from each snapshot dir of src into the same
// dir of dst, leaves first, and repeats until a whole pass finds every source
// empty: a process forked while its parent moved stays behind in the source,
// so one pass is never enough. Nothing is removed here.
func (p *Procedure) moveAll(ctx context.Context, step string, src, dst tree, j *Journal) (*TreeResult, error) {
	res := &TreeResult{}
	rels := leavesFirst(j.rels())
	for res.Passes < maxMovePasses {
		res.Passes++
		found := 0
		for i, rel := range rels {
			if err := interrupted(ctx); err != nil {
				return res, err
			}
			n, err := p.moveDir(src, dst, rel, res)
			if err != nil {
				return res, err
			}
			found += n
			p.tick(step, fmt.Sprintf("pass %d", res.Passes), i+1, len(rels))
		}
		if found == 0 {
			return res, nil
		}
	}
	return res, &StepError{Code: CodeNotConverged, Retryable: true,
		Message: fmt.Sprintf("processes kept appearing in %s after %d passes; find what forks that fast, then run the step again", src.root, maxMovePasses)}
}

// moveDir moves the processes it finds in one source dir; it returns how
// many it found.
func (p *Procedure) moveDir(src, dst tree, rel string, res *TreeResult) (int, error) {
	from, err := src.dir(rel)
	if err != nil {
		return 0, err
	}
	pids, err := readPids(p.sys, from)
	if err != nil {
		return 0, kernelErr(err)
	}
	if len(pids) == 0 {
		return 0, nil
	}
	to, err := dst.file(rel, fileProcs)
	if err != nil {
		return 0, err
	}
	for _, pid := range pids {
		err := p.sys.WriteFile(to, []byte(strconv.Itoa(pid)))
		switch {
		case err == nil:
			res.Moved++
		case errors.Is(err, errESRCH):
			res.Exited++ // exited between the read and the move: nothing to keep
		default:
			return 0, kernelErr(fmt.Errorf("move pid %d from %s to %s: %w", pid, src.cgroupPath(rel), dst.cgroupPath(rel), err))
		}
	}
	return len(pids), nil
}

// Move moves every container process from kubepods into the mirror. The
// old tree stays whole, so the compensation (Restore) can move them back.
func (p *Procedure) Move(ctx context.Context) (*TreeResult, error) {
	j, err := p.requireJournal("move")
	if err != nil {
		return nil, err
	}
	if j.CommitStarted || j.RebuildStarted {
		return nil, &StepError{Code: CodePastCommit, Message: "the commit point is passed: run commit and rebuild, not move"}
	}
	if err := p.requireTree(p.cfg.mirror(), j, "run mirror first"); err != nil {
		return nil, err
	}
	if err := p.checkNoNewDirs(p.cfg.kubepods(), j); err != nil {
		return nil, err
	}
	return p.moveAll(ctx, "move", p.cfg.kubepods(), p.cfg.mirror(), j)
}

// requireTree checks that every snapshot dir exists in t with its
// preserved limits, so no process can land in an unlimited cgroup.
func (p *Procedure) requireTree(t tree, j *Journal, fix string) error {
	for _, d := range j.Dirs {
		dir, err := t.dir(d.Path)
		if err != nil {
			return err
		}
		values, err := readValues(p.sys, dir)
		if err != nil {
			return refused("%s is not complete (%v): %s", t.root, err, fix)
		}
		for _, name := range []string{fileLimit, fileMemswLimit} {
			if want, ok := d.Values[name]; ok && values[name] != want {
				return refused("%s has %s=%s, the snapshot says %s: %s", dir, name, values[name], want, fix)
			}
		}
	}
	return nil
}
