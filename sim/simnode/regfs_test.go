package simnode

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/kmemfix/kmemfix/node"
)

func TestRegularFilesystem(t *testing.T) {
	n := newNode(t, Config{})
	const dir = "/var/lib/kmemfix"
	if _, err := n.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat missing dir: %v", err)
	}
	if err := n.MkdirAll(dir + "/sub"); err != nil {
		t.Fatal(err)
	}
	if err := n.MkdirAll(dir); err != nil {
		t.Fatal("MkdirAll of an existing dir:", err)
	}
	wantErrno(t, n.Mkdir(dir), syscall.EEXIST)
	if !errors.Is(n.Mkdir(dir), fs.ErrExist) {
		t.Fatal("EEXIST is not fs.ErrExist")
	}
	wantErrno(t, n.WriteFile(dir+"/journal.json", []byte("x")), syscall.ENOENT)
	if err := n.WriteFileAtomic(dir+"/journal.json", strings.NewReader("v1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteFile(dir+"/journal.json", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if b, _ := n.ReadFile(dir + "/journal.json"); string(b) != "v2" {
		t.Fatalf("content %q", b)
	}
	fi, err := n.Stat(dir + "/journal.json")
	if err != nil || fi.Size() != 2 || fi.Mode().Perm() != 0o600 || fi.IsDir() {
		t.Fatalf("stat %v %v", fi, err)
	}
	wantErrno(t, n.MkdirAll(dir+"/journal.json/x"), syscall.ENOTDIR)
	wantErrno(t, n.Remove(dir), syscall.ENOTEMPTY)
	_, err = n.ReadFile(dir)
	wantErrno(t, err, syscall.EISDIR)

	// Rename replaces atomically.
	if err := n.WriteFileAtomic(dir+"/other", bytes.NewReader([]byte("other")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.Rename(dir+"/other", dir+"/journal.json"); err != nil {
		t.Fatal(err)
	}
	if b, _ := n.ReadFile(dir + "/journal.json"); string(b) != "other" {
		t.Fatalf("after rename %q", b)
	}
	err = n.Rename(dir+"/missing", dir+"/x")
	var le *os.LinkError
	if !errors.As(err, &le) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("rename missing: %v", err)
	}
	f, err := n.Open(dir + "/journal.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	_ = f.Close()
	if string(b) != "other" {
		t.Fatalf("open read %q", b)
	}
	_, err = n.Open(dir + "/nope")
	wantErrno(t, err, syscall.ENOENT)
	ents, _ := n.ReadDir(dir)
	if len(ents) != 2 || ents[0].Name() != "journal.json" || !ents[1].IsDir() {
		t.Fatalf("entries %v", ents)
	}
	if err := n.Remove(dir + "/journal.json"); err != nil {
		t.Fatal(err)
	}
	if err := n.Remove(dir + "/sub"); err != nil {
		t.Fatal(err)
	}
	if err := n.Remove(dir); err != nil {
		t.Fatal(err)
	}
}

func TestWriteFileAtomicCrashLeavesOldContent(t *testing.T) {
	n := newNode(t, Config{})
	const f = "/var/lib/j"
	if err := n.WriteFileAtomic(f, strings.NewReader("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	n.CrashAfter(1) // the temporary file is written, the rename is not
	func() {
		defer func() {
			if _, ok := recover().(Crash); !ok {
				t.Fatal("no crash")
			}
		}()
		_ = n.WriteFileAtomic(f, strings.NewReader("new"), 0o644)
	}()
	if b, _ := n.ReadFile(f); string(b) != "old" {
		t.Fatalf("torn write: %q", b)
	}
	ents, _ := n.ReadDir("/var/lib")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !strings.Contains(strings.Join(names, " "), ".j.tmp-") {
		t.Fatalf("no temporary file left: %v", names)
	}
}

func TestLock(t *testing.T) {
	n := newNode(t, Config{})
	if err := n.MkdirAll("/var/lib/kmemfix"); err != nil {
		t.Fatal(err)
	}
	const lock = "/var/lib/kmemfix/lock"
	release, err := n.Lock(lock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Stat(lock); err != nil {
		t.Fatal("lock file not created")
	}
	if _, err := n.Lock(lock); !errors.Is(err, node.ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	release2, err := n.Lock(lock)
	if err != nil {
		t.Fatal(err)
	}
	n.ReleaseLocks() // its holder died
	release3, err := n.Lock(lock)
	if err != nil {
		t.Fatal("lock of a dead holder still held:", err)
	}
	_ = release2() // a stale release does not free the new holder's lock
	if _, err := n.Lock(lock); !errors.Is(err, node.ErrLocked) {
		t.Fatal("stale release freed another holder's lock")
	}
	_ = release3()
	_, err = n.Lock("/nope/lock")
	wantErrno(t, err, syscall.ENOENT)
}
