// Package sshdtest starts Debian's OpenSSH server on loopback for tests:
// a generated ed25519 host key, generated client keys in authorized_keys,
// key authentication only, one process per Server, stopped by t.Cleanup.
package sshdtest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Binary is the sshd this package runs.
const Binary = "/usr/sbin/sshd"

// Require skips t when sshd is absent and the run is -short; otherwise a
// missing sshd fails the test (CI must run these).
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Binary); err == nil {
		return
	}
	if testing.Short() {
		t.Skipf("%s not installed and -short given: skipping real-OpenSSH test (install openssh-server, or run make deps)", Binary)
	}
	t.Fatalf("%s not installed: apt-get install -y openssh-server (make deps does it)", Binary)
}

// Key is a generated client key pair.
type Key struct {
	Signer ssh.Signer
	File   string // private key in OpenSSH format, mode 0600
}

// NewKey writes a new ed25519 private key to dir, encrypted when passphrase
// is not empty.
func NewKey(t testing.TB, dir, name, passphrase string) Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, name)
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, name, []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Signer: s, File: file}
}

// Options configure a Server.
type Options struct {
	// Listen are loopback addresses to listen on, all on the same port
	// (default 127.0.0.1).
	Listen []string
	// Authorized are the public keys accepted for every user.
	Authorized []ssh.PublicKey
	// SFTP is the sftp subsystem command (default Debian's sftp-server).
	SFTP string
	// RSAHostKey adds an RSA host key next to the ed25519 one.
	RSAHostKey bool
	// Extra lines for sshd_config; they take precedence over the defaults.
	Extra []string
}

// Server is one running sshd.
type Server struct {
	Port    int
	Listen  []string
	HostKey ssh.PublicKey // ed25519
	RSAKey  ssh.PublicKey // when Options.RSAHostKey
	Dir     string        // world-readable folder with the config and keys

	cmd *exec.Cmd
	log *lockedBuffer
}

