package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/transport"
)

// nodePool is what the shell needs of the SSH transport.
type nodePool interface {
	Exec(ctx context.Context, t transport.Target, argv []string, opts transport.ExecOptions) (transport.Result, error)
}

// sshShell adapts the SSH transport to activities.NodeShell: it installs
// the node helper (the build for the node's architecture) under
// node.helperDir and runs it with argv, never a command line.
type sshShell struct {
	pool    nodePool
	ssh     config.SSH
	jump    *transport.Jump
	remote  string            // where the helper lives on nodes
	helpers map[string]helper // by GOARCH: amd64, arm64

	mu    sync.Mutex
	archs map[string]string // node name -> GOARCH, as uname -m said
}

// helper is a local build of the node helper.
type helper struct {
	path, sha256 string
}

var _ activities.NodeShell = (*sshShell)(nil)

// HelperName is the helper's file name on the node.
const HelperName = "kmemfix-node"

func newSSHShell(pool nodePool, cfg *config.Config, helpers map[string]helper) (*sshShell, error) {
	s := &sshShell{pool: pool, ssh: cfg.SSH, helpers: helpers, archs: map[string]string{},
		remote: path.Join(cfg.Node.HelperDir, HelperName)}
	if cfg.SSH.JumpHost != "" {
		user, host, port, err := config.ParseJumpHost(cfg.SSH.JumpHost)
		if err != nil {
			return nil, fmt.Errorf("ssh.jumpHost: %w", err)
		}
		if user == "" {
			user = cfg.SSH.User
		}
		s.jump = &transport.Jump{Name: host, Address: host, Port: port, User: user}
	}
	return s, nil
}

func (s *sshShell) target(n activities.NodeRef) transport.Target {
	user := n.User
	if user == "" {
		user = s.ssh.User
	}
	port := n.Port
	if port == 0 {
		port = s.ssh.Port
	}
	return transport.Target{Name: n.Name, Address: n.Address, Port: port, User: user, Sudo: s.ssh.Sudo, Jump: s.jump}
}

