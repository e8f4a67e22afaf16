package transport_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/transport"
)

// sudoUser is a local non-root user allowed passwordless sudo through a
// sudoers.d file that the test removes (and the user too, when the test
// created it).
const sudoUser = "kmemfixsudo"

func requireSudoUser(t testing.TB) (sudoersFile string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a test user and a sudoers.d entry")
		return ""
	}
	if _, err := exec.LookPath("sudo"); err != nil {
		if testing.Short() {
			t.Skipf("sudo not installed and -short given: skipping (apt-get install -y sudo): %v", err)
		}
		t.Fatalf("sudo not installed: apt-get install -y sudo (scripts/deps.sh must install it): %v", err)
	}
	if _, err := user.Lookup(sudoUser); err != nil {
		// "*" rather than useradd's locked "!": sshd without PAM refuses locked accounts.
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", "-p", "*", sudoUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v: %s", err, out)
		}
		t.Cleanup(func() {
			// Its sshd sessions end asynchronously after the pool closes.
			for range 100 {
				if exec.Command("userdel", "-r", sudoUser).Run() == nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("could not remove test user %s", sudoUser)
		})
	}
	b := make([]byte, 6)
	rand.Read(b)
	file := filepath.Join("/etc/sudoers.d", "kmemfix-test-"+hex.EncodeToString(b))
	if err := os.WriteFile(file, []byte(sudoUser+" ALL=(ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(file) })
	if out, err := exec.Command("visudo", "-c", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("sudoers entry rejected: %v: %s", err, out)
	}
	return file
}

func (l *lab) sudoTarget(i int) transport.Target {
	t := l.target(i)
	t.User, t.Sudo = sudoUser, true
	return t
}
