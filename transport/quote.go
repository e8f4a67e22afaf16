package transport

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNUL is wrapped when an argument holds a NUL byte, which no remote shell
// can pass on.
var ErrNUL = errors.New("argument contains a NUL byte, which cannot be passed through a remote shell")

// Quote returns s as one POSIX shell word: wrapped in single quotes, each
// embedded single quote written as quote, backslash, quote, quote (closing
// the quoted run, an escaped quote, reopening it). Every byte but NUL survives
// a POSIX shell unchanged (spaces, ;, $(...), backticks, newlines, globs).
func Quote(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", ErrNUL
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
}

// CommandLine builds the remote command line for argv: every element quoted,
// joined by spaces. The remote user's login shell runs it, so the program
// receives exactly argv. With sudo, `sudo -n --` goes first: non-interactive
// (fails instead of prompting for a password) and no option parsing of argv.
func CommandLine(argv []string, sudo bool) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("empty argv: give at least the program to run")
	}
	if argv[0] == "" {
		return "", errors.New("empty program name in argv[0]")
	}
	var b strings.Builder
	if sudo {
		b.WriteString("sudo -n -- ")
	}
	for i, a := range argv {
		q, err := Quote(a)
		if err != nil {
			return "", fmt.Errorf("argv[%d]: %w", i, err)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(q)
	}
	return b.String(), nil
}
