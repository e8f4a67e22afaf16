package transport

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/sftp"
)

// UploadRequest is one file to place on a node.
type UploadRequest struct {
	// LocalPath is the file to upload; or leave it empty and set Content
	// and Size.
	LocalPath string
	Content   io.ReaderAt
	Size      int64
	// RemotePath is the absolute final path on the node. Its folder must
	// exist.
	RemotePath string
	// Mode is the final permission bits, e.g. 0o755.
	Mode os.FileMode
	// SHA256 is the expected lowercase hex digest. The local content must
	// match it; empty means "whatever the local content hashes to".
	SHA256 string
}

// UploadResult says what Upload did.
type UploadResult struct {
	Skipped bool   // the node already had the file with this SHA256
	SHA256  string // digest verified on the node
	Bytes   int64  // bytes sent (0 when skipped)
	Method  string // "sftp" or "sudo dd"
	Fsync   string // how the temporary file was flushed to disk
	Rename  string // how it was moved into place
}

// Upload places a file on the node safely: it is written to a temporary
// name in the destination folder, flushed to disk, its sha256 computed ON
// THE NODE with sha256sum (what the node will execute, as the node's kernel
// reads it, without sending the file back), then atomically renamed over
// RemotePath. When RemotePath already has the wanted sha256 nothing is sent.
//
// Targets logging in as root (or without Sudo) write through SFTP (fsync@ and
// posix-rename@openssh.com when the server has them); sudo targets cannot
// write there through SFTP, so the content is streamed into
// `sudo -n -- dd conv=excl,fsync` and renamed with `mv -f -T`.
func (p *Pool) Upload(ctx context.Context, t Target, req UploadRequest) (UploadResult, error) {
	r, err := checkTarget(t)
	if err != nil {
		return UploadResult{}, err
	}
	src, closeSrc, err := req.source()
	if err != nil {
		return UploadResult{}, newError(ClassBadInput, r.node.name, "upload", err)
	}
	defer closeSrc()
	sum, err := localSHA256(src, req)
	if err != nil {
		return UploadResult{}, newError(ClassBadInput, r.node.name, "upload", err)
	}
	u := &upload{p: p, t: t, name: r.node.name, req: req, src: src, sum: sum}
	return u.run(ctx, r)
}

