package transport_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/transport"
	"github.com/kmemfix/kmemfix/transport/internal/sshdtest"
	"golang.org/x/crypto/ssh"
)

func TestAuthFailed(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	stranger := sshdtest.NewKey(t, l.dir, "stranger", "")
	for name, mod := range map[string]func(*transport.Config){
		"unauthorized key": func(c *transport.Config) { c.KeyFiles = []string{stranger.File} },
	} {
		p := l.pool(mod)
		_, err := p.Exec(context.Background(), l.target(0), []string{"true"}, transport.ExecOptions{})
		if c := transport.Classify(err); c != transport.ClassAuthFailed || c.Retryable() {
			t.Fatalf("%s: %v: class %v, want non-retryable auth-failed", name, err, c)
		}
		if !strings.Contains(err.Error(), fingerprint(stranger.Signer.PublicKey())) || !strings.Contains(err.Error(), `"root"`) {
			t.Errorf("%s: error does not name the key and user: %v", name, err)
		}
	}
	// An unknown user is an auth failure too.
	p := l.pool(nil)
	tg := l.target(0)
	tg.User = "nosuchuser"
	if _, err := p.Exec(context.Background(), tg, []string{"true"}, transport.ExecOptions{}); transport.Classify(err) != transport.ClassAuthFailed {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestEncryptedKeyFile(t *testing.T) {
	dir := t.TempDir()
	const secret = "correct horse battery staple"
	key := sshdtest.NewKey(t, dir, "enc", secret)
	l := newLab(t, sshdtest.Options{Authorized: []ssh.PublicKey{key.Signer.PublicKey()}})
	base := l.config()
	base.KeyFiles = []string{key.File}

	if _, err := transport.New(base); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("encrypted key without KeyPassphrase: %v", err)
	}
	wrong := base
	wrong.KeyPassphrase = func(string) ([]byte, error) { return []byte("not it"), nil }
	if _, err := transport.New(wrong); err == nil || strings.Contains(err.Error(), "not it") {
		t.Errorf("wrong passphrase: %v (must fail without echoing it)", err)
	}
	var asked []string
	var logs strings.Builder
	ok := base
	ok.Logger = newLogger(&logs)
	ok.KeyPassphrase = func(f string) ([]byte, error) { asked = append(asked, f); return []byte(secret), nil }
	p, err := transport.New(ok)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Exec(context.Background(), l.target(0), []string{"true"}, transport.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0] != key.File {
		t.Errorf("passphrase asked for %q", asked)
	}
	p.Close()
	keyFile, _ := os.ReadFile(key.File)
	body := strings.Split(string(keyFile), "\n")[2] // a line of the encrypted key body
	if s := logs.String(); s == "" || strings.Contains(s, secret) || strings.Contains(s, body) || strings.Contains(s, "PRIVATE KEY") {
		t.Errorf("logs empty or hold secrets:\n%s", s)
	}
}

// TestAgent authenticates with a key held only by a real ssh-agent.
func TestAgent(t *testing.T) {
	l := newLab(t, sshdtest.Options{})
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	waitFor(t, "agent socket", func() bool { _, err := os.Stat(sock); return err == nil })
	add := exec.Command("ssh-add", l.key.File)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	p := l.pool(func(c *transport.Config) { c.KeyFiles, c.UseAgent = nil, true })
	if _, err := p.Exec(context.Background(), l.target(0), []string{"true"}, transport.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		cfg  transport.Config
		want []string
	}{
		{transport.Config{}, []string{"no host key source", "no credentials"}},
		{transport.Config{InsecureIgnoreHostKey: true, KnownHostsFiles: []string{"x"}, KeyFiles: []string{"k"}}, []string{"pick one"}},
		{transport.Config{KnownHostsFiles: []string{"/nonexistent/known_hosts"}, KeyFiles: []string{"k"}}, []string{"/nonexistent/known_hosts", "ssh-keyscan"}},
		{transport.Config{PinnedHostKeys: map[string][]string{"n": {"garbage"}}, KeyFiles: []string{"k"}}, []string{`PinnedHostKeys["n"][0]`}},
		{transport.Config{InsecureIgnoreHostKey: true, KeyFiles: []string{"/nonexistent/key"}}, []string{"/nonexistent/key"}},
		{transport.Config{InsecureIgnoreHostKey: true, KeyFiles: []string{"k"}, MaxConns: -1, DialTimeout: -time.Second}, []string{"MaxConns", "DialTimeout"}},
	} {
		_, err := transport.New(tc.cfg)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("New(%+v) = %v, want an error saying %q", tc.cfg, err, w)
			}
		}
	}
	key := sshdtest.NewKey(t, t.TempDir(), "k", "")
	p, err := transport.New(transport.Config{InsecureIgnoreHostKey: true, KeyFiles: []string{key.File}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, tg := range []transport.Target{{Address: "x"}, {User: "u"}, {Address: "x", User: "u", Arch: "mips"}, {Address: "x", User: "u", Jump: &transport.Jump{Address: "b"}}} {
		_, err = p.Exec(context.Background(), tg, []string{"true"}, transport.ExecOptions{})
		var bad *transport.Error
		if !errors.As(err, &bad) || bad.Class != transport.ClassBadInput {
			t.Errorf("target %+v: %v, want BadInput", tg, err)
		}
	}
}
