package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// Commit is the commit point: once every process sits in the mirror, the old
// accounted kubepods tree is removed leaf-first. From the first rmdir on
// there is no way back, only forward through Rebuild; the journal says so
// before anything is removed.
func (p *Procedure) Commit(ctx context.Context) (*TreeResult, error) {
	j, err := p.requireJournal("commit")
	if err != nil {
		return nil, err
	}
	if j.RebuildStarted {
		return &TreeResult{}, nil // the old tree is gone already
	}
	if !j.CommitStarted {
		if err := p.commitPreconditions(j); err != nil {
			return nil, err
		}
		j.CommitStarted = true
		if err := saveJournal(p.sys, p.cfg, j); err != nil {
			return nil, err
		}
	}
	return p.removeTree(ctx, "commit", p.cfg.kubepods(), p.cfg.mirror())
}

// commitPreconditions: the mirror is whole and every old dir is empty.
func (p *Procedure) commitPreconditions(j *Journal) error {
	if err := p.requireTree(p.cfg.mirror(), j, "run mirror and move first"); err != nil {
		return err
	}
	if err := p.checkNoNewDirs(p.cfg.kubepods(), j); err != nil {
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
		pids, err := readPids(p.sys, dir)
		if err != nil {
			return kernelErr(err)
		}
		if len(pids) > 0 {
			return refused("%s still has %d processes: run move first", dir, len(pids))
		}
	}
	return nil
}

// removeTree removes every cgroup of t, leaves first: force_empty drops what
// charges it can, rmdir reparents the rest. A process found in a dir (one
// that appeared after the moves) is moved to the same place in refuge first.
func (p *Procedure) removeTree(ctx context.Context, step string, t, refuge tree) (*TreeResult, error) {
	rels, err := walk(p.sys, t)
	if err != nil {
		return nil, err
	}
	res := &TreeResult{}
	rels = leavesFirst(rels)
	for i, rel := range rels {
		if err := interrupted(ctx); err != nil {
			return res, err
		}
		if err := p.removeCgroup(t, refuge, rel, res); err != nil {
			return res, err
		}
		p.tick(step, "remove", i+1, len(rels))
	}
	return res, nil
}

func (p *Procedure) removeCgroup(t, refuge tree, rel string, res *TreeResult) error {
	dir, err := t.dir(rel)
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 3; attempt++ {
		// force_empty fails (EBUSY) only when rmdir would too; rmdir is the
		// test that counts, so its error is the one reported.
		_ = p.sys.WriteFile(dir+"/"+fileForceEmpty, []byte("0"))
		err = p.sys.Remove(dir)
		switch {
		case err == nil:
			res.Removed++
			return nil
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case !errors.Is(err, errEBUSY):
			return kernelErr(fmt.Errorf("remove cgroup %s: %w", dir, err))
		}
		if _, err := p.moveDir(t, refuge, rel, res); err != nil {
			return err
		}
	}
	return kernelErr(fmt.Errorf("remove cgroup %s: still busy after moving its processes: %w", dir, err))
}

// Rebuild recreates kubepods (now without kmem accounting), builds its tree
// with every preserved value, moves everything back from the mirror, removes
// the mirror and restores move_charge_at_immigrate: step 6.
func (p *Procedure) Rebuild(ctx context.Context) (*TreeResult, error) {
	j, err := p.requireJournal("rebuild")
	if err != nil {
		return nil, err
	}
	if !j.RebuildStarted {
		if err := p.rebuildPreconditions(j); err != nil {
			return nil, err
		}
		j.RebuildStarted = true
		if err := saveJournal(p.sys, p.cfg, j); err != nil {
			return nil, err
		}
	}
	res, err := p.buildTree(ctx, "rebuild", p.cfg.kubepods(), j)
	if err != nil {
		return res, err
	}
	if err := p.refuseAccounted(p.cfg.kubepods(), j); err != nil {
		return res, err
	}
	moved, err := p.moveAll(ctx, "rebuild", p.cfg.mirror(), p.cfg.kubepods(), j)
	res.Moved, res.Exited, res.Passes = moved.Moved, moved.Exited, moved.Passes
	if err != nil {
		return res, err
	}
	removed, err := p.removeTree(ctx, "rebuild", p.cfg.mirror(), p.cfg.kubepods())
	if removed != nil {
		res.Removed = removed.Removed
		res.Moved += removed.Moved
	}
	if err != nil {
		return res, err
	}
	return res, p.setMoveCharge(ctx, p.cfg.kubepods(), j, "")
}

