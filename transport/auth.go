package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/melbahja/goph"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// credentials are the keys a Pool offers: key files parsed once in New, then
// the agent's keys asked for on each handshake.
type credentials struct {
	signers   []ssh.Signer
	agent     agent.ExtendedAgent
	agentConn net.Conn
}

func loadCredentials(cfg *Config) (*credentials, error) {
	c := &credentials{}
	var errs []error
	for _, file := range cfg.KeyFiles {
		s, err := loadKeyFile(file, cfg.KeyPassphrase)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.signers = append(c.signers, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.UseAgent {
		// goph.UseAgent never closes its socket; this one is closed by Pool.Close.
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, errors.New("UseAgent is set but SSH_AUTH_SOCK is empty: start ssh-agent or unset UseAgent")
		}
		conn, err := net.Dial("unix", sock) //nolint:gosec,noctx // G704: by design, dials the user's own ssh-agent socket (SSH_AUTH_SOCK); New has no context for this local dial
		if err != nil {
			return nil, fmt.Errorf("ssh-agent at SSH_AUTH_SOCK: %w", err)
		}
		c.agentConn, c.agent = conn, agent.NewClient(conn)
	}
	return c, nil
}

// loadKeyFile parses one private key, asking for its passphrase only when it
// is encrypted. Neither the key nor the passphrase appears in errors.
func loadKeyFile(file string, passphrase func(string) ([]byte, error)) (ssh.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	s, err := goph.GetSignerForRawKey(data, "")
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		if err != nil {
			return nil, fmt.Errorf("key file %s: not a private key OpenSSH can read: %w", file, err)
		}
		return s, nil
	}
	if passphrase == nil {
		return nil, fmt.Errorf("key file %s is encrypted: set KeyPassphrase or load it into ssh-agent", file)
	}
	pass, err := passphrase(file)
	if err != nil {
		return nil, fmt.Errorf("passphrase for key file %s: %w", file, err)
	}
	s, err = goph.GetSignerForRawKey(data, string(pass))
	clear(pass)
	if err != nil {
		return nil, fmt.Errorf("key file %s: wrong passphrase or damaged key", file)
	}
	return s, nil
}

func (c *credentials) authMethods() []ssh.AuthMethod {
	return []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		signers := append([]ssh.Signer(nil), c.signers...)
		if c.agent != nil {
			as, err := c.agent.Signers()
			if err != nil {
				return nil, fmt.Errorf("ssh-agent: %w", err)
			}
			signers = append(signers, as...)
		}
		return signers, nil
	})}
}

func (c *credentials) close() {
	if c.agentConn != nil {
		_ = c.agentConn.Close() // nothing to do if closing the agent socket fails
	}
}

// fingerprints lists the public fingerprints of the file keys, for errors.
func (c *credentials) fingerprints() string {
	fps := make([]string, 0, len(c.signers)+1)
	for _, s := range c.signers {
		fps = append(fps, ssh.FingerprintSHA256(s.PublicKey()))
	}
	if c.agent != nil {
		fps = append(fps, "(and the ssh-agent's keys)")
	}
	return "[" + strings.Join(fps, " ") + "]"
}
