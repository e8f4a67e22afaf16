package config

import (
	"fmt"
	"os"
	"strings"
)

// CheckFiles checks that every local file the configuration names exists
// and is readable (key files, known_hosts, TLS files, the replacement
// kubelet, the kubeconfig). It returns a *ValidationError listing every missing file.
func (c *Config) CheckFiles() error {
	var ps problemList
	file := func(key, p, fix string) {
		if p == "" {
			return
		}
		f, err := os.Open(p)
		if err != nil {
			ps.add(key, fix, "%v", err)
			return
		}
		_ = f.Close()
	}
	t := c.Temporal
	file("temporal.apiKeyFile", t.APIKeyFile, "create the file with the API key, or unset the key")
	file("temporal.tls.caFile", t.TLS.CAFile, "point it at the CA bundle that signed the frontend's certificate")
	file("temporal.tls.certFile", t.TLS.CertFile, "point it at the client certificate (PEM)")
	file("temporal.tls.keyFile", t.TLS.KeyFile, "point it at the client key (PEM)")
	for i, k := range c.SSH.KeyFiles {
		file(fmt.Sprintf("ssh.keyFiles[%d]", i), k, "point it at a private key, or remove the entry")
	}
	file("ssh.keyPassphraseFile", c.SSH.KeyPassphraseFile, "create the file, or set KMEMFIX_SSH_KEYPASSPHRASE instead")
	for i, k := range c.SSH.KnownHosts {
		file(fmt.Sprintf("ssh.knownHosts[%d]", i), k, "create it (ssh-keyscan NODE >> FILE after checking the keys out of band)")
	}
	file("node.replacementKubelet.path", c.Node.ReplacementKubelet.Path, "build the kubelet with -tags=nokmem and put it there")
	file("kubernetes.kubeconfig", c.Kubernetes.Kubeconfig, "point it at a kubeconfig the worker can read (RBAC: get and update on nodes), or leave it empty in the cluster")
	if len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

// ResolveAPIKey returns the Temporal API key from temporal.apiKey (or
// KMEMFIX_TEMPORAL_APIKEY) or from temporal.apiKeyFile; "" when none.
func (t Temporal) ResolveAPIKey() (Secret, error) {
	return secretFrom(t.APIKey, t.APIKeyFile, "temporal.apiKeyFile")
}

// Passphrase returns the SSH key passphrase from KMEMFIX_SSH_KEYPASSPHRASE
// or ssh.keyPassphraseFile; "" when none.
func (s SSH) Passphrase() (Secret, error) {
	return secretFrom(s.KeyPassphrase, s.KeyPassphraseFile, "ssh.keyPassphraseFile")
}

func secretFrom(value Secret, file, key string) (Secret, error) {
	if value != "" || file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("config: %s: %w", key, err)
	}
	return Secret(strings.TrimRight(string(b), "\r\n")), nil
}