func (p *Procedure) rebuildPreconditions(j *Journal) error {
	exists, err := p.exists(p.cfg.kubepods().root)
	if err != nil {
		return err
	}
	if exists {
		if !j.CommitStarted {
			return refused("the commit point is not reached: run move and commit first")
		}
		return refused("%s is not fully removed yet: run commit again", p.cfg.kubepods().root)
	}
	return p.requireTree(p.cfg.mirror(), j, "the mirror is incomplete after the commit point; its journal lists what is missing: needs attention")
}

// refuseAccounted checks, on a 3.10 kernel, that no rebuilt dir has kmem
// accounting: moving processes into one would keep the leak going.
func (p *Procedure) refuseAccounted(t tree, j *Journal) error {
	legacy, _, err := p.kernelLegacy()
	if err != nil || !legacy {
		return err // on 4.x+ accounting cannot be read this way: nothing to check
	}
	for _, d := range j.Dirs {
		dir, err := t.dir(d.Path)
		if err != nil {
			return err
		}
		kmem, err := kmemAccounted(p.sys, dir)
		if err != nil {
			return kernelErr(err)
		}
		if kmem {
			return needsHelp("rebuilt %s has kmem accounting on (memory.kmem.slabinfo readable): something wrote memory.kmem.limit_in_bytes; is the old kubelet running?", dir)
		}
	}
	return nil
}

// Restore is the compensation of mirror and move, valid only before the
// commit point: every process goes back to its kubepods dir (still whole),
// the mirror is removed and the journal closed.
func (p *Procedure) Restore(ctx context.Context) (*TreeResult, error) {
	j, err := loadJournal(p.sys, p.cfg)
	if err != nil {
		return nil, err
	}
	if j == nil {
		return p.restoreWithoutJournal()
	}
	if j.CommitStarted || j.RebuildStarted {
		return nil, &StepError{Code: CodePastCommit, Message: "the commit point is passed: the old kubepods is (partly) removed; the only way is forward: run commit and rebuild"}
	}
	if err := p.CheckBootID(j.BootID); err != nil {
		return p.restoreAfterReboot(j)
	}
	if err := p.requireTree(p.cfg.kubepods(), j, "kubepods lost a dir before the commit point: needs attention"); err != nil {
		return nil, err
	}
	if err := p.setMoveCharge(ctx, p.cfg.kubepods(), j, moveChargeAll); err != nil {
		return nil, err
	}
	res, err := p.moveAll(ctx, "restore", p.cfg.mirror(), p.cfg.kubepods(), j)
	if err != nil {
		return res, err
	}
	removed, err := p.removeTree(ctx, "restore", p.cfg.mirror(), p.cfg.kubepods())
	if removed != nil {
		res.Removed = removed.Removed
	}
	if err != nil {
		return res, err
	}
	if err := p.setMoveCharge(ctx, p.cfg.kubepods(), j, ""); err != nil {
		return res, err
	}
	return res, archiveJournal(p.sys, p.cfg, "restored")
}

func (p *Procedure) restoreWithoutJournal() (*TreeResult, error) {
	mirror, err := p.exists(p.cfg.mirror().root)
	if err != nil {
		return nil, err
	}
	if mirror {
		return nil, needsHelp("%s exists but there is no journal: not ours to undo; move its processes and remove it by hand", p.cfg.mirror().root)
	}
	return &TreeResult{}, nil // nothing was started
}

// restoreAfterReboot: the boot rebuilt the tree from scratch, so the
// journal describes nothing that exists any more.
func (p *Procedure) restoreAfterReboot(j *Journal) (*TreeResult, error) {
	mirror, err := p.exists(p.cfg.mirror().root)
	if err != nil {
		return nil, err
	}
	if mirror {
		return nil, needsHelp("the node rebooted (journal boot %s) and %s exists: inspect by hand", j.BootID, p.cfg.mirror().root)
	}
	return &TreeResult{}, archiveJournal(p.sys, p.cfg, "stale-boot")
}

// Finish closes a completed remediation's journal.
func (p *Procedure) Finish() error {
	j, err := loadJournal(p.sys, p.cfg)
	if err != nil || j == nil {
		return err
	}
	mirror, err := p.exists(p.cfg.mirror().root)
	if err != nil {
		return err
	}
	if !j.RebuildStarted || mirror {
		return refused("the remediation is not complete (rebuild started: %t, mirror present: %t): run rebuild first", j.RebuildStarted, mirror)
	}
	return archiveJournal(p.sys, p.cfg, "done")
}
