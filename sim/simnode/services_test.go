package simnode

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/kmemfix/kmemfix/node"
)

func run(t *testing.T, n *Node, argv ...string) node.Command {
	t.Helper()
	out, err := n.Run(context.Background(), argv)
	if err != nil {
		t.Fatalf("run %v: %v", argv, err)
	}
	return out
}

func TestSystemctl(t *testing.T) {
	n := newNode(t, Config{})
	for i, tc := range []struct {
		argv   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"systemctl", "is-active", "kubelet"}, 0, "active\n", ""},
		{[]string{"systemctl", "stop", "kubelet"}, 0, "", ""},
		{[]string{"systemctl", "is-active", "kubelet"}, 3, "inactive\n", ""},
		{[]string{"systemctl", "stop", "kubelet.service"}, 0, "", ""},
		{[]string{"/usr/bin/systemctl", "start", "kubelet"}, 0, "", ""},
		{[]string{"systemctl", "is-active", "kubelet.service"}, 0, "active\n", ""},
		{[]string{"systemctl", "restart", "cadvisor"}, 0, "", ""},
		{[]string{"systemctl", "is-active", "nope"}, 3, "unknown\n", ""},
		{[]string{"systemctl", "start", "nope"}, 5, "", "Failed to start nope.service: Unit not found.\n"},
		{[]string{"systemctl", "stop", "nope"}, 5, "", "Failed to stop nope.service: Unit nope.service not loaded.\n"},
		{[]string{"systemctl", "status", "nope"}, 4, "", "Unit nope.service could not be found.\n"},
		{[]string{"systemctl", "--no-pager", "-q", "is-active", "docker"}, 0, "active\n", ""},
		{[]string{"systemctl", "is-enabled", "kubelet"}, 0, "enabled\n", ""},
		{[]string{"systemctl", "frobnicate", "kubelet"}, 1, "", "Unknown operation 'frobnicate'.\n"},
	} {
		out := run(t, n, tc.argv...)
		if out.ExitCode != tc.code || string(out.Stdout) != tc.stdout || string(out.Stderr) != tc.stderr {
			t.Errorf("%d %v: exit %d out %q err %q", i, tc.argv, out.ExitCode, out.Stdout, out.Stderr)
		}
	}
	out := run(t, n, "systemctl", "status", "kubelet")
	if out.ExitCode != 0 || !strings.Contains(string(out.Stdout), "Active: active (running)") {
		t.Fatalf("status %d %s", out.ExitCode, out.Stdout)
	}
	if n.CadvisorRestarts() != 1 {
		t.Fatalf("cadvisor restarts %d", n.CadvisorRestarts())
	}
}

func TestKubeletStartFailureAndHealthz(t *testing.T) {
	n := newNode(t, Config{})
	ctx := context.Background()
	if code, err := n.HTTPGet(ctx, HealthzURL); err != nil || code != 200 {
		t.Fatalf("healthz %d %v", code, err)
	}
	run(t, n, "systemctl", "stop", "kubelet")
	if _, err := n.HTTPGet(ctx, HealthzURL); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("healthz of a stopped kubelet: %v", err)
	}
	n.SetFailStart("kubelet", true)
	out := run(t, n, "systemctl", "start", "kubelet")
	if out.ExitCode != 1 || !strings.HasPrefix(string(out.Stderr), "Job for kubelet.service failed") {
		t.Fatalf("failing start: %d %q", out.ExitCode, out.Stderr)
	}
	if out := run(t, n, "systemctl", "is-active", "kubelet"); string(out.Stdout) != "failed\n" || out.ExitCode != 3 {
		t.Fatalf("is-active %q %d", out.Stdout, out.ExitCode)
	}
	if _, err := n.HTTPGet(ctx, HealthzURL); err == nil {
		t.Fatal("failed kubelet answers healthz")
	}
	n.SetFailStart("kubelet", false)
	run(t, n, "systemctl", "start", "kubelet")
	if code, _ := n.HTTPGet(ctx, "http://localhost:10248/other"); code != 404 {
		t.Fatalf("other path %d", code)
	}
	if _, err := n.HTTPGet(ctx, "http://127.0.0.1:10250/healthz"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("other port: %v", err)
	}
}

