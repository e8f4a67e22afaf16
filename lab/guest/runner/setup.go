package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
	"github.com/kmemfix/kmemfix/lab/layout"
)

// dataMount is where init mounts an ext2 file system on a RAM disk, when
// the kernel modules for it loaded: reading a file there charges real page
// cache to the reader's cgroup.
const dataMount = "/data"

// prepareCacheFile writes the file the page-cache container reads, from
// the root cgroup, and drops it from the page cache so the container's read
// brings it back in (and is charged for it). It says what backs the file.
func prepareCacheFile(mib int) (path, backing string, err error) {
	dir, backing := "/run/lab", "tmpfs (charged at creation to the root cgroup: the read charges nothing)"
	if mounted(dataMount) {
		dir, backing = dataMount, "ext2 on a RAM disk (page cache charged to the reader)"
	}
	path = filepath.Join(dir, "cache.bin")
	f, err := os.Create(path)
	if err != nil {
		return "", "", fmt.Errorf("create %s: %w", path, err)
	}
	buf := make([]byte, 1<<20)
	for i := 0; i < mib; i++ {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return "", "", fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", "", fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", "", err
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		return "", "", fmt.Errorf("drop caches: %w", err)
	}
	return path, backing, nil
}

func mounted(dir string) bool {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}

// stageKubelet puts the replacement kubelet where the procedure expects it
// and returns its sha256.
func stageKubelet() (string, error) {
	if err := os.MkdirAll(filepath.Dir(kubeletStaged), 0o755); err != nil {
		return "", err
	}
	src, err := os.Open("/lab/kubelet.new")
	if err != nil {
		return "", fmt.Errorf("stage kubelet: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(kubeletStaged, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return "", fmt.Errorf("stage kubelet: %w", err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return "", fmt.Errorf("stage kubelet: %w", err)
	}
	if err := dst.Close(); err != nil {
		return "", err
	}
	return sha256File(kubeletStaged)
}

// roleUsage reads the memory usage of each special container, in MiB.
func roleUsage(l layout.Node) map[string]int64 {
	out := map[string]int64{}
	for role, rel := range l.Roles {
		b, err := os.ReadFile(filepath.Join(cgroupRoot, kubepods, rel, "memory.usage_in_bytes"))
		if err != nil {
			out[role] = -1
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		out[role] = n >> 20
	}
	return out
}

// usageNote reports (without judging) how the charges of the special
// containers moved: anonymous memory follows move_charge_at_immigrate,
// unmapped page cache and tmpfs pages stay behind and are reparented.
func usageNote(before, after map[string]int64, backing string) wire.Check {
	var parts []string
	for role := range before {
		parts = append(parts, fmt.Sprintf("%s %d->%d MiB", role, before[role], after[role]))
	}
	sort.Strings(parts)
	return wire.Check{Name: "charges-info", OK: true, Detail: strings.Join(parts, ", ") + "; cache file on " + backing}
}

// inspectCheck: inspect ran and reported the kernel generation honestly
// (the guest runs a 6.x kernel, not 3.10).
func (s *scenario) inspectCheck() wire.Check {
	var problems []string
	if s.inspect == nil {
		problems = append(problems, "inspect did not succeed")
	} else if g, _ := s.inspect["kernelGeneration"].(string); g != "4+" {
		problems = append(problems, fmt.Sprintf("inspect says kernel generation %q on a 6.x kernel", g))
	}
	detail := ""
	if s.inspect != nil {
		detail = fmt.Sprintf("verdict %v, phase %v, reasons %v", s.inspect["verdict"], s.inspect["phase"], s.inspect["reasons"])
	}
	return newCheck("inspect-kernel-generation", problems, detail)
}
