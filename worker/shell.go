package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/node/realos"
	"github.com/kmemfix/kmemfix/transport"
)

// nodePool is what the shell needs of the SSH transport (*transport.Pool).
type nodePool interface {
	Exec(ctx context.Context, t transport.Target, argv []string, opts transport.ExecOptions) (transport.Result, error)
	Upload(ctx context.Context, t transport.Target, req transport.UploadRequest) (transport.UploadResult, error)
	Arch(ctx context.Context, t transport.Target) (string, error)
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
	tracer  sshTracer         // nil: no span or latency per helper run
}

// sshTracer wraps one SSH phase in a span and records its latency and error
// class (*telemetry.Metrics).
type sshTracer interface {
	TraceSSH(ctx context.Context, phase, node string, classify func(error) string, fn func(context.Context) error) error
}

// helper is a local build of the node helper.
type helper struct {
	path, sha256 string
}

var _ activities.NodeShell = (*sshShell)(nil)

// HelperName is the helper's file name on the node.
const HelperName = "kmemfix-node"

func newSSHShell(pool nodePool, cfg *config.Config, helpers map[string]helper) (*sshShell, error) {
	s := &sshShell{pool: pool, ssh: cfg.SSH, helpers: helpers,
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
	var res transport.Result
	exec := func(ctx context.Context) (err error) {
		res, err = s.pool.Exec(ctx, s.target(n), append([]string{s.remote}, args...), opts)
		return err
	}
	var err error
	if s.tracer != nil {
		err = s.tracer.TraceSSH(ctx, "exec", n.Name, func(err error) string { return transport.Classify(err).String() }, exec)
	} else {
		err = exec(ctx)
	}
	if err != nil {
		return nil, 0, err
	}
	return res.Stdout, res.ExitCode, nil
}

// EnsureHelper installs the helper build for the node's architecture
// unless the same build is already there.
func (s *sshShell) EnsureHelper(ctx context.Context, n activities.NodeRef) (string, error) {
	arch, err := s.pool.Arch(ctx, s.target(n))
	if err != nil {
		return "", err
	}
	h, ok := s.helpers[arch]
	if !ok {
		return "", &transport.Error{Class: transport.ClassBadInput, Node: n.Name, Op: "ensure-helper",
			Err: fmt.Errorf("no %s build of %s beside the worker: build it with `make node-helper` or set worker.helperBinDir", arch, HelperName)}
	}
	if err := s.EnsureFile(ctx, n, h.path, s.remote, h.sha256); err != nil {
		return "", err
	}
	return s.remote, nil
}

// EnsureFile uploads localPath to remotePath (mode 0755: both files kmemfix
// ships are executables) unless a file with that sha256 is already there;
// the transport checks the sha256 on the node before the atomic rename.
func (s *sshShell) EnsureFile(ctx context.Context, n activities.NodeRef, localPath, remotePath, sum string) error {
	t := s.target(n)
	res, err := s.pool.Exec(ctx, t, []string{"mkdir", "-p", "--", path.Dir(remotePath)}, transport.ExecOptions{})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return &transport.Error{Class: transport.ClassRemote, Node: n.Name, Op: "mkdir",
			Err: fmt.Errorf("mkdir -p %s exited %d: %s", path.Dir(remotePath), res.ExitCode, strings.TrimSpace(string(res.Stderr)))}
	}
	_, err = s.pool.Upload(ctx, t, transport.UploadRequest{LocalPath: localPath, RemotePath: remotePath, Mode: 0o755, SHA256: sum})
	return err
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
			sum, err := node.FileSHA256(realos.OS{}, p)
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

// classifier maps transport errors onto the activities' error types.
type classifier struct{}

func (classifier) Classify(err error) (string, bool) {
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
