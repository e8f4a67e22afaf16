package node

import (
	"context"
	"fmt"
	"time"
)

// Snapshot records the whole kubepods subtree (every dir, its processes and
// preserved values) in the journal. It runs after kubelet stopped, so the
// tree no longer churns. An in-progress remediation's journal is kept: once
// processes have moved it is the only record of where they belong.
func (p *Procedure) Snapshot(ctx context.Context) (*SnapshotResult, error) {
	bootID, err := p.BootID()
	if err != nil {
		return nil, err
	}
	j, err := loadJournal(p.sys, p.cfg)
	if err != nil {
		return nil, err
	}
	mirrorExists, err := p.exists(p.cfg.mirror().root)
	if err != nil {
		return nil, err
	}
	if j != nil {
		reuse, err := p.keepJournal(j, bootID, mirrorExists)
		if err != nil {
			return nil, err
		}
		if reuse {
			return &SnapshotResult{Journal: p.cfg.journalPath(), Digest: j.Digest, Dirs: len(j.Dirs), Procs: j.procs(), Reused: true}, nil
		}
	} else if mirrorExists {
		return nil, needsHelp("%s exists but there is no journal in %s: it is not ours, or an earlier run's journal was lost; move its processes and remove it by hand", p.cfg.mirror().root, p.cfg.JournalDir)
	}
	if err := p.refuseRunningKubelet(ctx); err != nil {
		return nil, err
	}
	dirs, err := p.readTree(ctx, p.cfg.kubepods())
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, refused("%s does not exist: nothing to snapshot", p.cfg.kubepods().root)
	}
	j = &Journal{
		Format: journalFormat, BootID: bootID, TakenAt: time.Now().UTC(),
		CgroupRoot: p.cfg.CgroupRoot, Kubepods: p.cfg.Kubepods, Mirror: p.cfg.Mirror, Dirs: dirs,
	}
	if err := saveJournal(p.sys, p.cfg, j); err != nil {
		return nil, err
	}
	return &SnapshotResult{Journal: p.cfg.journalPath(), Digest: j.Digest, Dirs: len(dirs), Procs: j.procs()}, nil
}

// keepJournal decides whether an existing journal describes a remediation
// in progress (keep it) or a stale one whose tree is whole again (replace).
func (p *Procedure) keepJournal(j *Journal, bootID string, mirrorExists bool) (bool, error) {
	if j.BootID != bootID {
		if mirrorExists || j.CommitStarted {
			return false, needsHelp("journal %s is from boot %s, the node is now in boot %s, and %s still exists: inspect by hand", p.cfg.journalPath(), j.BootID, bootID, p.cfg.mirror().root)
		}
		return false, archiveJournal(p.sys, p.cfg, "stale-boot")
	}
	if mirrorExists || j.CommitStarted || j.RebuildStarted {
		return true, nil
	}
	// Same boot, no mirror, nothing committed: every process is still in
	// kubepods, so a fresh snapshot is at least as true as the old one.
	return false, nil
}

func (p *Procedure) refuseRunningKubelet(ctx context.Context) error {
	state, err := p.serviceState(ctx, p.cfg.KubeletUnit)
	if err != nil {
		return err
	}
	if state == "active" || state == "activating" || state == "reloading" {
		return refused("%s is %s: stop it first, the snapshot must not race pod churn", p.cfg.KubeletUnit, state)
	}
	return nil
}

// readTree reads every cgroup of a tree: pids, preserved values, kmem.
func (p *Procedure) readTree(ctx context.Context, t tree) ([]DirState, error) {
	rels, err := walk(p.sys, t)
	if err != nil {
		return nil, err
	}
	dirs := make([]DirState, 0, len(rels))
	for i, rel := range rels {
		if err := interrupted(ctx); err != nil {
			return nil, err
		}
		d, err := t.dir(rel)
		if err != nil {
			return nil, err
		}
		pids, err := readPids(p.sys, d)
		if err != nil {
			return nil, err
		}
		values, err := readValues(p.sys, d)
		if err != nil {
			return nil, err
		}
		kmem, err := kmemAccounted(p.sys, d)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, DirState{Path: rel, Procs: pids, Values: values, Kmem: kmem})
		p.tick("snapshot", "read", i+1, len(rels))
	}
	return dirs, nil
}

// tick reports progress every 64 items and at the end.
func (p *Procedure) tick(step, phase string, done, total int) {
	if done%64 == 0 || done == total {
		p.progress(Progress{Step: step, Phase: phase, Done: done, Total: total})
	}
}

// requireJournal loads the journal a step depends on.
func (p *Procedure) requireJournal(step string) (*Journal, error) {
	j, err := loadJournal(p.sys, p.cfg)
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, refused("%s needs the journal in %s: run snapshot first", step, p.cfg.JournalDir)
	}
	bootID, err := p.BootID()
	if err != nil {
		return nil, err
	}
	if j.BootID != bootID {
		return nil, &StepError{Code: CodeRebooted, Message: fmt.Sprintf("the node rebooted since the snapshot (boot %s, now %s): the tree was rebuilt by the boot; verify kubelet and start over", j.BootID, bootID)}
	}
	return j, nil
}
