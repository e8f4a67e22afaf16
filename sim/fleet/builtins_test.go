package fleet

import (
	"io"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestUploaderCommands runs the commands an uploader sends, as the
// transport sends them, and checks their effect on the node.
func TestUploaderCommands(t *testing.T) {
	f, files := testFleet(t, Options{})
	c := dial(t, f, files, "node-000")
	sim := f.Node("node-000")
	if err := sim.MkdirAll("/opt/kmemfix"); err != nil {
		t.Fatal(err)
	}
	tmp, final := "/opt/kmemfix/.kmemfix-node.kmemfix-01.tmp", "/opt/kmemfix/kmemfix-node"
	script := `[ -e "$1" ] || exit 0; sha256sum -- "$1" && stat -c %a -- "$1"`

	if o := run(t, c, quoteArgv([]string{"sh", "-c", script, "sh", final})); o.code != 0 || o.stdout != "" {
		t.Errorf("state of a missing file: %+v", o)
	}
	if o := runStdin(t, c, "sudo -n -- "+quoteArgv([]string{"dd", "of=" + tmp, "bs=1M", "conv=excl,fsync", "status=none"}), string(fakeBuild)); o.code != 0 || o.stderr != "" {
		t.Errorf("dd: %+v", o)
	}
	if got, _ := sim.ReadFile(tmp); string(got) != string(fakeBuild) {
		t.Errorf("dd wrote %q", got)
	}
	if o := runStdin(t, c, quoteArgv([]string{"dd", "of=" + tmp, "conv=excl,fsync", "status=none"}), "x"); o.code != 1 || !strings.Contains(o.stderr, "File exists") {
		t.Errorf("dd conv=excl over an existing file: %+v", o)
	}
	if o := run(t, c, quoteArgv([]string{"chmod", "755", "--", tmp})); o.code != 0 {
		t.Errorf("chmod: %+v", o)
	}
	if o := run(t, c, quoteArgv([]string{"mv", "-f", "-T", "--", tmp, final})); o.code != 0 {
		t.Errorf("mv: %+v", o)
	}
	o := run(t, c, quoteArgv([]string{"sh", "-c", script, "sh", final}))
	if want := sum(fakeBuild) + "  " + final + "\n755\n"; o.code != 0 || o.stdout != want {
		t.Errorf("state after the upload: %+v, want %q", o, want)
	}
	if o := run(t, c, quoteArgv([]string{"rm", "-f", "--", tmp})); o.code != 0 {
		t.Errorf("rm -f of a missing file: %+v", o)
	}
	if o := run(t, c, quoteArgv([]string{"sh", "-c", "rm -rf /", "sh"})); o.code != 2 || !strings.Contains(o.stderr, "knownScripts") {
		t.Errorf("unknown script: %+v", o)
	}
	if o := run(t, c, quoteArgv([]string{"kill", "-s", "TERM", "--", "-424242"})); o.code != 1 || !strings.Contains(o.stderr, "No such process") {
		t.Errorf("kill of no process: %+v", o)
	}
}

// TestPgidWrapperAndKill: the transport's wrapper gets a pid back on
// stderr, and kill -s TERM -- -PID from another session interrupts it.
func TestPgidWrapperAndKill(t *testing.T) {
	f, files := testFleet(t, Options{})
	c := dial(t, f, files, "node-000")
	uploadFile(t, c, helperPath, fakeBuild, 0o755)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stderr, _ := s.StderrPipe()
	stdout, _ := s.StdoutPipe()
	if err := s.Start(pgidWrapper + "sudo -n -- " + quoteArgv([]string{helperPath, "wait"})); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("kmemfix-transport-pgid:20000\n"))
	if _, err := io.ReadFull(stderr, line); err != nil || !strings.HasPrefix(string(line), "kmemfix-transport-pgid:2") {
		t.Fatalf("pgid line %q, %v", line, err)
	}
	_, _ = io.ReadFull(stdout, make([]byte, 8)) // "waiting\n"
	pid := strings.TrimSpace(strings.TrimPrefix(string(line), "kmemfix-transport-pgid:"))
	if o := run(t, c, quoteArgv([]string{"kill", "-s", "KILL", "--", "-" + pid})); o.code != 0 {
		t.Fatalf("kill: %+v", o)
	}
	var exit *ssh.ExitError
	if err := s.Wait(); !errorsAs(err, &exit) || exit.Signal() != "KILL" {
		t.Errorf("after kill -s KILL: %v, want killed by signal KILL", err)
	}
}

func runStdin(t *testing.T, c *ssh.Client, line, stdin string) outcome {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		return outcome{err: err}
	}
	defer s.Close()
	var out, errb strings.Builder
	s.Stdin, s.Stdout, s.Stderr = strings.NewReader(stdin), &out, &errb
	err = s.Run(line)
	o := outcome{stdout: out.String(), stderr: errb.String()}
	var exit *ssh.ExitError
	if errorsAs(err, &exit) {
		o.code = exit.ExitStatus()
	} else if err != nil {
		o.err = err
	}
	return o
}
