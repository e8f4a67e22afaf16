package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/kmemfix/kmemfix/node"
)

// builtin is a coreutils command a simulated node offers, enough for what
// an uploader runs (sha256sum, uname -m, dd, mkdir -p, mv, rm, chmod, stat,
// cat, test, kill, and sh -c for the transport's known scripts).
type builtin func(e *cmdEnv, args []string) int

// cmdEnv is what a builtin runs with: the node, its filesystem with the
// caller's permissions, and the session's streams.
type cmdEnv struct {
	h      *host
	sys    node.System
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

var builtins map[string]builtin

func init() {
	builtins = map[string]builtin{
		"true":      func(*cmdEnv, []string) int { return 0 },
		"false":     func(*cmdEnv, []string) int { return 1 },
		"uname":     uname,
		"sha256sum": sha256sum,
		"cat":       cat,
		"mkdir":     mkdir,
		"mv":        mv,
		"rm":        rm,
		"chmod":     chmod,
		"test":      test,
		"kill":      killBuiltin,
		"dd":        ddBuiltin,
		"sync":      func(*cmdEnv, []string) int { return 0 },
		"sh":        shBuiltin,
		"stat":      stat,
	}
}

// operands drops the given flags (and a "--") from args; any other option
// is an error, as the real tool would print a usage error.
func operands(tool string, args []string, known string, stderr io.Writer) (flags map[byte]bool, ops []string, ok bool) {
	flags = map[byte]bool{}
	for i, a := range args {
		if a == "--" {
			return flags, args[i+1:], true
		}
		if len(a) < 2 || a[0] != '-' {
			return flags, args[i:], true
		}
		for _, c := range []byte(a[1:]) {
			if strings.IndexByte(known, c) < 0 {
				fmt.Fprintf(stderr, "%s: invalid option -- '%c'\n", tool, c)
				return nil, nil, false
			}
			flags[c] = true
		}
	}
	return flags, nil, true
}

func uname(e *cmdEnv, args []string) int {
	flags, ops, ok := operands("uname", args, "amrsn", e.stderr)
	if !ok || len(ops) > 0 {
		return 1
	}
	var out []string
	if flags['a'] || flags['s'] || len(flags) == 0 {
		out = append(out, "Linux")
	}
	if flags['a'] || flags['n'] {
		out = append(out, e.h.name)
	}
	if flags['a'] || flags['r'] {
		release, err := e.sys.ReadFile("/proc/sys/kernel/osrelease")
		if err != nil {
			fmt.Fprintf(e.stderr, "uname: cannot get system name: %s\n", errText(err))
			return 1
		}
		out = append(out, strings.TrimSpace(string(release)))
	}
	if flags['a'] || flags['m'] {
		m, _ := unameMachine(e.h.spec.Arch)
		out = append(out, m)
	}
	fmt.Fprintln(e.stdout, strings.Join(out, " "))
	return 0
}

// unameMachine is `uname -m` for a Go architecture name.
func unameMachine(arch string) (string, error) {
	switch arch {
	case "amd64":
		return "x86_64", nil
	case "arm64":
		return "aarch64", nil
	}
	return "", fmt.Errorf("fleet: architecture %q not simulated: use amd64 or arm64", arch)
}

func sha256sum(e *cmdEnv, args []string) int {
	_, ops, ok := operands("sha256sum", args, "b", e.stderr)
	if !ok || len(ops) == 0 {
		return 1
	}
	code := 0
	for _, p := range ops {
		sum, err := node.FileSHA256(e.sys, p)
		if err != nil {
			fmt.Fprintf(e.stderr, "sha256sum: %s: %s\n", p, errText(err))
			code = 1
			continue
		}
		fmt.Fprintf(e.stdout, "%s  %s\n", sum, p)
	}
	return code
}

func cat(e *cmdEnv, args []string) int {
	_, ops, ok := operands("cat", args, "", e.stderr)
	if !ok {
		return 1
	}
	code := 0
	for _, p := range ops {
		data, err := e.sys.ReadFile(p)
		if err != nil {
			fmt.Fprintf(e.stderr, "cat: %s: %s\n", p, errText(err))
			code = 1
			continue
		}
		_, _ = e.stdout.Write(data)
	}
	return code
}

func mkdir(e *cmdEnv, args []string) int {
	flags, ops, ok := operands("mkdir", args, "p", e.stderr)
	if !ok || len(ops) == 0 {
		return 1
	}
	code := 0
	for _, p := range ops {
		var err error
		if flags['p'] {
			err = e.sys.MkdirAll(p)
		} else {
			err = e.sys.Mkdir(p)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "mkdir: cannot create directory '%s': %s\n", p, errText(err))
			code = 1
		}
	}
	return code
}

