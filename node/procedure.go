package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Procedure runs the steps of the safe remediation on one node. Each method
// is one step: it reads the node's real state first and converges when it is
// run again after a crash at any instant.
type Procedure struct {
	sys      System
	cfg      Config
	progress func(Progress)
}

// New checks the config and returns a procedure for the node behind sys.
// progress, if not nil, receives the progress of long steps.
func New(sys System, cfg Config, progress func(Progress)) (*Procedure, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &StepError{Code: CodeUsage, Message: err.Error()}
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	return &Procedure{sys: sys, cfg: cfg, progress: progress}, nil
}

// Lock takes the node-wide lock that keeps two runs (even from two
// deployments) from interleaving. Mutating steps run under it.
func (p *Procedure) Lock() (func() error, error) {
	if err := p.sys.MkdirAll(p.cfg.JournalDir); err != nil {
		return nil, fmt.Errorf("create journal dir %s: %w", p.cfg.JournalDir, err)
	}
	release, err := p.sys.Lock(p.cfg.lockPath())
	if err != nil {
		return nil, &StepError{Code: CodeLocked, Message: "another kmemfix run holds " + p.cfg.lockPath() + "; retry when it has finished", Retryable: true, Err: err}
	}
	return release, nil
}

// BootID reads the node's current boot id.
func (p *Procedure) BootID() (string, error) {
	raw, err := p.sys.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read boot id: %w", err)
	}
	return strings.TrimSpace(string(raw)), nil
}

// CheckBootID refuses to act on a node that rebooted since the caller last
// looked: the tree the caller planned for no longer exists.
func (p *Procedure) CheckBootID(want string) error {
	if want == "" {
		return nil
	}
	have, err := p.BootID()
	if err != nil {
		return err
	}
	if have != want {
		return &StepError{Code: CodeRebooted, Message: fmt.Sprintf("node rebooted (boot id %s, expected %s): the cgroup tree was rebuilt by the boot; check kubelet and start over with inspect", have, want)}
	}
	return nil
}

func interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return &StepError{Code: CodeInterrupted, Message: "interrupted; the step can be run again", Retryable: true, Err: err}
	}
	return nil
}

// exists tells whether a path exists on the node.
func (p *Procedure) exists(path string) (bool, error) {
	_, err := p.sys.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
	return true, nil
}

// kernelLegacy tells whether the node runs a 3.x kernel, where the kmem
// accounting signature (slabinfo readable vs EIO) means what we think.
func (p *Procedure) kernelLegacy() (bool, string, error) {
	raw, err := p.sys.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return false, "", fmt.Errorf("read kernel release: %w", err)
	}
	release := string(bytes.TrimSpace(raw))
	return strings.HasPrefix(release, "3."), release, nil
}
