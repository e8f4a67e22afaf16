package fleet

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// maxDDBytes bounds what dd reads from e.stdin into a node's memory.
const maxDDBytes = 1 << 30

// ddBuiltin is dd(1) as an uploader uses it: e.stdin to of=FILE, with
// conv=excl (fail if FILE exists) and conv=fsync accepted, bs= ignored,
// status=none silencing the transfer summary. The file is committed once
// e.stdin ends (mode 0644, as dd creates files under umask 022).
func ddBuiltin(e *cmdEnv, args []string) int {
	var (
		of     string
		excl   bool
		silent bool
	)
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case !ok:
			fmt.Fprintf(e.stderr, "dd: unrecognized operand '%s'\n", a)
			return 1
		case k == "of":
			of = v
		case k == "bs" || k == "obs" || k == "ibs":
		case k == "status":
			silent = v == "none"
		case k == "conv":
			for _, c := range strings.Split(v, ",") {
				switch c {
				case "excl":
					excl = true
				case "fsync", "fdatasync":
				default:
					fmt.Fprintf(e.stderr, "dd: conv=%s is not simulated\n", c)
					return 1
				}
			}
		default:
			fmt.Fprintf(e.stderr, "dd: operand %s= is not simulated (only of, bs, conv, status)\n", k)
			return 1
		}
	}
	if of == "" {
		fmt.Fprintln(e.stderr, "dd: the simulated dd writes to of=FILE only")
		return 1
	}
	if _, err := e.sys.Stat(of); err == nil && excl {
		fmt.Fprintf(e.stderr, "dd: failed to open '%s': File exists\n", of)
		return 1
	}
	if info, err := e.sys.Stat(path.Dir(of)); err != nil || !info.IsDir() {
		fmt.Fprintf(e.stderr, "dd: failed to open '%s': No such file or directory\n", of)
		return 1
	}
	data, err := io.ReadAll(io.LimitReader(e.stdin, maxDDBytes+1))
	if err != nil {
		fmt.Fprintf(e.stderr, "dd: error reading standard input: %v\n", err)
		return 1
	}
	if len(data) > maxDDBytes {
		fmt.Fprintf(e.stderr, "dd: error writing '%s': No space left on device\n", of)
		return 1
	}
	if err := e.sys.WriteFileAtomic(of, bytes.NewReader(data), fs.FileMode(0o644)); err != nil {
		fmt.Fprintf(e.stderr, "dd: error writing '%s': %s\n", of, errText(err))
		return 1
	}
	e.h.shas.forget(of)
	if !silent {
		fmt.Fprintf(e.stderr, "%d bytes copied\n", len(data))
	}
	return 0
}