func mv(e *cmdEnv, args []string) int {
	_, ops, ok := operands("mv", args, "fT", e.stderr)
	if !ok || len(ops) != 2 {
		fmt.Fprintln(e.stderr, "mv: want exactly SOURCE DEST (the simulated mv takes no more)")
		return 1
	}
	if err := e.sys.Rename(ops[0], ops[1]); err != nil {
		fmt.Fprintf(e.stderr, "mv: cannot move '%s' to '%s': %s\n", ops[0], ops[1], errText(err))
		return 1
	}
	e.h.shas.forget(ops[1])
	return 0
}

func rm(e *cmdEnv, args []string) int {
	flags, ops, ok := operands("rm", args, "f", e.stderr)
	if !ok {
		return 1
	}
	code := 0
	for _, p := range ops {
		err := e.sys.Remove(p)
		if err != nil && (!flags['f'] || !errors.Is(err, fs.ErrNotExist)) {
			fmt.Fprintf(e.stderr, "rm: cannot remove '%s': %s\n", p, errText(err))
			code = 1
		}
		e.h.shas.forget(p)
	}
	return code
}

func chmod(e *cmdEnv, args []string) int {
	if len(args) == 3 && args[0] == "--" {
		args = args[1:]
	} else if len(args) == 3 && args[1] == "--" {
		args = []string{args[0], args[2]}
	}
	if len(args) != 2 {
		fmt.Fprintln(e.stderr, "chmod: want an octal MODE and one FILE (the simulated chmod takes no more)")
		return 1
	}
	mode, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil || mode > 0o7777 {
		fmt.Fprintf(e.stderr, "chmod: invalid mode: '%s'\n", args[0])
		return 1
	}
	data, err := e.sys.ReadFile(args[1])
	if err == nil {
		err = e.sys.WriteFileAtomic(args[1], bytes.NewReader(data), fs.FileMode(mode).Perm())
		e.h.shas.forget(args[1])
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "chmod: cannot access '%s': %s\n", args[1], errText(err))
		return 1
	}
	return 0
}

// test supports the unary file tests an uploader asks: -e -f -d -x -s.
func test(e *cmdEnv, args []string) int {
	if len(args) != 2 || len(args[0]) != 2 || args[0][0] != '-' {
		fmt.Fprintln(e.stderr, "test: only `test -e|-f|-d|-x|-s FILE` is simulated")
		return 2
	}
	info, err := e.sys.Stat(args[1])
	if err != nil {
		return 1
	}
	ok := false
	switch args[0][1] {
	case 'e':
		ok = true
	case 'f':
		ok = info.Mode().IsRegular()
	case 'd':
		ok = info.IsDir()
	case 'x':
		ok = info.Mode().Perm()&0o111 != 0
	case 's':
		ok = info.Size() > 0
	default:
		fmt.Fprintf(e.stderr, "test: %s: unary operator not simulated\n", args[0])
		return 2
	}
	if ok {
		return 0
	}
	return 1
}

// errText words an error like coreutils does (strerror of the errno).
func errText(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, fs.ErrExist):
		return "File exists"
	case errors.Is(err, fs.ErrPermission):
		return "Permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		s := pe.Err.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}
