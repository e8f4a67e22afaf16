package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// buildTree creates every snapshot dir in t, parents first, and sets every
// preserved value BEFORE any process can move in: no container ever runs
// without its limit. Each dir gets move_charge_at_immigrate=3 so the charges
// of the processes that move in come along. Values are read back and
// compared, since the kernel may refuse silently or round.
func (p *Procedure) buildTree(ctx context.Context, step string, t tree, j *Journal) (*TreeResult, error) {
	res := &TreeResult{}
	for i, d := range j.Dirs {
		if err := interrupted(ctx); err != nil {
			return res, err
		}
		dir, err := t.dir(d.Path)
		if err != nil {
			return res, err
		}
		created, err := p.ensureCgroup(dir)
		if err != nil {
			return res, err
		}
		if created {
			res.Created++
		}
		want := withMoveCharge(d.Values)
		if _, err := applyValues(p.sys, dir, want); err != nil {
			return res, kernelErr(err)
		}
		if err := p.checkValues(dir, want); err != nil {
			return res, err
		}
		res.Verified++
		p.tick(step, "build", i+1, len(j.Dirs))
	}
	return res, nil
}

// ensureCgroup creates a cgroup unless it exists; it reports whether it did.
func (p *Procedure) ensureCgroup(dir string) (bool, error) {
	err := p.sys.Mkdir(dir)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, nil
	default:
		return false, kernelErr(fmt.Errorf("create cgroup %s: %w", dir, err))
	}
}

// checkValues re-reads a cgroup and compares it with want.
func (p *Procedure) checkValues(dir string, want map[string]string) error {
	have, err := readValues(p.sys, dir)
	if err != nil {
		return kernelErr(err)
	}
	for name, v := range want {
		if have[name] != v {
			return &StepError{Code: CodeKernel, Retryable: true,
				Message: fmt.Sprintf("%s/%s reads %s after writing %s", dir, name, have[name], v)}
		}
	}
	return nil
}

func withMoveCharge(values map[string]string) map[string]string {
	out := make(map[string]string, len(values))
	for k, v := range values {
		out[k] = v
	}
	out[fileMoveCharge] = moveChargeAll
	return out
}

// setMoveCharge writes move_charge_at_immigrate on every snapshot dir of t:
// value, or the snapshot's own value when value is "" (once the moves into
// t are over).
func (p *Procedure) setMoveCharge(ctx context.Context, t tree, j *Journal, value string) error {
	for _, d := range j.Dirs {
		if err := interrupted(ctx); err != nil {
			return err
		}
		dir, err := t.dir(d.Path)
		if err != nil {
			return err
		}
		want, ok := value, value != ""
		if !ok {
			want, ok = d.Values[fileMoveCharge]
		}
		if !ok {
			continue
		}
		if _, err := applyValues(p.sys, dir, map[string]string{fileMoveCharge: want}); err != nil {
			return kernelErr(err)
		}
	}
	return nil
}

// Mirror builds the mirror tree beside kubepods with every preserved value
// set and charge moving enabled: steps 3 and 4's first half. Nothing moves.
func (p *Procedure) Mirror(ctx context.Context) (*TreeResult, error) {
	j, err := p.requireJournal("mirror")
	if err != nil {
		return nil, err
	}
	if j.CommitStarted || j.RebuildStarted {
		return nil, &StepError{Code: CodePastCommit, Message: "the commit point is passed (kubepods is being removed or rebuilt): run commit and rebuild, not mirror"}
	}
	if err := p.checkNoNewDirs(p.cfg.kubepods(), j); err != nil {
		return nil, err
	}
	return p.buildTree(ctx, "mirror", p.cfg.mirror(), j)
}

// checkNoNewDirs refuses when t holds cgroups the snapshot does not know:
// their processes would have no place in the mirror.
func (p *Procedure) checkNoNewDirs(t tree, j *Journal) error {
	rels, err := walk(p.sys, t)
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(j.Dirs))
	for _, d := range j.Dirs {
		known[d.Path] = true
	}
	for _, rel := range rels {
		if !known[rel] {
			return &StepError{Code: CodeTreeChanged, Message: fmt.Sprintf("%s appeared after the snapshot (is something besides kubelet creating cgroups?); the compensation moves everything back, then start over", t.cgroupPath(rel))}
		}
	}
	return nil
}
