package fleet

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestOpenSSHClient: OpenSSH's own ssh and sftp reach a node with the
// fleet's files and nothing else, as an operator following Run's hint does.
func TestOpenSSHClient(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("no OpenSSH client (ssh) on this machine: apt-get install openssh-client")
	}
	f, files := testFleet(t, Options{Defaults: NodeSpec{Arch: "arm64"}})
	n := f.Nodes()[0]
	opts := []string{"-i", files.ClientKey, "-o", "UserKnownHostsFile=" + files.KnownHosts, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"}
	ssh := append(append([]string{}, opts...), "-p", strconv.Itoa(n.Port), "root@127.0.0.1", "uname", "-m")
	out, err := exec.Command("ssh", ssh...).CombinedOutput()
	if err != nil || string(out) != "aarch64\n" {
		t.Errorf("ssh uname -m: %q %v", out, err)
	}
	sftp := exec.Command("sftp", append(append([]string{}, opts...), "-P", strconv.Itoa(n.Port), "root@127.0.0.1")...)
	sftp.Stdin = strings.NewReader("mkdir /tmp/up\nput " + files.KnownHosts + " /tmp/up/kh\nrename /tmp/up/kh /tmp/up/known\n")
	if out, err := sftp.CombinedOutput(); err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	got, err := f.Node(n.Name).ReadFile("/tmp/up/known")
	if err != nil || !strings.Contains(string(got), "ssh-ed25519") {
		t.Errorf("uploaded file: %q %v", got, err)
	}
}
