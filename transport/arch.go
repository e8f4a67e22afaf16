package transport

import (
	"context"
	"fmt"
	"strings"
)

// Arch returns the target's architecture as GOARCH spells it (amd64 or
// arm64): Target.Arch when set, else `uname -m` on the node, asked once per
// node and remembered for the pool's life. Pick the node helper build with it.
func (p *Pool) Arch(ctx context.Context, t Target) (string, error) {
	if t.Arch != "" {
		return t.Arch, nil
	}
	r, err := checkTarget(t)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	arch, ok := p.arch[r.key()]
	p.mu.Unlock()
	if ok {
		return arch, nil
	}
	t.Sudo = false
	res, err := p.Exec(ctx, t, []string{"uname", "-m"}, ExecOptions{})
	if err != nil {
		return "", err
	}
	machine := strings.TrimSpace(string(res.Stdout))
	if res.ExitCode != 0 {
		return "", newError(ClassRemote, r.node.name, "arch", fmt.Errorf("uname -m: exit %d: %s", res.ExitCode, strings.TrimSpace(string(res.Stderr))))
	}
	if arch, err = goarch(machine); err != nil {
		return "", newError(ClassRemote, r.node.name, "arch", err)
	}
	p.mu.Lock()
	p.arch[r.key()] = arch
	p.mu.Unlock()
	return arch, nil
}

func goarch(machine string) (string, error) {
	switch machine {
	case "x86_64", "amd64":
		return "amd64", nil
	case "aarch64", "arm64", "armv8l":
		return "arm64", nil
	}
	return "", fmt.Errorf("node architecture %q (uname -m) has no helper build: only amd64 and arm64; set Target.Arch if uname lies", machine)
}
