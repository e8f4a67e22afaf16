package lab

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

//go:embed guest/rootfs
var rootfs embed.FS

// guestImage assembles the guest's initramfs: busybox and its applets, the
// init script, the systemctl and kubelet stand-ins, the static binaries, the
// kernel modules, and the scenario's plan.
func guestImage(ctx context.Context, a *Assets, bins *Binaries, plan wire.Plan) (*Initramfs, error) {
	r := NewInitramfs()
	for _, d := range []string{"/dev", "/proc", "/sys", "/run", "/tmp", "/data", "/sbin", "/usr/sbin", "/var/lib/kmemfix", "/etc"} {
		r.Dir(d)
	}
	r.HostFile("/bin/busybox", a.Busybox, 0o755)
	applets, err := exec.CommandContext(ctx, a.Busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("lab: list busybox applets: %w", err)
	}
	for _, name := range strings.Fields(string(applets)) {
		if name != "busybox" {
			r.Symlink("/bin/"+name, "busybox")
		}
	}
	files := []struct {
		guest, embedded string
		perm            uint32
	}{
		{"/init", "init", 0o755},
		{"/bin/systemctl", "systemctl", 0o755}, // replaces no busybox applet
		{"/usr/bin/kubelet", "kubelet", 0o755},
		{"/lab/kubelet.new", "kubelet.new", 0o755},
		{"/lab/cadvisor", "cadvisor", 0o755},
	}
	for _, f := range files {
		b, err := rootfs.ReadFile("guest/rootfs/" + f.embedded)
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		r.File(f.guest, b, f.perm)
	}
	r.File("/lab/www/healthz", []byte("ok\n"), 0o644)
	r.File("/etc/passwd", []byte("root:x:0:0:root:/:/bin/sh\n"), 0o644)
	r.HostFile("/lab/bin/kmemfix-node", bins.Helper, 0o755)
	r.HostFile("/lab/bin/runner", bins.Runner, 0o755)
	r.HostFile("/lab/bin/workload", bins.Workload, 0o755)
	for _, m := range Modules {
		r.HostFile("/lib/modules/"+m+".ko", filepath.Join(a.ModuleDir, m+".ko"), 0o644)
	}
	planJSON, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("lab: plan: %w", err)
	}
	r.File(wire.PlanPath, planJSON, 0o644)
	return r, nil
}