// RunHelper runs the installed helper; stderr lines that are progress
// records are passed to progress.
func (s *sshShell) RunHelper(ctx context.Context, n activities.NodeRef, args []string, progress func(node.Progress)) ([]byte, int, error) {
	opts := transport.ExecOptions{}
	if progress != nil {
		opts.StderrLine = func(line string) {
			var p node.Progress
			if json.Unmarshal([]byte(line), &p) == nil && p.Step != "" {
				progress(p)
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.ssh.CommandTimeout)
	defer cancel()
	res, err := s.pool.Exec(ctx, s.target(n), append([]string{s.remote}, args...), opts)
	if err != nil {
		return nil, 0, err
	}
	return res.Stdout, res.ExitCode, nil
}

// EnsureHelper installs the helper build for the node's architecture
// unless the same build is already there.
func (s *sshShell) EnsureHelper(ctx context.Context, n activities.NodeRef) (string, error) {
	arch, err := s.arch(ctx, n)
	if err != nil {
		return "", err
	}
	h, ok := s.helpers[arch]
	if !ok {
		return "", &transport.Error{Class: transport.ClassBadInput, Node: n.Name, Op: "ensure-helper",
			Err: fmt.Errorf("no %s build of %s beside the worker (build it with `make node-helper`)", arch, HelperName)}
	}
	if err := s.EnsureFile(ctx, n, h.path, s.remote, h.sha256); err != nil {
		return "", err
	}
	return s.remote, nil
}

// EnsureFile uploads localPath to remotePath unless a file with that
// sha256 is already there, then checks the sha256 on the node.
func (s *sshShell) EnsureFile(ctx context.Context, n activities.NodeRef, localPath, remotePath, sum string) error {
	t := s.target(n)
	if got, _ := s.remoteSHA256(ctx, t, remotePath); got == sum {
		return nil
	}
	f, err := os.Open(localPath)
	if err != nil {
		return &transport.Error{Class: transport.ClassBadInput, Node: n.Name, Op: "upload", Err: err}
	}
	defer f.Close()
	tmp := remotePath + ".kmemfix-upload"
	steps := []struct {
		argv  []string
		stdin io.Reader
	}{
		{[]string{"mkdir", "-p", path.Dir(remotePath)}, nil},
		{[]string{"tee", tmp}, f},
		{[]string{"chmod", "0755", tmp}, nil},
	}
	for _, st := range steps {
		if err := s.run(ctx, t, st.argv, st.stdin); err != nil {
			return err
		}
	}
	got, err := s.remoteSHA256(ctx, t, tmp)
	if err != nil {
		return err
	}
	if got != sum {
		_ = s.run(ctx, t, []string{"rm", "-f", tmp}, nil)
		return &transport.Error{Class: transport.ClassRemote, Node: n.Name, Op: "upload",
			Err: fmt.Errorf("%w: %s on the node has sha256 %s, want %s", errChecksum, remotePath, got, sum)}
	}
	return s.run(ctx, t, []string{"mv", "-f", tmp, remotePath}, nil)
}

var errChecksum = errors.New("checksum mismatch after upload")

func (s *sshShell) run(ctx context.Context, t transport.Target, argv []string, stdin io.Reader) error {
	res, err := s.pool.Exec(ctx, t, argv, transport.ExecOptions{Stdin: stdin})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return &transport.Error{Class: transport.ClassRemote, Node: t.Name, Op: argv[0],
			Err: fmt.Errorf("%s exited %d: %s", strings.Join(argv, " "), res.ExitCode, strings.TrimSpace(string(res.Stderr)))}
	}
	return nil
}

func (s *sshShell) remoteSHA256(ctx context.Context, t transport.Target, p string) (string, error) {
	res, err := s.pool.Exec(ctx, t, []string{"sha256sum", p}, transport.ExecOptions{})
	if err != nil {
		return "", err
	}
	fields := strings.Fields(string(res.Stdout))
	if res.ExitCode != 0 || len(fields) == 0 {
		return "", nil // missing: install it
	}
	return fields[0], nil
}

// arch asks the node once for its machine type.
func (s *sshShell) arch(ctx context.Context, n activities.NodeRef) (string, error) {
	s.mu.Lock()
	a, ok := s.archs[n.Name]
	s.mu.Unlock()
	if ok {
		return a, nil
	}
	res, err := s.pool.Exec(ctx, s.target(n), []string{"uname", "-m"}, transport.ExecOptions{})
	if err != nil {
		return "", err
	}
	switch m := strings.TrimSpace(string(res.Stdout)); m {
	case "x86_64", "amd64":
		a = "amd64"
	case "aarch64", "arm64":
		a = "arm64"
	default:
		return "", &transport.Error{Class: transport.ClassBadInput, Node: n.Name, Op: "uname",
			Err: fmt.Errorf("machine %q is neither x86_64 nor aarch64", m)}
	}
	s.mu.Lock()
	s.archs[n.Name] = a
	s.mu.Unlock()
	return a, nil
}

// findHelpers locates the helper builds in dir (kmemfix-node-amd64,
// kmemfix-node-arm64; kmemfix-node counts as amd64) and hashes them.
func findHelpers(dir string) (map[string]helper, error) {
	out := map[string]helper{}
	for arch, names := range map[string][]string{
		"amd64": {HelperName + "-amd64", HelperName},
		"arm64": {HelperName + "-arm64"},
	} {
		for _, name := range names {
			p := path.Join(dir, name)
			sum, err := fileSHA256(p)
			if err != nil {
				continue
			}
			out[arch] = helper{path: p, sha256: sum}
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no node helper build in %s (want %s-amd64 and/or %s-arm64): run `make node-helper` or set worker.helperDir", dir, HelperName, HelperName)
	}
	return out, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// classifier maps transport errors onto the activities' error types.
type classifier struct{}

func (classifier) Classify(err error) (string, bool) {
	if errors.Is(err, errChecksum) {
		return activities.ErrChecksum, false
	}
	switch c := transport.Classify(err); c {
	case transport.ClassUnreachable:
		return activities.ErrUnreachable, true
	case transport.ClassAuthFailed:
		return activities.ErrAuth, false
	case transport.ClassHostKeyMismatch, transport.ClassHostKeyUnknown:
		return activities.ErrHostKey, false
	case transport.ClassBadInput:
		return activities.ErrBadInput, false
	case transport.ClassCanceled:
		return activities.ErrTimeout, true
	default:
		return activities.ErrTransport, c.Retryable()
	}
}