// Start runs sshd with opts until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t)
	if len(opts.Listen) == 0 {
		opts.Listen = []string{"127.0.0.1"}
	}
	dir, err := os.MkdirTemp("", "kmemfix-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // best effort: a leftover temp folder fails no test
	// Non-root users read authorized_keys with their own uid.
	if err := os.Chmod(dir, 0o755); err != nil { //nolint:gosec // G302: other users must traverse it to read authorized_keys
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { //nolint:gosec // G301: sshd's privilege-separation folder, 0755 as the openssh package makes it
		t.Fatal(err)
	}
	host := NewKey(t, dir, "ssh_host_ed25519_key", "")
	hostKeys := []string{host.File}
	var rsaPub ssh.PublicKey
	if opts.RSAHostKey {
		file, pub := newRSAKey(t, dir)
		hostKeys, rsaPub = append(hostKeys, file), pub
	}
	var ak bytes.Buffer
	for _, k := range opts.Authorized {
		ak.Write(ssh.MarshalAuthorizedKey(k))
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ak.Bytes(), 0o644); err != nil { //nolint:gosec // G306: non-root users read authorized_keys with their own uid
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s := &Server{Listen: opts.Listen, HostKey: host.Signer.PublicKey(), RSAKey: rsaPub, Dir: dir, log: &lockedBuffer{}}
		s.Port = freePort(t)
		if lastErr = s.start(t, hostKeys, opts.SFTP, opts.Extra); lastErr == nil {
			return s
		}
	}
	t.Fatalf("sshd did not start: %v", lastErr)
	return nil
}

func freePort(t testing.TB) int {
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) start(t testing.TB, hostKeyFiles []string, sftp string, extra []string) error {
	var cfg strings.Builder
	// sshd keeps the first value it reads for a keyword: extra lines go first.
	for _, l := range extra {
		cfg.WriteString(l + "\n")
	}
	for _, a := range s.Listen {
		fmt.Fprintf(&cfg, "ListenAddress %s\n", net.JoinHostPort(a, strconv.Itoa(s.Port)))
	}
	if sftp == "" {
		sftp = "internal-sftp"
		if _, err := os.Stat("/usr/lib/openssh/sftp-server"); err == nil {
			sftp = "/usr/lib/openssh/sftp-server"
		}
	}
	for _, k := range hostKeyFiles {
		fmt.Fprintf(&cfg, "HostKey %s\n", k)
	}
	fmt.Fprintf(&cfg, `PidFile none
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
LogLevel VERBOSE
MaxStartups 200
MaxSessions 50
Subsystem sftp %s
`, filepath.Join(s.Dir, "authorized_keys"), sftp)
	cfgFile := filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o600); err != nil {
		return err
	}
	// Not t.Context(): it is canceled before cleanups run, and sshd must outlive
	// the test's other cleanups; the cleanup below stops it.
	s.cmd = exec.Command(Binary, "-D", "-e", "-f", cfgFile) //nolint:noctx // stopped by t.Cleanup, see above
	pr, pw := io.Pipe()
	s.cmd.Stderr = pw
	if err := s.cmd.Start(); err != nil {
		return err
	}
	var waitErr error
	exited := make(chan struct{}) // closed once sshd has exited; waitErr is then set
	go func() {
		waitErr = s.cmd.Wait()
		_ = pw.Close() // a PipeWriter's Close always returns nil
		close(exited)
	}()
	listening := make(chan struct{})
	go s.readLog(pr, len(s.Listen), listening)
	select {
	case <-listening:
	case <-exited:
		return fmt.Errorf("sshd exited: %w: %s", waitErr, s.Log())
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill() // fails only if sshd already exited, which <-exited then sees
		<-exited
		return fmt.Errorf("sshd did not report listening within 20s: %s", s.Log())
	}
	t.Cleanup(func() {
		// A stopped sshd must be continued to die; both fail only if it already exited.
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		_ = s.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("sshd log (port %d):\n%s", s.Port, s.Log())
		}
	})
	return nil
}

func (s *Server) readLog(r io.Reader, want int, listening chan struct{}) {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		s.log.write(line + "\n")
		if strings.HasPrefix(line, "Server listening on") && strings.HasSuffix(line, fmt.Sprintf("port %d.", s.Port)) {
			if n++; n == want {
				close(listening)
			}
		}
	}
	// Drain what the scanner left (e.g. after an over-long line) so sshd never
	// blocks writing to stderr; there is nothing to do with a read error here.
	_, _ = io.Copy(io.Discard, r)
}

// Log returns what sshd logged so far.
func (s *Server) Log() string { return s.log.String() }

// Pid is the listening sshd's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Pause stops the listening sshd with SIGSTOP: the kernel still accepts TCP
// connections, but nobody speaks SSH on them. Resume undoes it.
func (s *Server) Pause() error { return s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused sshd.
func (s *Server) Resume() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

// Addr is host:port of the i-th listen address.
func (s *Server) Addr(i int) string { return net.JoinHostPort(s.Listen[i], strconv.Itoa(s.Port)) }

// KnownHostsLine is the known_hosts entry of the i-th listen address,
// hashed when hashed is true.
func (s *Server) KnownHostsLine(i int, hashed bool) string {
	host := "[" + s.Listen[i] + "]:" + strconv.Itoa(s.Port)
	if hashed {
		host = hashHost(host)
	}
	return host + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))
}

// Accepted counts "Accepted publickey" lines: completed authentications.
func (s *Server) Accepted() int { return strings.Count(s.Log(), "Accepted publickey") }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) write(s string) {
	l.mu.Lock()
	l.b.WriteString(s)
	l.mu.Unlock()
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newRSAKey(t testing.TB, dir string) (string, ssh.PublicKey) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(k, "")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ssh_host_rsa_key")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return file, pub
}
