package transport_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
)

func TestExecExitCodesAndOutput(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	p := l.pool(nil)
	ctx := context.Background()
	cases := []struct {
		argv           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"true"}, 0, "", ""},
		{[]string{"sh", "-c", "echo out; echo err >&2; exit 3"}, 3, "out\n", "err\n"},
		{[]string{"false"}, 1, "", ""},
		{[]string{"sh", "-c", "exit 255"}, 255, "", ""},
		{[]string{"cat"}, 0, "", ""},
	}
	for _, c := range cases {
		res, err := p.Exec(ctx, l.target(0), c.argv, transport.ExecOptions{})
		if err != nil {
			t.Fatalf("%q: %v", c.argv, err)
		}
		if res.ExitCode != c.code || string(res.Stdout) != c.stdout || string(res.Stderr) != c.stderr {
			t.Errorf("%q: got exit %d stdout %q stderr %q; want %d %q %q", c.argv, res.ExitCode, res.Stdout, res.Stderr, c.code, c.stdout, c.stderr)
		}
	}
}

func TestExecStdinAndStderrLines(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	p := l.pool(nil)
	var lines []string
	script := `while read -r l; do echo "{\"done\":$l}" >&2; done; printf 'partial' >&2; echo finished`
	res, err := p.Exec(context.Background(), l.target(0), []string{"sh", "-c", script}, transport.ExecOptions{
		Stdin:      strings.NewReader("1\n2\n3\n"),
		StderrLine: func(s string) { lines = append(lines, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"done":1}`, `{"done":2}`, `{"done":3}`, "partial"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("stderr lines %q, want %q", lines, want)
	}
	if string(res.Stdout) != "finished\n" || res.ExitCode != 0 {
		t.Errorf("stdout %q exit %d", res.Stdout, res.ExitCode)
	}
}
