package transport

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is a node presenting a host key other than the one on record.
// It may be a man-in-the-middle attack or a reinstalled node; either way a
// human must decide, so it is never retried.
type HostKeyError struct {
	Host      string   // host as checked ("name" or "[addr]:port")
	Presented string   // SHA256 fingerprint of the key the node presented
	KeyType   string   // type of the presented key
	Expected  []string // SHA256 fingerprints on record
	Source    string   // the known_hosts files, or "pinned keys"
}

func (e *HostKeyError) Error() string {
	return fmt.Sprintf("HOST KEY MISMATCH for %s: it presented %s key %s but %s expects %s; "+
		"this may be a man-in-the-middle attack or a reinstalled node: verify the new key out of band (console, cloud API) before replacing the entry",
		e.Host, e.KeyType, e.Presented, e.Source, strings.Join(e.Expected, " or "))
}

// UnknownHostError is a node with no known_hosts entry and no pinned key.
type UnknownHostError struct {
	Host      string
	Port      string
	Presented string // SHA256 fingerprint of the key the node presented
	KeyType   string
	Files     []string
}

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("unknown host %s: it presented %s key %s and is in none of %s; "+
		"add it with `ssh-keyscan -p %s %s >> KNOWN_HOSTS` and verify that fingerprint out of band (console, cloud API) before trusting it",
		e.Host, e.KeyType, e.Presented, strings.Join(e.Files, ", "), e.Port, hostOnly(e.Host))
}

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.Trim(h, "[]")
}

// pin is one accepted key of a host: a full key, or only its fingerprint.
type pin struct {
	fingerprint string
	key         ssh.PublicKey
}

func parsePins(m map[string][]string) (map[string][]pin, error) {
	out := make(map[string][]pin, len(m))
	var errs []error
	for host, lines := range m {
		if len(lines) == 0 {
			errs = append(errs, fmt.Errorf("PinnedHostKeys[%q] is empty: give at least one key or fingerprint", host))
		}
		for i, l := range lines {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "SHA256:") {
				out[host] = append(out[host], pin{fingerprint: l})
				continue
			}
			k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l))
			if err != nil {
				errs = append(errs, fmt.Errorf("PinnedHostKeys[%q][%d]: want an authorized_keys line or SHA256:... fingerprint: %w", host, i, err))
				continue
			}
			out[host] = append(out[host], pin{fingerprint: ssh.FingerprintSHA256(k), key: k})
		}
	}
	return out, errors.Join(errs...)
}

// hostKeys decides whether a presented host key is acceptable.
type hostKeys struct {
	known    ssh.HostKeyCallback // nil when no known_hosts files
	files    []string
	pinned   map[string][]pin
	insecure bool
	probe    ssh.PublicKey // a key no host has, to list what is on record
	log      *slog.Logger
}

func newHostKeys(cfg *Config) (*hostKeys, error) {
	h := &hostKeys{files: cfg.KnownHostsFiles, insecure: cfg.InsecureIgnoreHostKey, log: cfg.Logger}
	var err error
	if h.pinned, err = parsePins(cfg.PinnedHostKeys); err != nil {
		return nil, err
	}
	if len(cfg.KnownHostsFiles) > 0 {
		if h.known, err = knownhosts.New(cfg.KnownHostsFiles...); err != nil {
			return nil, fmt.Errorf("known_hosts %s: %w (create it with ssh-keyscan, verified out of band)", strings.Join(cfg.KnownHostsFiles, ", "), err)
		}
	}
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	if h.probe, err = ssh.NewPublicKey(pub); err != nil {
		return nil, err
	}
	return h, nil
}

// forEndpoint returns the callback for one endpoint and the host key
// algorithms to ask for, so that a host known by its ed25519 key is not
// asked for its RSA key and then rejected as a mismatch.
func (h *hostKeys) forEndpoint(ep endpoint) (ssh.HostKeyCallback, []string) {
	if h.insecure {
		return func(string, net.Addr, ssh.PublicKey) error {
			h.log.Warn("ssh host key NOT verified (InsecureIgnoreHostKey): anyone on the path can impersonate this node", "node", ep.name, "addr", ep.addr())
			return nil
		}, nil
	}
	for _, name := range []string{ep.name, knownhosts.Normalize(ep.addr()), ep.host} {
		if pins, ok := h.pinned[name]; ok {
			return h.pinnedCallback(name, pins), pinAlgorithms(pins)
		}
	}
	if h.known == nil {
		return func(_ string, _ net.Addr, key ssh.PublicKey) error {
			return &UnknownHostError{Host: knownhosts.Normalize(ep.addr()), Port: fmt.Sprint(ep.port),
				Presented: ssh.FingerprintSHA256(key), KeyType: key.Type(), Files: []string{"PinnedHostKeys"}}
		}, nil
	}
	return h.knownCallback(ep), h.knownAlgorithms(ep)
}

func (h *hostKeys) pinnedCallback(name string, pins []pin) ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		fp := ssh.FingerprintSHA256(key)
		expected := make([]string, 0, len(pins))
		for _, p := range pins {
			if p.fingerprint == fp {
				return nil
			}
			expected = append(expected, p.fingerprint)
		}
		return &HostKeyError{Host: name, Presented: fp, KeyType: key.Type(), Expected: expected, Source: "pinned keys"}
	}
}

func (h *hostKeys) knownCallback(ep endpoint) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := h.known(hostname, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			if len(ke.Want) == 0 {
				return &UnknownHostError{Host: knownhosts.Normalize(hostname), Port: fmt.Sprint(ep.port),
					Presented: ssh.FingerprintSHA256(key), KeyType: key.Type(), Files: h.files}
			}
			expected := make([]string, 0, len(ke.Want))
			for _, w := range ke.Want {
				expected = append(expected, fmt.Sprintf("%s %s (%s:%d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
			}
			return &HostKeyError{Host: knownhosts.Normalize(hostname), Presented: ssh.FingerprintSHA256(key),
				KeyType: key.Type(), Expected: expected, Source: "known_hosts"}
		}
		var re *knownhosts.RevokedError
		if errors.As(err, &re) {
			return &HostKeyError{Host: knownhosts.Normalize(hostname), Presented: ssh.FingerprintSHA256(key),
				KeyType: key.Type(), Expected: []string{"any key but this revoked one"},
				Source: fmt.Sprintf("%s:%d (@revoked)", re.Revoked.Filename, re.Revoked.Line)}
		}
		return err
	}
}

// knownAlgorithms lists the key types on record for ep, by checking a key
// no host has and reading what the mismatch says was wanted.
func (h *hostKeys) knownAlgorithms(ep endpoint) []string {
	err := h.known(ep.addr(), &net.TCPAddr{IP: net.IPv4zero}, h.probe)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	keys := make([]ssh.PublicKey, 0, len(ke.Want))
	for _, w := range ke.Want {
		keys = append(keys, w.Key)
	}
	return algorithmsFor(keys)
}

func pinAlgorithms(pins []pin) []string {
	keys := make([]ssh.PublicKey, 0, len(pins))
	for _, p := range pins {
		if p.key == nil {
			return nil // a bare fingerprint can be of any type
		}
		keys = append(keys, p.key)
	}
	return algorithmsFor(keys)
}

func algorithmsFor(keys []ssh.PublicKey) []string {
	var algos []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				algos = append(algos, x)
			}
		}
	}
	for _, k := range keys {
		if k.Type() == ssh.KeyAlgoRSA {
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
			continue
		}
		add(k.Type())
	}
	return algos
}
