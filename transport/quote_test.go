package transport_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
)

func hostileArgs(canary string) []string {
	return []string{
		"plain", "two words", " lead and trail ", "semi;colon && echo x", "$(touch " + canary + ")",
		"`touch " + canary + "`", "new\nline", "it's", "''", `"double"`, `back\slash`, "-n", "--", "-rf",
		"*", "~", "$HOME", "${IFS}", "!bang", "tab\there", "glob[a-z]?", "", "'; touch " + canary + "; '",
		"\x01\x7f\xff", "ünïcode", "> redirect", "| pipe", "#comment",
	}
}

// TestQuotingRealShell sends hostile arguments through OpenSSH and the
// remote login shell (and sudo) and checks the program got exactly argv.
func TestQuotingRealShell(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	requireSudoUser(t)
	p := l.pool(nil)
	canary := filepath.Join(t.TempDir(), "pwned")
	args := hostileArgs(canary)
	for _, target := range []transport.Target{l.target(0), l.sudoTarget(0)} {
		res, err := p.Exec(context.Background(), target, append([]string{"printf", `%s\0`}, args...), transport.ExecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 {
			t.Fatalf("%s: exit %d: %s", target.User, res.ExitCode, res.Stderr)
		}
		got := strings.Split(strings.TrimSuffix(string(res.Stdout), "\x00"), "\x00")
		if len(got) != len(args) {
			t.Fatalf("%s: got %d args %q, want %d", target.User, len(got), got, len(args))
		}
		for i := range args {
			if got[i] != args[i] {
				t.Errorf("%s: arg %d arrived as %q, want %q", target.User, i, got[i], args[i])
			}
		}
	}
	if _, err := os.Stat(canary); err == nil {
		t.Fatal("an argument was executed by the remote shell")
	}
}

func TestQuotingRejectsNUL(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	p := l.pool(nil)
	_, err := p.Exec(context.Background(), l.target(0), []string{"echo", "a\x00b"}, transport.ExecOptions{})
	if transport.Classify(err) != transport.ClassBadInput || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("got %v, want a BadInput error about NUL", err)
	}
	if l.srv.Accepted() != 0 {
		t.Error("a rejected argv still connected to the node")
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":        "''",
		"a":       "'a'",
		"it's":    `'it'\''s'`,
		"$(x)":    "'$(x)'",
		"a\nb":    "'a\nb'",
		"'":       `''\'''`,
		"-n":      "'-n'",
		"a b;`c`": "'a b;`c`'",
	} {
		got, err := transport.Quote(in)
		if err != nil || got != want {
			t.Errorf("Quote(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	line, err := transport.CommandLine([]string{"rm", "-f", "x y"}, true)
	if err != nil || line != "sudo -n -- 'rm' '-f' 'x y'" {
		t.Errorf("CommandLine = %q, %v", line, err)
	}
	if _, err := transport.CommandLine(nil, false); err == nil {
		t.Error("empty argv accepted")
	}
}
