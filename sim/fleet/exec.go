package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/kmemfix/kmemfix/node"
)

// exec runs one command line the way a node's login shell would run a
// simple command: a few coreutils built in, every other program looked up
// in the node's filesystem and run only if it is an accepted helper build.
// It returns the exit status and whether the helper ran.
func (h *host) exec(ctx context.Context, proc *process, user, line string, stdin io.Reader, stdout, stderr io.Writer) (int, bool) {
	if rest, ok := strings.CutPrefix(line, pgidWrapper); ok {
		fmt.Fprintf(stderr, "kmemfix-transport-pgid:%d\n", proc.pid)
		line = rest
	}
	argv, err := SplitCommand(line)
	if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		return 2, false
	}
	root := user == "root"
	if len(argv) >= 2 && argv[0] == "sudo" {
		if argv, err = stripSudo(argv); err != nil {
			fmt.Fprintf(stderr, "sudo: %v\n", err)
			return 1, false
		}
		root = true
	}
	if b, ok := builtins[path.Base(argv[0])]; ok && (!strings.Contains(argv[0], "/") || inSystemPath(argv[0])) {
		env := &cmdEnv{h: h, sys: h.sys, stdin: stdin, stdout: stdout, stderr: stderr}
		if !root {
			env.sys = &userSystem{System: h.sys, user: user}
		}
		return b(env, argv[1:]), false
	}
	if !strings.Contains(argv[0], "/") {
		fmt.Fprintf(stderr, "sh: %s: command not found\n", argv[0])
		return 127, false
	}
	return h.execFile(ctx, root, argv, stdin, stdout, stderr)
}

// stripSudo removes `sudo -n [--]`. Other sudo options would need a
// terminal or a password on a real node, which an automated run must not
// wait for: refused.
func stripSudo(argv []string) ([]string, error) {
	rest := argv[1:]
	nonInteractive := false
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		switch rest[0] {
		case "-n":
			nonInteractive = true
			rest = rest[1:]
			continue
		case "--":
			rest = rest[1:]
		default:
			return nil, fmt.Errorf("option %q not simulated (use sudo -n --)", rest[0])
		}
		break
	}
	if !nonInteractive {
		return nil, errors.New("a password is required (no -n: sudo would prompt on a terminal)")
	}
	if len(rest) == 0 {
		return nil, errors.New("no command given")
	}
	return rest, nil
}

func inSystemPath(p string) bool {
	switch path.Dir(p) {
	case "/bin", "/usr/bin", "/sbin", "/usr/sbin":
		return true
	}
	return false
}

// execFile runs a program file: the helper when its sha256 is accepted.
func (h *host) execFile(ctx context.Context, root bool, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, bool) {
	prog := argv[0]
	info, err := h.sys.Stat(prog)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(stderr, "sh: %s: No such file or directory\n", prog)
		return 127, false
	case err != nil:
		fmt.Fprintf(stderr, "sh: %s: %v\n", prog, err)
		return 126, false
	case info.IsDir():
		fmt.Fprintf(stderr, "sh: %s: Is a directory\n", prog)
		return 126, false
	case info.Mode().Perm()&0o111 == 0:
		fmt.Fprintf(stderr, "sh: %s: Permission denied\n", prog)
		return 126, false
	}
	sum, err := h.shas.sum(h, prog, info)
	if err != nil {
		fmt.Fprintf(stderr, "sh: %s: %v\n", prog, err)
		return 126, false
	}
	if arch, ok := h.fleet.accepted[sum]; !ok || (arch != "" && arch != h.spec.Arch) {
		if head, err := h.sys.ReadFile(prog); err == nil && strings.HasPrefix(string(head), "#!") {
			fmt.Fprintf(stderr, "sh: %s: a simulated node runs no scripts, only the accepted helper builds\n", prog)
			return 126, false
		}
		fmt.Fprintf(stderr, "sh: %s: cannot execute binary file: Exec format error\n", prog)
		return 126, false
	}
	if h.fleet.opts.Helper == nil {
		fmt.Fprintf(stderr, "sh: %s: %v\n", prog, errNoHelper)
		return 126, false
	}
	if !root {
		fmt.Fprintf(stderr, "%s: permission denied: the helper needs root (run it with sudo -n --)\n", path.Base(prog))
		return 1, false
	}
	h.helperExecs.Add(1)
	code := h.runHelper(func() int { return h.fleet.opts.Helper(ctx, argv[1:], stdin, stdout, stderr, h.helperSys) }, stderr)
	return code, true
}

// shaCache remembers the sha256 of program files by path, size and mtime,
// so a thousand execs of a 10 MB helper do not hash it a thousand times.
type shaCache struct {
	mu sync.Mutex
	m  map[string]shaEntry
}

type shaEntry struct {
	size int64
	mod  time.Time
	sum  string
}

func (c *shaCache) sum(h *host, p string, info fs.FileInfo) (string, error) {
	c.mu.Lock()
	e, ok := c.m[p]
	c.mu.Unlock()
	if ok && e.size == info.Size() && e.mod.Equal(info.ModTime()) {
		return e.sum, nil
	}
	sum, err := node.FileSHA256(h.sys, p)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]shaEntry{}
	}
	c.m[p] = shaEntry{size: info.Size(), mod: info.ModTime(), sum: sum}
	c.mu.Unlock()
	return sum, nil
}

func (c *shaCache) forget(p string) {
	c.mu.Lock()
	delete(c.m, p)
	c.mu.Unlock()
}
