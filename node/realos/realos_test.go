package realos

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmemfix/kmemfix/node"
)

// These tests use a temporary folder only: never this machine's cgroups.

func TestWriteFileAtomicReplacesWholeFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "journal.json")
	for _, content := range []string{"first", "second, longer"} {
		if err := (OS{}).WriteFileAtomic(p, strings.NewReader(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestWriteFileNeverCreates(t *testing.T) {
	p := filepath.Join(t.TempDir(), "memory.limit_in_bytes")
	if err := (OS{}).WriteFile(p, []byte("1")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WriteFile on a missing file: %v, want not exist", err)
	}
}

func TestLockIsExclusiveUntilReleased(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	release, err := (OS{}).Lock(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (OS{}).Lock(p); !errors.Is(err, node.ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	again, err := (OS{}).Lock(p)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	_ = again()
}

func TestRunExitCodesAreData(t *testing.T) {
	out, err := (OS{}).Run(context.Background(), []string{"sh", "-c", "echo out; echo err >&2; exit 3"})
	if err != nil || out.ExitCode != 3 || string(out.Stdout) != "out\n" || string(out.Stderr) != "err\n" {
		t.Fatalf("%+v %v", out, err)
	}
	if _, err := (OS{}).Run(context.Background(), []string{"kmemfix-no-such-binary"}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing binary: %v, want not exist", err)
	}
}
