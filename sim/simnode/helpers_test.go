package simnode

import (
	"errors"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const cgRoot = "/sys/fs/cgroup/memory"

// cg is the absolute path of a cgroup (or a file in it) under the root.
func cg(rel string) string {
	if rel == "" {
		return cgRoot
	}
	return cgRoot + "/" + rel
}

func newNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	return New(cfg)
}

func mkdir(t testing.TB, n *Node, rel string) {
	t.Helper()
	if err := n.Mkdir(cg(rel)); err != nil {
		t.Fatalf("mkdir %s: %v", rel, err)
	}
}

func write(t testing.TB, n *Node, rel, value string) {
	t.Helper()
	if err := n.WriteFile(cg(rel), []byte(value)); err != nil {
		t.Fatalf("write %q to %s: %v", value, rel, err)
	}
}

func read(t testing.TB, n *Node, rel string) string {
	t.Helper()
	b, err := n.ReadFile(cg(rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return strings.TrimSpace(string(b))
}

func readInt(t testing.TB, n *Node, rel string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(read(t, n, rel), 10, 64)
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return v
}

func spawn(t testing.TB, n *Node, rel string, spec ProcSpec) int {
	t.Helper()
	pid, err := n.Spawn(rel, spec)
	if err != nil {
		t.Fatalf("spawn in %s: %v", rel, err)
	}
	return pid
}

// wantErrno checks that err is a *fs.PathError (or *os.LinkError) wrapping
// errno, as the os package returns.
func wantErrno(t testing.TB, err error, errno syscall.Errno) {
	t.Helper()
	if errno == 0 {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	if !errors.Is(err, errno) {
		t.Fatalf("error %v, want %v (%d)", err, errno, int(errno))
	}
	var pe *fs.PathError
	var le interface{ Unwrap() error }
	if !errors.As(err, &pe) && !errors.As(err, &le) {
		t.Fatalf("error %T is not a *fs.PathError", err)
	}
}

func statLine(t testing.TB, n *Node, rel, key string) int64 {
	t.Helper()
	for _, l := range strings.Split(read(t, n, rel+"/memory.stat"), "\n") {
		if v, ok := strings.CutPrefix(l, key+" "); ok {
			x, _ := strconv.ParseInt(v, 10, 64)
			return x
		}
	}
	t.Fatalf("no %s in memory.stat of %s", key, rel)
	return 0
}

func itoa(v int) string { return strconv.Itoa(v) }

func emptyReader() io.Reader { return strings.NewReader("") }