func TestKubeletBinaryDecidesBehaviour(t *testing.T) {
	buggy, fixed := KubeletBinary("v1.12.3", true), KubeletBinary("v1.12.3", false)
	if sha256.Sum256(buggy) == sha256.Sum256(fixed) {
		t.Fatal("buggy and fixed kubelets have the same sha256")
	}
	if v, kmem, ok := ParseKubeletBinary(fixed); !ok || kmem || v != "v1.12.3" {
		t.Fatalf("parse fixed: %s %t %t", v, kmem, ok)
	}
	n := newNode(t, Config{Kubelet: KubeletConfig{Buggy: true}})
	if out := run(t, n, "/usr/bin/kubelet", "--version"); string(out.Stdout) != "Kubernetes v1.12.3\n" {
		t.Fatalf("--version %q", out.Stdout)
	}
	if k := n.RunningKubelet(); !k.Running || !k.Kmem {
		t.Fatalf("running %+v", k)
	}
	// Swap the binary: the running kubelet keeps its behaviour until restarted.
	if err := n.WriteFileAtomic("/usr/bin/kubelet", strings.NewReader(string(KubeletBinary("v1.12.3-nokmem", false))), 0o755); err != nil {
		t.Fatal(err)
	}
	if k := n.RunningKubelet(); !k.Kmem {
		t.Fatal("behaviour changed without a restart")
	}
	run(t, n, "systemctl", "restart", "kubelet")
	k := n.RunningKubelet()
	if !k.Running || k.Kmem || k.Version != "v1.12.3-nokmem" || k.SHA256 == "" {
		t.Fatalf("after restart %+v", k)
	}
	// A kubelet binary that is not there: the unit fails to start.
	if err := n.Remove("/usr/bin/kubelet"); err != nil {
		t.Fatal(err)
	}
	if out := run(t, n, "systemctl", "restart", "kubelet"); out.ExitCode != 1 {
		t.Fatalf("start without a binary: %d", out.ExitCode)
	}
	if _, err := n.Run(context.Background(), []string{"/usr/bin/kubelet", "--version"}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("run missing binary: %v", err)
	}
}

func TestRunBinaries(t *testing.T) {
	ctx := context.Background()
	with := newNode(t, Config{Stap: true})
	mkdir(t, with, "x")
	out := run(t, with, "stap", "-g", "-e", "probe begin {}")
	lines := strings.Split(strings.TrimSpace(string(out.Stdout)), "\n")
	if out.ExitCode != 0 || lines[len(lines)-1] != "ids_in_use 2" {
		t.Fatalf("stap: %d %q", out.ExitCode, out.Stdout)
	}
	without := newNode(t, Config{})
	if _, err := without.Run(ctx, []string{"stap", "-g", "-e", "x"}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stap without systemtap: %v", err)
	}
	if _, err := without.Run(ctx, []string{"/no/such/binary"}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing binary: %v", err)
	}
	if out := run(t, without, "docker", "restart", "cadvisor"); out.ExitCode != 0 || without.CadvisorRestarts() != 1 {
		t.Fatalf("docker restart: %d %q", out.ExitCode, out.Stderr)
	}
	run(t, without, "systemctl", "stop", "docker")
	if out := run(t, without, "docker", "restart", "cadvisor"); out.ExitCode != 1 {
		t.Fatalf("docker restart with docker down: %d", out.ExitCode)
	}
	nodocker := newNode(t, Config{NoDocker: true})
	if _, err := nodocker.Run(ctx, []string{"docker", "restart", "cadvisor"}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("docker absent: %v", err)
	}
	without.InstallCommand("/opt/bin/restart-agent", func(argv []string) node.Command {
		return node.Command{ExitCode: 7, Stdout: []byte(strings.Join(argv[1:], ","))}
	})
	if out := run(t, without, "/opt/bin/restart-agent", "a b", "$(c)"); out.ExitCode != 7 || string(out.Stdout) != "a b,$(c)" {
		t.Fatalf("custom command: %d %q", out.ExitCode, out.Stdout)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := without.Run(cctx, []string{"true"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if err := without.WriteFileAtomic("/usr/local/bin/data", strings.NewReader("not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := without.Run(ctx, []string{"data"}); !errors.Is(err, syscall.ENOEXEC) {
		t.Fatalf("non-program: %v", err)
	}
}
