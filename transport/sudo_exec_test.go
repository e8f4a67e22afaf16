package transport_test

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
)

// TestSudo shows Target.Sudo really goes through sudo -n for a non-root
// user, and that sudo refusing is an exit code, not a transport error.
func TestSudo(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	requireSudoUser(t)
	p := l.pool(nil)
	ctx := context.Background()
	id := func(tg transport.Target) string {
		t.Helper()
		res, err := p.Exec(ctx, tg, []string{"sh", "-c", `echo "$(id -un) $SUDO_USER"`}, transport.ExecOptions{})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("%v exit %d %s", err, res.ExitCode, res.Stderr)
		}
		return strings.TrimSpace(string(res.Stdout))
	}
	if got := id(l.sudoTarget(0)); got != "root "+sudoUser {
		t.Errorf("with Sudo: %q, want root via sudo from %s", got, sudoUser)
	}
	plain := l.sudoTarget(0)
	plain.Sudo = false
	if got := id(plain); got != sudoUser {
		t.Errorf("without Sudo: %q", got)
	}
	// Root never goes through sudo (it may not even be installed).
	rootSudo := l.target(0)
	rootSudo.Sudo = true
	if got := id(rootSudo); got != "root" {
		t.Errorf("root with Sudo: %q, want plain root", got)
	}
}

func TestSudoRefusedIsExitCode(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	sudoers := requireSudoUser(t)
	os.Remove(sudoers) // the user may no longer sudo
	p := l.pool(nil)
	res, err := p.Exec(context.Background(), l.sudoTarget(0), []string{"true"}, transport.ExecOptions{})
	if err != nil {
		t.Fatalf("sudo refusing is the command's exit code, not a transport error: %v", err)
	}
	if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "sudo") {
		t.Fatalf("exit %d stderr %q, want sudo's refusal", res.ExitCode, res.Stderr)
	}
}

func TestArch(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	p := l.pool(nil)
	arch, err := p.Arch(context.Background(), l.target(0))
	if err != nil || arch != runtime.GOARCH {
		t.Fatalf("Arch = %q, %v; want %s", arch, err, runtime.GOARCH)
	}
	before := p.Stats().Reused + p.Stats().Dials
	if arch, _ := p.Arch(context.Background(), l.target(0)); arch != runtime.GOARCH || p.Stats().Reused+p.Stats().Dials != before {
		t.Error("Arch asked the node twice")
	}
	tg := l.target(0)
	tg.Arch = "arm64"
	if arch, _ := p.Arch(context.Background(), tg); arch != "arm64" {
		t.Errorf("explicit Arch ignored: %s", arch)
	}
}
