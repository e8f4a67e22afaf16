// Package lab boots a real Linux kernel with the cgroup v1 memory
// controller under QEMU and runs the real node helper (bin/kmemfix-node)
// against real processes there: a Kubernetes-like node is built in the
// guest, the helper is driven through a scenario by the guest's runner
// (lab/guest/runner), and the runner's checks come back as a wire.Report.
//
// Nothing here touches the host's own cgroups: every real-kernel action
// happens inside the guest.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Modules are the kernel modules the guest loads for a RAM-disk ext2 (real
// page cache), in load order.
var Modules = []string{"crc16", "mbcache", "jbd2", "crc32c_generic", "ext4", "brd"}

// Assets are the host files a boot needs.
type Assets struct {
	Dir           string // the cache folder (lab/.assets)
	Kernel        string // vmlinuz
	KernelRelease string // e.g. 6.1.0-56-amd64
	Busybox       string // a static busybox
	ModuleDir     string // holds <name>.ko for each of Modules
	QEMU          string // qemu-system-x86_64
}

// labDir is the lab package's source folder.
func labDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// RepoRoot is the module's root folder.
func RepoRoot() string { return filepath.Dir(labDir()) }

// AssetsDir is the cache folder: $LAB_ASSETS or lab/.assets.
func AssetsDir() string {
	if d := os.Getenv("LAB_ASSETS"); d != "" {
		return d
	}
	return filepath.Join(labDir(), ".assets")
}

// FindAssets locates the cached assets without fetching anything.
func FindAssets() (*Assets, error) {
	dir := AssetsDir()
	a := &Assets{
		Dir:       dir,
		Kernel:    filepath.Join(dir, "vmlinuz"),
		Busybox:   filepath.Join(dir, "busybox"),
		ModuleDir: filepath.Join(dir, "modules"),
	}
	need := []string{a.Kernel, a.Busybox, filepath.Join(dir, "kernel-release")}
	for _, m := range Modules {
		need = append(need, filepath.Join(a.ModuleDir, m+".ko"))
	}
	var missing []string
	for _, p := range need {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, p)
		}
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		missing = append(missing, "qemu-system-x86_64 on PATH")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("lab: assets missing (%s): run scripts/lab-assets.sh", strings.Join(missing, ", "))
	}
	rel, err := os.ReadFile(filepath.Join(dir, "kernel-release"))
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	a.KernelRelease, a.QEMU = strings.TrimSpace(string(rel)), qemu
	return a, nil
}

// EnsureAssets returns the cached assets, running scripts/lab-assets.sh
// first when any is missing (it installs qemu and downloads Debian's
// kernel and busybox packages: it needs root and the apt sources).
func EnsureAssets(ctx context.Context) (*Assets, error) {
	if a, err := FindAssets(); err == nil {
		return a, nil
	}
	script := filepath.Join(RepoRoot(), "scripts", "lab-assets.sh")
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "LAB_ASSETS="+AssetsDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("lab: fetch assets with %s: %w\n%s", script, err, out)
	}
	return FindAssets()
}
