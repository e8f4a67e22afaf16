package transport_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func inode(t *testing.T, name string) uint64 {
	t.Helper()
	st, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// rootOnlyDir is a folder only root may write to: a sudo target can reach it
// only through sudo.
func rootOnlyDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "bin dir; $(x)")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(dir), 0o755)
	return dir
}

func TestUpload(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	requireSudoUser(t)
	p := l.pool(nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name              string
		target            transport.Target
		method, fsync, mv string
	}{
		{"root-sftp", l.target(0), "sftp", "fsync@openssh.com", "posix-rename@openssh.com"},
		{"sudo", l.sudoTarget(0), "sudo dd", "dd conv=fsync", "mv -f -T (rename(2))"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := rootOnlyDir(t)
			final := filepath.Join(dir, "kmemfix-node")
			old := []byte("old helper\n")
			writeFile(t, final, string(old))
			oldFD, err := os.Open(final)
			if err != nil {
				t.Fatal(err)
			}
			defer oldFD.Close()
			oldIno := inode(t, final)

			content := bytes.Repeat([]byte("new helper build \x00\xff\n"), 200000)
			local := filepath.Join(t.TempDir(), "helper")
			writeFile(t, local, string(content))
			req := transport.UploadRequest{LocalPath: local, RemotePath: final, Mode: 0o755, SHA256: sha(content)}

			res, err := p.Upload(ctx, tc.target, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Skipped || res.Bytes != int64(len(content)) || res.SHA256 != sha(content) || res.Method != tc.method || res.Fsync != tc.fsync || res.Rename != tc.mv {
				t.Errorf("first upload: %+v", res)
			}
			got, _ := os.ReadFile(final)
			if !bytes.Equal(got, content) {
				t.Fatalf("remote content differs (%d bytes, want %d)", len(got), len(content))
			}
			st, _ := os.Stat(final)
			if st.Mode().Perm() != 0o755 {
				t.Errorf("mode %v, want 0755", st.Mode().Perm())
			}
			// Atomic replacement: a new inode; a reader of the old file still sees it whole.
			if inode(t, final) == oldIno {
				t.Error("file was rewritten in place, not renamed over")
			}
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", oldFD.Fd())); !bytes.Equal(b, old) {
				t.Errorf("open old file now reads %q", b)
			}
			assertOnlyFile(t, dir, "kmemfix-node")

			// Same content again: skipped, not rewritten; the mode is repaired.
			os.Chmod(final, 0o600)
			ino := inode(t, final)
			res, err = p.Upload(ctx, tc.target, req)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Skipped || res.Bytes != 0 || inode(t, final) != ino {
				t.Errorf("second upload not skipped: %+v", res)
			}
			if st, _ := os.Stat(final); st.Mode().Perm() != 0o755 {
				t.Errorf("mode after skip %v, want 0755", st.Mode().Perm())
			}

			// Wrong expected checksum: refused before anything is sent.
			bad := req
			bad.SHA256 = sha([]byte("other"))
			if _, err := p.Upload(ctx, tc.target, bad); transport.Classify(err) != transport.ClassBadInput {
				t.Errorf("wrong checksum: %v, want BadInput", err)
			}
			assertOnlyFile(t, dir, "kmemfix-node")

			// A missing folder fails cleanly.
			missing := req
			missing.RemotePath = filepath.Join(dir, "nope", "x")
			if _, err := p.Upload(ctx, tc.target, missing); transport.Classify(err) != transport.ClassRemote {
				t.Errorf("missing folder: %v, want Remote", err)
			}
		})
	}
}

func assertOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != name {
		t.Errorf("%s holds %q, want only %q (temporary file left behind?)", dir, names, name)
	}
}

func TestUploadContentReader(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	p := l.pool(nil)
	dir := rootOnlyDir(t)
	content := []byte("#!/bin/sh\necho hi\n")
	res, err := p.Upload(context.Background(), l.target(0), transport.UploadRequest{
		Content: bytes.NewReader(content), Size: int64(len(content)), RemotePath: filepath.Join(dir, "x"), Mode: 0o700,
	})
	if err != nil || res.SHA256 != sha(content) {
		t.Fatalf("%+v %v", res, err)
	}
	out, err := p.Exec(context.Background(), l.target(0), []string{filepath.Join(dir, "x")}, transport.ExecOptions{})
	if err != nil || string(out.Stdout) != "hi\n" {
		t.Fatalf("uploaded script: %v %q %q", err, out.Stdout, out.Stderr)
	}
}

// blockingContent serves its bytes once (the local checksum pass), then
// cancels the upload on the first read of the transfer and blocks until the
// cancellation is seen.
type blockingContent struct {
	data   []byte
	ctx    context.Context
	cancel context.CancelFunc
	hashed int64
}

func (b *blockingContent) ReadAt(p []byte, off int64) (int, error) {
	if b.hashed < int64(len(b.data)) {
		n := copy(p, b.data[off:])
		b.hashed += int64(n)
		if off+int64(n) == int64(len(b.data)) {
			return n, io.EOF
		}
		return n, nil
	}
	b.cancel()
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func TestUploadCanceledLeavesNothing(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	requireSudoUser(t)
	p := l.pool(nil)
	for _, tg := range []transport.Target{l.target(0), l.sudoTarget(0)} {
		dir := rootOnlyDir(t)
		ctx, cancel := context.WithCancel(context.Background())
		data := bytes.Repeat([]byte("z"), 1<<20)
		src := &blockingContent{data: data, ctx: ctx, cancel: cancel}
		_, err := p.Upload(ctx, tg, transport.UploadRequest{Content: src, Size: int64(len(data)), RemotePath: filepath.Join(dir, "f"), Mode: 0o644})
		if transport.Classify(err) != transport.ClassCanceled {
			t.Fatalf("%s: %v, want Canceled", tg.User, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%s: canceled upload left %v", tg.User, ents)
		}
		// The pool still works afterwards.
		if _, err := p.Exec(context.Background(), tg, []string{"true"}, transport.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUploadWithoutOpenSSHExtensions: an sftp-server that refuses
// fsync@openssh.com and posix-rename@openssh.com still gets a durable,
// atomic upload (sync(1), mv -T), and says so.
func TestUploadWithoutOpenSSHExtensions(t *testing.T) {
	l := newLab(t, sshdtest.Options{SFTP: "/usr/lib/openssh/sftp-server -P fsync,posix-rename"})
	p := l.pool(nil)
	dir := rootOnlyDir(t)
	content := []byte("helper")
	res, err := p.Upload(context.Background(), l.target(0), transport.UploadRequest{Content: bytes.NewReader(content), Size: int64(len(content)), RemotePath: filepath.Join(dir, "h"), Mode: 0o755})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Fsync, "lacks fsync@openssh.com") || !strings.Contains(res.Rename, "lacks posix-rename") {
		t.Errorf("result %+v does not say the extensions were missing", res)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "h")); !bytes.Equal(got, content) {
		t.Errorf("content %q", got)
	}
	assertOnlyFile(t, dir, "h")
}
