package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kmemfix/kmemfix/inventory"
)

func TestExecExitCodesAndStderr(t *testing.T) {
	f, files := testFleet(t, Options{})
	c := dial(t, f, files, "node-000")
	uploadFile(t, c, helperPath, fakeBuild, 0o755)

	o := run(t, c, quoteArgv([]string{helperPath, "exit", "3"}))
	if o.err != nil || o.code != 3 || o.stderr != "failing as asked\n" {
		t.Errorf("exit 3: %+v", o)
	}
	o = run(t, c, quoteArgv([]string{helperPath, "echo", "x"}))
	if o.err != nil || o.code != 0 || o.stdout != "[\"x\"]\n" {
		t.Errorf("echo: %+v", o)
	}
	o = run(t, c, "uname -m")
	if o.code != 0 || o.stdout != "x86_64\n" {
		t.Errorf("uname -m: %+v", o)
	}
	o = run(t, c, "uname -r")
	if o.code != 0 || !strings.HasPrefix(o.stdout, "3.10.0-") {
		t.Errorf("uname -r: %+v", o)
	}
	o = run(t, c, quoteArgv([]string{"sha256sum", "--", helperPath}))
	if want := sum(fakeBuild) + "  " + helperPath + "\n"; o.code != 0 || o.stdout != want {
		t.Errorf("sha256sum: %+v, want %q", o, want)
	}
	o = run(t, c, "sha256sum -- /nope")
	if o.code != 1 || o.stderr != "sha256sum: /nope: No such file or directory\n" {
		t.Errorf("sha256sum missing: %+v", o)
	}
	o = run(t, c, "ls | sh")
	if o.code != 2 || !strings.Contains(o.stderr, "metacharacter") {
		t.Errorf("pipe: %+v", o)
	}
	o = run(t, c, "frobnicate")
	if o.code != 127 || o.stderr != "sh: frobnicate: command not found\n" {
		t.Errorf("unknown command: %+v", o)
	}
}

// TestSHAGate: only a file whose sha256 is an accepted helper build runs.
func TestSHAGate(t *testing.T) {
	f, files := testFleet(t, Options{})
	c := dial(t, f, files, "node-000")
	cases := []struct {
		name    string
		content []byte
		mode    os.FileMode
		code    int
		stderr  string
	}{
		{"wrong binary", []byte("\x7fELF another program\n"), 0o755, 126, "cannot execute binary file: Exec format error"},
		{"a script", []byte("#!/bin/sh\necho not the helper\n"), 0o755, 126, "runs no scripts"},
		{"not executable", fakeBuild, 0o644, 126, "Permission denied"},
		{"the build", fakeBuild, 0o755, 0, ""},
	}
	for _, tc := range cases {
		uploadFile(t, c, helperPath, tc.content, tc.mode)
		o := run(t, c, quoteArgv([]string{helperPath, "echo"}))
		if o.err != nil || o.code != tc.code || !strings.Contains(o.stderr, tc.stderr) {
			t.Errorf("%s: %+v, want exit %d and %q", tc.name, o, tc.code, tc.stderr)
		}
	}
	o := run(t, c, quoteArgv([]string{"/opt/missing/kmemfix-node", "inspect"}))
	if o.code != 127 || !strings.Contains(o.stderr, "No such file or directory") {
		t.Errorf("missing program: %+v", o)
	}
}

