package fleet

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	for line, want := range map[string][]string{
		`a b  c`:                          {"a", "b", "c"},
		`'a b' "c d" e\ f`:                {"a b", "c d", "e f"},
		`''`:                              {""},
		`'it'\''s'`:                       {"it's"},
		`"a\"b\\c\$d\` + "`" + `e\x"`:     {"a\"b\\c$d`e\\x"},
		`sudo -n -- '/usr/bin/x' '--a=b'`: {"sudo", "-n", "--", "/usr/bin/x", "--a=b"},
		"'line\nbreak' tab\\\tx":          {"line\nbreak", "tab\tx"},
		"a\\\nb":                          {"ab"},
		`x --flag=v,w@h:1%2+3`:            {"x", "--flag=v,w@h:1%2+3"},
	} {
		got, err := SplitCommand(line)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", line, got, err, want)
		}
	}
}

// TestSplitCommandRefusesShell checks that nothing a shell would interpret
// is accepted unquoted: the simulated node would otherwise run something
// other than what a real shell runs.
func TestSplitCommandRefusesShell(t *testing.T) {
	for _, line := range []string{
		"a;b", "a|b", "a&b", "a>f", "a<f", "$(x)", "`x`", "a$HOME", "*", "a?", "[ab]", "#c", "~", "{a,b}",
		"(a)", "a\nb", "!x", `"$x"`, "\"`x`\"", `'open`, `"open`, `a\`, "", "   ", "FOO=1 cmd", "A_1=x",
	} {
		if got, err := SplitCommand(line); !errors.Is(err, ErrShellSyntax) {
			t.Errorf("SplitCommand(%q) = %q, %v; want ErrShellSyntax", line, got, err)
		}
	}
}

// TestSplitCommandInvertsQuote round-trips hostile arguments through
// single quoting, the way the transport quotes argv.
func TestSplitCommandInvertsQuote(t *testing.T) {
	argv := hostileArgv()
	got, err := SplitCommand(quoteArgv(argv))
	if err != nil || !reflect.DeepEqual(got, argv) {
		t.Fatalf("round trip: %q, %v; want %q", got, err, argv)
	}
}

func hostileArgv() []string {
	return []string{
		"/opt/kmemfix/kmemfix-node", "", " ", "a b", "'", `"`, `\`, "$(reboot)", "`id`", "${HOME}", ";rm -rf /",
		"a|b&c>d<e", "*?[x]", "~root", "#x", "line1\nline2", "tab\there", "ü漢字", "--", "-n", "it's \"q\"",
		"pod1234;$(x)/cgroup name", strings.Repeat("x", 4096), "\x01\x7f",
	}
}

// quoteArgv is the POSIX single-quote quoting the transport applies.
func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