func (req *UploadRequest) source() (*io.SectionReader, func(), error) {
	var errs []error
	if !path.IsAbs(req.RemotePath) || path.Clean(req.RemotePath) != req.RemotePath || req.RemotePath == "/" {
		errs = append(errs, fmt.Errorf("RemotePath %q: want a clean absolute file path", req.RemotePath))
	}
	if strings.IndexByte(req.RemotePath, 0) >= 0 {
		errs = append(errs, fmt.Errorf("RemotePath: %w", ErrNUL))
	}
	if req.Mode == 0 || req.Mode&^os.ModePerm != 0 {
		errs = append(errs, fmt.Errorf("Mode %v: want permission bits only, e.g. 0o755", req.Mode)) //nolint:staticcheck // ST1005: starts with the UploadRequest field name, like the errors around it
	}
	if req.SHA256 != "" && !isSHA256(req.SHA256) {
		errs = append(errs, fmt.Errorf("SHA256 %q: want 64 lowercase hex digits", req.SHA256))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	if req.LocalPath == "" {
		if req.Content == nil {
			return nil, nil, errors.New("set LocalPath, or Content and Size")
		}
		return io.NewSectionReader(req.Content, 0, req.Size), func() {}, nil
	}
	f, err := os.Open(req.LocalPath)
	if err != nil {
		return nil, nil, fmt.Errorf("local file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close() // read-only file; the Stat error is the one to report
		return nil, nil, fmt.Errorf("local file: %w", err)
	}
	return io.NewSectionReader(f, 0, st.Size()), func() { _ = f.Close() }, nil
}

func localSHA256(src *io.SectionReader, req UploadRequest) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(src, 0, src.Size())); err != nil {
		return "", fmt.Errorf("reading local content: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if req.SHA256 != "" && sum != req.SHA256 {
		return "", fmt.Errorf("local content %s hashes to %s, not the expected %s: rebuild it or fix the expected checksum", req.LocalPath, sum, req.SHA256)
	}
	return sum, nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// upload is one Upload in progress.
type upload struct {
	p    *Pool
	t    Target
	name string
	req  UploadRequest
	src  *io.SectionReader
	sum  string
	tmp  string
}

func (u *upload) run(ctx context.Context, r route) (UploadResult, error) {
	res := UploadResult{SHA256: u.sum}
	have, mode, err := u.remoteState(ctx)
	if err != nil {
		return res, err
	}
	if have == u.sum {
		res.Skipped = true
		if mode != u.req.Mode {
			err = u.cmd(ctx, "chmod", "chmod", strconv.FormatUint(uint64(u.req.Mode), 8), "--", u.req.RemotePath)
		}
		return res, err
	}
	u.tmp = path.Join(path.Dir(u.req.RemotePath), "."+path.Base(u.req.RemotePath)+".kmemfix-"+randomHex()+".tmp")
	defer u.removeTmp(ctx)
	if useSudo(u.t) {
		err = u.viaSudo(ctx, &res)
	} else {
		err = u.viaSFTP(ctx, r, &res)
	}
	if err != nil {
		return res, err
	}
	res.Bytes = u.src.Size()
	u.tmp = "" // renamed: nothing to remove
	return res, nil
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// remoteState returns the sha256 and mode of RemotePath, or "" if absent.
func (u *upload) remoteState(ctx context.Context) (string, os.FileMode, error) {
	script := `[ -e "$1" ] || exit 0; sha256sum -- "$1" && stat -c %a -- "$1"`
	res, err := u.p.Exec(ctx, u.t, []string{"sh", "-c", script, "sh", u.req.RemotePath}, ExecOptions{})
	if err != nil {
		return "", 0, err
	}
	if res.ExitCode != 0 {
		return "", 0, newError(ClassRemote, u.name, "upload", fmt.Errorf("checking %s: exit %d: %s", u.req.RemotePath, res.ExitCode, strings.TrimSpace(string(res.Stderr))))
	}
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if len(lines) < 2 {
		return "", 0, nil
	}
	mode, err := strconv.ParseUint(strings.TrimSpace(lines[len(lines)-1]), 8, 32)
	if err != nil {
		return "", 0, newError(ClassRemote, u.name, "upload", fmt.Errorf("stat %s printed %q", u.req.RemotePath, lines[len(lines)-1]))
	}
	return parseSHA256Sum(lines[0]), os.FileMode(mode), nil
}

// parseSHA256Sum reads the digest of a sha256sum line ("HEX  NAME", with a
// leading backslash when the name needed escaping).
func parseSHA256Sum(line string) string {
	line = strings.TrimPrefix(line, `\`)
	if len(line) < 64 || !isSHA256(line[:64]) {
		return ""
	}
	return line[:64]
}

// verify computes the temporary file's sha256 on the node.
func (u *upload) verify(ctx context.Context) error {
	res, err := u.p.Exec(ctx, u.t, []string{"sha256sum", "--", u.tmp}, ExecOptions{})
	if err != nil {
		return err
	}
	got := parseSHA256Sum(string(res.Stdout))
	if res.ExitCode != 0 || got == "" {
		return newError(ClassRemote, u.name, "upload", fmt.Errorf("sha256sum on the node failed (exit %d): %s; the node needs coreutils sha256sum", res.ExitCode, strings.TrimSpace(string(res.Stderr))))
	}
	if got != u.sum {
		return newError(ClassRemote, u.name, "upload", fmt.Errorf("%s on the node hashes to %s, want %s: the copy was corrupted or the disk is full; retry", u.tmp, got, u.sum))
	}
	return nil
}

// cmd runs argv (through sudo for sudo targets) and fails on a non-zero exit.
func (u *upload) cmd(ctx context.Context, what string, argv ...string) error {
	return u.cmdIn(ctx, nil, what, argv...)
}

func (u *upload) cmdIn(ctx context.Context, stdin io.Reader, what string, argv ...string) error {
	res, err := u.p.Exec(ctx, u.t, argv, ExecOptions{Stdin: stdin})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return newError(ClassRemote, u.name, "upload", fmt.Errorf("%s on the node: exit %d: %s", what, res.ExitCode, strings.TrimSpace(string(res.Stderr))))
	}
	return nil
}

// removeTmp deletes the temporary file left by a failed upload, even when
// ctx was canceled.
func (u *upload) removeTmp(ctx context.Context) {
	if u.tmp == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := u.cmd(ctx, "rm", "rm", "-f", "--", u.tmp); err != nil {
		u.p.log.Warn("could not remove temporary upload file", "node", u.name, "file", u.tmp, "err", err)
	}
}

func (u *upload) viaSudo(ctx context.Context, res *UploadResult) error {
	res.Method = "sudo dd"
	res.Fsync = "dd conv=fsync"
	res.Rename = "mv -f -T (rename(2))"
	err := u.cmdIn(ctx, io.NewSectionReader(u.src, 0, u.src.Size()), "writing "+u.tmp, "dd", "of="+u.tmp, "bs=1M", "conv=excl,fsync", "status=none")
	if err == nil {
		err = u.cmd(ctx, "chmod", "chmod", strconv.FormatUint(uint64(u.req.Mode), 8), "--", u.tmp)
	}
	if err == nil {
		err = u.verify(ctx)
	}
	if err == nil {
		err = u.cmd(ctx, "rename", "mv", "-f", "-T", "--", u.tmp, u.req.RemotePath)
	}
	return err
}

func (u *upload) viaSFTP(ctx context.Context, r route, res *UploadResult) error {
	res.Method = "sftp"
	c, sc, err := u.p.sftp(ctx, r)
	if err != nil {
		return err
	}
	defer u.p.release(c)
	defer sc.Close()
	defer context.AfterFunc(ctx, func() { _ = sc.Close() })()
	fail := func(what string, err error) error {
		if ctx.Err() != nil {
			return newError(ClassCanceled, u.name, "upload", ctx.Err())
		}
		return newError(ClassRemote, u.name, "upload", fmt.Errorf("sftp %s %s: %w", what, u.tmp, err))
	}
	f, err := sc.OpenFile(u.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fail("create", err)
	}
	defer f.Close()
	if _, err := f.ReadFrom(io.NewSectionReader(u.src, 0, u.src.Size())); err != nil {
		return fail("write", err)
	}
	if err := f.Chmod(u.req.Mode); err != nil {
		return fail("chmod", err)
	}
	if _, ok := sc.HasExtension("fsync@openssh.com"); ok {
		res.Fsync = "fsync@openssh.com"
		if err := f.Sync(); err != nil {
			return fail("fsync", err)
		}
	} else {
		res.Fsync = "sync(1): the server lacks fsync@openssh.com"
		u.p.log.Warn("sftp server lacks fsync@openssh.com: running sync(1), which flushes every file system", "node", u.name)
		if err := u.cmd(ctx, "sync", "sync"); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return fail("close", err)
	}
	if err := u.verify(ctx); err != nil {
		return err
	}
	if _, ok := sc.HasExtension("posix-rename@openssh.com"); ok {
		res.Rename = "posix-rename@openssh.com"
		if err := sc.PosixRename(u.tmp, u.req.RemotePath); err != nil {
			return fail("posix-rename", err)
		}
		return nil
	}
	res.Rename = "mv -f -T (rename(2)): the server lacks posix-rename@openssh.com"
	return u.cmd(ctx, "rename", "mv", "-f", "-T", "--", u.tmp, u.req.RemotePath)
}

// sftp opens an SFTP session on the pooled connection to r, dialling again
// once if the pooled connection is dead.
func (p *Pool) sftp(ctx context.Context, r route) (*conn, *sftp.Client, error) {
	c, reused, err := p.acquire(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	opts := []sftp.ClientOption{sftp.UseConcurrentWrites(true)}
	sc, err := c.client.NewSftp(opts...)
	if err != nil && reused && ctx.Err() == nil {
		p.stats.redials.Add(1)
		p.discard(c)
		p.release(c)
		if c, _, err = p.acquire(ctx, r); err != nil {
			return nil, nil, err
		}
		sc, err = c.client.NewSftp(opts...)
	}
	if err != nil {
		p.release(c)
		return nil, nil, newError(ClassRemote, r.node.name, "upload", fmt.Errorf("start sftp subsystem: %w (enable `Subsystem sftp` in the node's sshd_config)", err))
	}
	return c, sc, nil
}