// TestSFTP covers what an uploader relies on: the fsync extension, rename
// without overwrite, posix-rename with overwrite, stat, list, remove.
func TestSFTP(t *testing.T) {
	f, files := testFleet(t, Options{})
	c := dial(t, f, files, "node-000")
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if v, ok := sc.HasExtension("fsync@openssh.com"); !ok || v != "1" {
		t.Errorf("fsync@openssh.com not advertised: %q %v", v, ok)
	}
	if v, ok := sc.HasExtension("posix-rename@openssh.com"); !ok || v != "1" {
		t.Errorf("posix-rename@openssh.com not advertised: %q %v", v, ok)
	}
	write := func(p, s string) {
		t.Helper()
		fh, err := sc.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		if err := fh.Sync(); err != nil {
			t.Fatal(err)
		}
		// fsync committed the bytes: the node sees them before close.
		if got, err := f.Node("node-000").ReadFile(p); err != nil || string(got) != s {
			t.Errorf("after fsync the node has %q, %v; want %q", got, err, s)
		}
		if err := fh.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.MkdirAll("/var/lib/kmemfix/up"); err != nil {
		t.Fatal(err)
	}
	write("/var/lib/kmemfix/up/a", "one")
	write("/var/lib/kmemfix/up/b", "two")
	if err := sc.Rename("/var/lib/kmemfix/up/a", "/var/lib/kmemfix/up/b"); err == nil {
		t.Error("plain SFTP rename over an existing file succeeded; OpenSSH refuses it")
	}
	if err := sc.PosixRename("/var/lib/kmemfix/up/a", "/var/lib/kmemfix/up/b"); err != nil {
		t.Fatal(err)
	}
	got, err := f.Node("node-000").ReadFile("/var/lib/kmemfix/up/b")
	if err != nil || string(got) != "one" {
		t.Errorf("after posix-rename b = %q, %v", got, err)
	}
	st, err := sc.Stat("/var/lib/kmemfix/up/b")
	if err != nil || st.Size() != 3 || st.IsDir() {
		t.Errorf("stat: %v %v", st, err)
	}
	list, err := sc.ReadDir("/var/lib/kmemfix/up")
	if err != nil || len(list) != 1 || list[0].Name() != "b" {
		t.Errorf("readdir: %v %v", list, err)
	}
	if err := sc.Remove("/var/lib/kmemfix/up/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Stat("/var/lib/kmemfix/up/b"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat after remove: %v", err)
	}
}

// TestHostileArgvRoundTrip: every byte of every argument reaches the helper
// as sent, through quoting, the SSH exec request and the parser.
func TestHostileArgvRoundTrip(t *testing.T) {
	f, files := testFleet(t, Options{})
	c := dial(t, f, files, "node-000")
	uploadFile(t, c, helperPath, fakeBuild, 0o755)
	argv := hostileArgv()
	argv[0] = "echo"
	for _, sudo := range []string{"", "sudo -n -- "} {
		o := run(t, c, sudo+quoteArgv(append([]string{helperPath}, argv...)))
		var got []string
		if err := json.Unmarshal([]byte(o.stdout), &got); err != nil || o.code != 0 {
			t.Fatalf("%q: %+v %v", sudo, o, err)
		}
		if !reflect.DeepEqual(got, argv[1:]) {
			t.Errorf("%q: helper got %q, want %q", sudo, got, argv[1:])
		}
	}
}

