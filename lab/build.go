package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Go packages built into every guest.
const (
	HelperPkg   = "./cmd/kmemfix-node"
	runnerPkg   = "./lab/guest/runner"
	workloadPkg = "./lab/guest/workload"
)

// Binaries are the static programs the guest runs.
type Binaries struct {
	Helper   string // kmemfix-node
	Runner   string
	Workload string
}

// built remembers the binaries built by this process, by helper: go build
// is cached anyway, but linking three binaries still costs seconds.
var built sync.Map // helper -> *Binaries

// BuildBinaries builds the runner, the workload and (unless helper names
// a prebuilt one) the node helper as static linux/amd64 binaries into dir.
func BuildBinaries(ctx context.Context, dir, helper string) (*Binaries, error) {
	if b, ok := built.Load(dir + "\x00" + helper); ok {
		return b.(*Binaries), nil
	}
	b := &Binaries{
		Helper:   helper,
		Runner:   filepath.Join(dir, "runner"),
		Workload: filepath.Join(dir, "workload"),
	}
	builds := [][2]string{{runnerPkg, b.Runner}, {workloadPkg, b.Workload}}
	if helper == "" {
		b.Helper = filepath.Join(dir, "kmemfix-node")
		builds = append(builds, [2]string{HelperPkg, b.Helper})
	}
	for _, pb := range builds {
		if err := goBuild(ctx, pb[0], pb[1]); err != nil {
			return nil, err
		}
	}
	built.Store(dir+"\x00"+helper, b)
	return b, nil
}

// goBuild runs `go build` for a static linux/amd64 binary.
func goBuild(ctx context.Context, pkg, out string) error {
	// The lab runs under go test, which puts its own GOROOT/bin first on
	// PATH: this is the go that runs the tests.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lab: go build %s: %w\n%s", pkg, err, o)
	}
	return nil
}
