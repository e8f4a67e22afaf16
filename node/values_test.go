package node

import (
	"context"
	"io"
	"io/fs"
	"strconv"
	"syscall"
	"testing"
)

// limitFiles is a cgroup with only the two limits, enforcing the kernel's
// limit <= memsw rule on every write.
type limitFiles struct {
	System
	limit, memsw uint64
	writes       []string
}

func (f *limitFiles) ReadFile(p string) ([]byte, error) {
	switch p {
	case "/cg/" + fileLimit:
		return []byte(strconv.FormatUint(f.limit, 10) + "\n"), nil
	case "/cg/" + fileMemswLimit:
		return []byte(strconv.FormatUint(f.memsw, 10) + "\n"), nil
	case "/cg/" + fileOOMControl:
		return []byte("oom_kill_disable 0\nunder_oom 0\n"), nil
	}
	return []byte("0\n"), nil
}

func (f *limitFiles) WriteFile(p string, data []byte) error {
	v, _ := strconv.ParseUint(string(data), 10, 64)
	switch p {
	case "/cg/" + fileLimit:
		if v > f.memsw {
			return &fs.PathError{Op: "write", Path: p, Err: syscall.EINVAL}
		}
		f.limit = v
	case "/cg/" + fileMemswLimit:
		if v < f.limit {
			return &fs.PathError{Op: "write", Path: p, Err: syscall.EINVAL}
		}
		f.memsw = v
	}
	f.writes = append(f.writes, p[len("/cg/"):])
	return nil
}

func (f *limitFiles) Run(context.Context, []string) (Command, error) { return Command{}, nil }
func (f *limitFiles) Open(string) (io.ReadCloser, error)             { return nil, fs.ErrNotExist }

// TestWriteLimitsOrder: raising and lowering both limits never passes
// through a state the kernel refuses (limit > memsw).
func TestWriteLimitsOrder(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name                 string
		limit, memsw         uint64
		wantLimit, wantMemsw uint64
	}{
		{"lower both (fresh cgroup to container limits)", 1<<63 - 4096, 1<<63 - 4096, 1 * gib, 2 * gib},
		{"raise both above the current memsw", 1 * gib, 2 * gib, 4 * gib, 8 * gib},
		{"raise limit only", 1 * gib, 4 * gib, 3 * gib, 4 * gib},
		{"lower memsw below the current limit", 4 * gib, 8 * gib, 1 * gib, 2 * gib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &limitFiles{limit: tt.limit, memsw: tt.memsw}
			want := map[string]string{fileLimit: strconv.FormatUint(tt.wantLimit, 10), fileMemswLimit: strconv.FormatUint(tt.wantMemsw, 10)}
			if _, err := applyValues(f, "/cg", want); err != nil {
				t.Fatalf("applyValues: %v (writes %v)", err, f.writes)
			}
			if f.limit != tt.wantLimit || f.memsw != tt.wantMemsw {
				t.Fatalf("limit %d memsw %d, want %d %d", f.limit, f.memsw, tt.wantLimit, tt.wantMemsw)
			}
		})
	}
}

// TestTreeConfinement: names from the node or the journal never leave the
// tree.
func TestTreeConfinement(t *testing.T) {
	tr := DefaultConfig().kubepods()
	for _, rel := range []string{"..", "a/../../etc", "a//b", "./x", "a/\nb"} {
		if d, err := tr.dir(rel); err == nil {
			t.Errorf("rel %q accepted as %s", rel, d)
		}
	}
	for _, rel := range []string{"pod with spaces", "$(reboot)/;rm -rf ~", "-rf", "..dots"} {
		if _, err := tr.dir(rel); err != nil {
			t.Errorf("rel %q refused: %v", rel, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{CgroupRoot: "relative", Kubepods: "kubepods", Mirror: "kubepods2", JournalDir: "/var/lib/kmemfix", KubeletUnit: "kubelet"},
		{CgroupRoot: "/sys/fs/cgroup/memory", Kubepods: "kubepods", Mirror: "kubepods", JournalDir: "/var/lib/kmemfix", KubeletUnit: "kubelet"},
		{CgroupRoot: "/sys/fs/cgroup/memory", Kubepods: "../x", Mirror: "kubepods2", JournalDir: "/var/lib/kmemfix", KubeletUnit: "kubelet"},
		{CgroupRoot: "/sys/fs/cgroup/memory", Kubepods: "kubepods", Mirror: "kubepods2", JournalDir: "/var/lib/kmemfix", KubeletUnit: "a/b"},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}