// TestSudo: a non-root user reaches the helper only through sudo -n.
func TestSudo(t *testing.T) {
	f, files := testFleet(t, Options{User: "kmemfix"})
	c, err := ssh.Dial("tcp", addrOf(info(t, f, "node-000")), clientConfig(t, files, "kmemfix"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Create(helperPath); !errors.Is(err, os.ErrPermission) {
		t.Errorf("SFTP write to %s as a non-root user: %v, want permission denied", helperPath, err)
	}
	uploadFile(t, c, "/home/kmemfix/own-file", []byte("x"), 0o644) // its home is writable
	sc.Close()
	if o := runStdin(t, c, quoteArgv([]string{"dd", "of=" + helperPath}), "x"); o.code != 1 || !strings.Contains(o.stderr, "Permission denied") {
		t.Errorf("dd without sudo: %+v", o)
	}
	if o := runStdin(t, c, "sudo -n -- "+quoteArgv([]string{"dd", "of=" + helperPath, "status=none"}), string(fakeBuild)); o.code != 0 {
		t.Fatalf("sudo dd: %+v", o)
	}
	if o := run(t, c, "sudo -n -- "+quoteArgv([]string{"chmod", "755", helperPath})); o.code != 0 {
		t.Fatalf("sudo chmod: %+v", o)
	}
	line := quoteArgv([]string{helperPath, "echo", "hi"})
	if o := run(t, c, line); o.code != 1 || !strings.Contains(o.stderr, "needs root") {
		t.Errorf("without sudo: %+v", o)
	}
	if o := run(t, c, "sudo "+line); o.code != 1 || !strings.Contains(o.stderr, "password is required") {
		t.Errorf("sudo without -n: %+v", o)
	}
	if o := run(t, c, "sudo -n -- "+line); o.code != 0 || o.stdout != "[\"hi\"]\n" {
		t.Errorf("sudo -n --: %+v", o)
	}
	if _, err := ssh.Dial("tcp", addrOf(info(t, f, "node-000")), clientConfig(t, files, "root")); err == nil {
		t.Error("root logged in on a fleet whose user is kmemfix")
	}
}

func TestFaultUnreachable(t *testing.T) {
	f, _ := testFleet(t, Options{Nodes: 2, Overrides: []Override{{Nodes: "node-001", Set: func(s *NodeSpec) { s.Faults.Unreachable = true }}}})
	_, err := net.DialTimeout("tcp", addrOf(info(t, f, "node-001")), 2*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial unreachable node: %v, want connection refused", err)
	}
	if c, err := net.Dial("tcp", addrOf(info(t, f, "node-000"))); err != nil {
		t.Errorf("the other node: %v", err)
	} else {
		c.Close()
	}
}

func TestFaultHandshakeHang(t *testing.T) {
	f, files := testFleet(t, Options{Defaults: NodeSpec{Faults: Faults{HandshakeHang: true}}})
	cfg := clientConfig(t, files, "root")
	cfg.Timeout = 300 * time.Millisecond // bounds the TCP connect only
	conn, err := net.Dial("tcp", addrOf(info(t, f, "node-000")))
	if err != nil {
		t.Fatalf("TCP connect must succeed: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(300 * time.Millisecond))
	_, _, _, err = ssh.NewClientConn(conn, "node-000", cfg)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("handshake with a hanging node: %v, want a timeout", err)
	}
}

func TestFaultAuthRefusal(t *testing.T) {
	f, files := testFleet(t, Options{Defaults: NodeSpec{Faults: Faults{AuthRefusal: true}}})
	_, err := ssh.Dial("tcp", addrOf(info(t, f, "node-000")), clientConfig(t, files, "root"))
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("dial: %v, want an authentication failure", err)
	}
}

func TestFaultChangedHostKey(t *testing.T) {
	f, files := testFleet(t, Options{Defaults: NodeSpec{Faults: Faults{ChangedHostKey: true}}})
	_, err := ssh.Dial("tcp", addrOf(info(t, f, "node-000")), clientConfig(t, files, "root"))
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) != 1 {
		t.Fatalf("dial: %v, want a *knownhosts.KeyError naming the known key", err)
	}
	if !reflect.DeepEqual(ke.Want[0].Key.Marshal(), info(t, f, "node-000").HostKey.Marshal()) {
		t.Error("the known key in the error is not the one written to known_hosts")
	}
}

// TestFaultDropExec: the second exec runs (its side effect is on the node)
// but the client gets no exit status, only a dead connection.
func TestFaultDropExec(t *testing.T) {
	f, files := testFleet(t, Options{Defaults: NodeSpec{Faults: Faults{DropExec: 2}}})
	c := dial(t, f, files, "node-000")
	if o := run(t, c, "true"); o.err != nil {
		t.Fatal(o.err)
	}
	o := run(t, c, "mkdir -p /var/lib/kmemfix/dropped")
	var missing *ssh.ExitMissingError
	if o.err == nil || !errors.As(o.err, &missing) && !errors.Is(o.err, io.EOF) {
		t.Errorf("dropped exec: %+v, want EOF or a missing exit status", o)
	}
	if _, err := f.Node("node-000").Stat("/var/lib/kmemfix/dropped"); err != nil {
		t.Errorf("the dropped command did not run: %v", err)
	}
	if o := run(t, c, "true"); o.err == nil {
		t.Error("the connection survived the drop")
	}
	c2 := dial(t, f, files, "node-000")
	if o := run(t, c2, "true"); o.err != nil || o.code != 0 {
		t.Errorf("a new connection after the drop: %+v", o)
	}
}

func TestFaultMkdirENOSPC(t *testing.T) {
	f, files := testFleet(t, Options{Defaults: NodeSpec{Faults: Faults{MkdirENOSPC: 2}}})
	c := dial(t, f, files, "node-000")
	uploadFile(t, c, helperPath, fakeBuild, 0o755) // uploads make directories: not counted
	for i, want := range []string{"ok\n", "mkdir /sys/fs/cgroup/memory/probe2: no space left on device\n", "ok\n"} {
		p := "/sys/fs/cgroup/memory/probe" + string(rune('1'+i))
		o := run(t, c, quoteArgv([]string{helperPath, "mkdir", p}))
		if o.stdout != want {
			t.Errorf("mkdir #%d: %+v, want %q", i+1, o, want)
		}
	}
}

func TestFaultKubeletFailsStart(t *testing.T) {
	f, files := testFleet(t, Options{Defaults: NodeSpec{Faults: Faults{KubeletFailsStart: true}}})
	c := dial(t, f, files, "node-000")
	uploadFile(t, c, helperPath, fakeBuild, 0o755)
	_ = run(t, c, quoteArgv([]string{helperPath, "run", "systemctl", "stop", "kubelet"}))
	o := run(t, c, quoteArgv([]string{helperPath, "run", "systemctl", "start", "kubelet"}))
	if o.code == 0 {
		t.Errorf("systemctl start kubelet on a node whose kubelet fails to start: %+v", o)
	}
}

// TestFaultRebootAfterExec: after the 2nd helper exec the node reboots:
// the connection is cut and the boot id changes.
func TestFaultRebootAfterExec(t *testing.T) {
	f, files := testFleet(t, Options{Defaults: NodeSpec{Faults: Faults{RebootAfterExec: 2}}})
	c := dial(t, f, files, "node-000")
	uploadFile(t, c, helperPath, fakeBuild, 0o755)
	bootLine := quoteArgv([]string{helperPath, "boot-id"})
	first := run(t, c, bootLine)
	second := run(t, c, bootLine)
	if first.code != 0 || second.code != 0 || first.stdout == "" || first.stdout != second.stdout {
		t.Fatalf("before the reboot: %+v then %+v", first, second)
	}
	deadline := time.Now().Add(5 * time.Second)
	for run(t, c, "true").err == nil {
		if time.Now().After(deadline) {
			t.Fatal("the connection survived the reboot")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c2 := dial(t, f, files, "node-000")
	after := run(t, c2, bootLine)
	if after.code != 0 || after.stdout == first.stdout {
		t.Errorf("boot id after the reboot: %+v, before %q", after, first.stdout)
	}
}

// TestCancelStopsCommand: a signal, or closing the session, cancels the
// helper's context.
func TestCancelStopsCommand(t *testing.T) {
	f, files := testFleet(t, Options{})
	c := dial(t, f, files, "node-000")
	uploadFile(t, c, helperPath, fakeBuild, 0o755)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	if err := s.Start(quoteArgv([]string{helperPath, "wait"})); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := io.ReadFull(out, buf); err != nil { // "waiting\n": it runs
		t.Fatal(err)
	}
	_ = s.Signal(ssh.SIGTERM)
	err = s.Wait()
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 6 {
		t.Errorf("after SIGTERM: %v, want exit 6 (interrupted)", err)
	}
}

// TestSessionCloseIsNoSignal: a client that closes its session sends no
// signal (no pty, as with sshd): the command runs on, then dies of SIGPIPE
// at its first write.
func TestSessionCloseIsNoSignal(t *testing.T) {
	f, files := testFleet(t, Options{})
	c := dial(t, f, files, "node-000")
	uploadFile(t, c, helperPath, fakeBuild, 0o755)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(quoteArgv([]string{helperPath, "after", "/tmp/go"})); err != nil {
		t.Fatal(err)
	}
	s.Close()
	h := f.byName["node-000"]
	deadline := time.Now().Add(10 * time.Second)
	for !hungUp(h) { // the node has seen the close
		if time.Now().After(deadline) {
			t.Fatal("the node never saw the session close")
		}
		time.Sleep(time.Millisecond)
	}
	sim := f.Node("node-000")
	if err := sim.WriteFileAtomic("/tmp/go", strings.NewReader(""), 0o644); err != nil {
		t.Fatal(err)
	}
	for {
		h.procMu.Lock()
		left := len(h.procs)
		h.procMu.Unlock()
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the command never ended")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := sim.Stat("/tmp/go.ran"); err != nil {
		t.Errorf("the command did not run on after its session closed: %v", err)
	}
	if _, err := sim.Stat("/tmp/go.wrote"); err == nil {
		t.Error("the command survived a write to its closed session")
	}
}

// TestChurn: with churn on, the running kubelet replaces pods on its own.
func TestChurn(t *testing.T) {
	f, _ := testFleet(t, Options{Defaults: NodeSpec{Containers: 4, ChurnEvery: time.Millisecond}})
	sim := f.Node("node-000")
	before := strings.Join(sim.Cgroups(), "\n")
	deadline := time.Now().Add(10 * time.Second)
	for strings.Join(sim.Cgroups(), "\n") == before {
		if time.Now().After(deadline) {
			t.Fatal("no pod churn")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestFilesForClients(t *testing.T) {
	f, files := testFleet(t, Options{Nodes: 3, Overrides: []Override{{Nodes: "node-002", Set: func(s *NodeSpec) { s.Faults.Unreachable = true; s.Arch = "arm64" }}}})
	st, err := os.Stat(files.ClientKey)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("client key mode: %v %v", st, err)
	}
	kh, err := os.ReadFile(files.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(kh)), "\n")
	if len(lines) != 3 {
		t.Fatalf("known_hosts has %d lines: %q", len(lines), kh)
	}
	for i, n := range f.Nodes() {
		want := "[127.0.0.1]:" + itoa(n.Port) + " ssh-ed25519 "
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("known_hosts line %d = %q, want prefix %q", i, lines[i], want)
		}
	}
	inv, err := inventory.Load(files.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range inv.Resolved() {
		fn := f.Nodes()[i]
		if n.Name != fn.Name || n.Address != "127.0.0.1" || n.Port != fn.Port || n.User != "root" || n.Arch != fn.Arch {
			t.Errorf("inventory node %d = %+v, fleet has %+v", i, n, fn)
		}
	}
	if got := inv.Nodes[2].Labels["sim.faults"]; got != "unreachable" {
		t.Errorf("node-002 labels: %v", inv.Nodes[2].Labels)
	}
	// the files reach a node with nothing else
	c := dial(t, f, files, "node-001")
	if o := run(t, c, "true"); o.err != nil || o.code != 0 {
		t.Errorf("exec with the written files: %+v", o)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestCloseLeavesNoGoroutines: Close with clients connected, a command
// running, an SFTP session open and a hanging handshake ends every
// goroutine of the fleet.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f, err := Start(context.Background(), Options{Nodes: 3, Helper: fakeHelper, HelperSHA256s: []string{sum(fakeBuild)},
		Defaults: NodeSpec{Containers: 3, ChurnEvery: time.Millisecond},
		Overrides: []Override{
			{Nodes: "node-001", Set: func(s *NodeSpec) { s.ExecLatency = time.Hour }},
			{Nodes: "node-002", Set: func(s *NodeSpec) { s.Faults.HandshakeHang = true }},
		}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := f.WriteFiles(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientConfig(t, files, "root")
	c, err := ssh.Dial("tcp", addrOf(f.Nodes()[0]), cfg)
	if err != nil {
		t.Fatal(err)
	}
	uploadFile(t, c, helperPath, fakeBuild, 0o755)
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := c.NewSession()
	out, _ := s.StdoutPipe()
	_ = s.Start(quoteArgv([]string{helperPath, "wait"}))
	_, _ = io.ReadFull(out, make([]byte, 8))
	hang, err := net.Dial("tcp", addrOf(f.Nodes()[2]))
	if err != nil {
		t.Fatal(err)
	}
	c1, err := ssh.Dial("tcp", addrOf(f.Nodes()[1]), cfg)
	if err != nil {
		t.Fatal(err)
	}
	slow, _ := c1.NewSession()
	_ = slow.Start("true") // sleeps an hour of exec latency: Close cuts it short

	f.Close()
	// Close returned: the fleet's goroutines end even though the clients
	// are still connected (a goroutine may still be returning from its
	// last deferred call, hence the short wait).
	if stacks := fleetGoroutines(2 * time.Second); stacks != "" {
		t.Errorf("fleet goroutines alive after Close with clients connected:\n%s", stacks)
	}
	_ = s.Wait() // the server side went away: the client sees it
	for _, cl := range []io.Closer{sc, c, c1, hang} {
		cl.Close()
	}
	if _, err := net.Dial("tcp", addrOf(f.Nodes()[0])); err == nil {
		t.Error("a closed fleet still accepts connections")
	}
}

// fleetGoroutines waits up to d for the fleet's goroutines to be gone and
// returns the stacks of those left.
func fleetGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	buf := make([]byte, 1<<20)
	for {
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "sim/fleet.(*host)") && !strings.Contains(stacks, "sim/fleet.(*Fleet)") {
			return ""
		}
		if time.Now().After(deadline) {
			return stacks
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hungUp reports whether the node's one running process lost its session.
func hungUp(h *host) bool {
	h.procMu.Lock()
	defer h.procMu.Unlock()
	for _, p := range h.procs {
		return p.hungUp()
	}
	return false
}
