package simnode

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/kmemfix/kmemfix/node"
)

// CommandFunc is a custom command installed with InstallCommand. It runs
// with the node locked: it must not call the Node.
type CommandFunc func(argv []string) node.Command

const simMagic = "#!simnode "

// simBinary is the content of a simulated executable: its first line says
// which tool it is.
func simBinary(tool string) []byte { return []byte(simMagic + tool + "\n") }

// InstallCommand puts an executable at path that runs fn (for a fleet's
// own cadvisor or monitoring restart commands).
func (n *Node) InstallCommand(p string, fn CommandFunc) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p = path.Clean(p)
	n.commands[p] = fn
	d := mkdirAllRegular(n.fs, path.Dir(p), n.now())
	d.children[path.Base(p)] = &rnode{name: path.Base(p), mode: 0o755, data: simBinary("custom " + p), mtime: n.now(), parent: d}
}

var searchPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// lookPath finds an executable like execve(2) (absolute) or exec.LookPath
// (a bare name, through PATH). Missing: ENOENT, so errors.Is(err,
// fs.ErrNotExist).
func (n *Node) lookPath(name string) (string, *rnode, error) {
	if name == "" {
		return "", nil, perr("exec", name, syscall.ENOENT)
	}
	candidates := []string{name}
	if !strings.Contains(name, "/") {
		candidates = candidates[:0]
		for _, d := range searchPath {
			candidates = append(candidates, d+"/"+name)
		}
	} else if !path.IsAbs(name) {
		return "", nil, perr("fork/exec", name, syscall.ENOENT)
	}
	for _, c := range candidates {
		where, parts, err := n.locate("exec", c)
		if err != nil || where != areaRegular {
			continue
		}
		f, e := n.rlookup(parts)
		if e != 0 {
			continue
		}
		if f.dir || f.mode&0o111 == 0 {
			return "", nil, perr("fork/exec", c, syscall.EACCES)
		}
		return path.Clean(c), f, nil
	}
	return "", nil, perr("exec", name, syscall.ENOENT)
}

// Run executes argv: the binary's content decides what it does.
func (n *Node) Run(ctx context.Context, argv []string) (node.Command, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	if err := ctx.Err(); err != nil {
		return node.Command{}, err
	}
	if len(argv) == 0 {
		return node.Command{}, perr("exec", "", syscall.ENOENT)
	}
	if e := n.injected(OpRun, argv[0]); e != 0 {
		return node.Command{}, perr("fork/exec", argv[0], e)
	}
	bin, f, err := n.lookPath(argv[0])
	if err != nil {
		return node.Command{}, err
	}
	if _, _, ok := ParseKubeletBinary(f.data); ok {
		return n.runKubelet(f.data, argv), nil
	}
	first, _, _ := bytes.Cut(f.data, []byte("\n"))
	tool, ok := strings.CutPrefix(string(first), simMagic)
	if !ok {
		return node.Command{}, perr("fork/exec", bin, syscall.ENOEXEC)
	}
	args := argv[1:]
	switch {
	case tool == "systemctl":
		return n.systemctl(args), nil
	case tool == "docker":
		return n.docker(args), nil
	case tool == "stap":
		return n.stap(), nil
	case tool == "true":
		return node.Command{}, nil
	case tool == "false":
		return node.Command{ExitCode: 1}, nil
	case strings.HasPrefix(tool, "custom "):
		if fn := n.commands[strings.TrimPrefix(tool, "custom ")]; fn != nil {
			return fn(append([]string(nil), argv...)), nil
		}
	}
	return node.Command{}, perr("fork/exec", bin, syscall.ENOEXEC)
}

func (n *Node) runKubelet(bin []byte, argv []string) node.Command {
	version, _, _ := ParseKubeletBinary(bin)
	for _, a := range argv[1:] {
		if a == "--version" || a == "--version=true" {
			return node.Command{Stdout: []byte("Kubernetes " + version + "\n")}
		}
	}
	return node.Command{ExitCode: 1, Stderr: []byte("simnode: run the kubelet through systemctl\n")}
}

// stap prints the memory css ids in use; the last line is "ids_in_use N".
func (n *Node) stap() node.Command {
	out := fmt.Sprintf("css ids scanned: 1..%d\nids_in_use %d\n", n.cfg.MaxIDs, n.ids.inUse())
	return node.Command{Stdout: []byte(out)}
}

// docker supports `docker restart NAME` (cadvisor) and `docker ps`.
func (n *Node) docker(args []string) node.Command {
	if u := n.units["docker"]; u == nil || u.state != stateActive {
		return node.Command{ExitCode: 1, Stderr: []byte("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n")}
	}
	if len(args) == 0 {
		return node.Command{ExitCode: 0, Stdout: []byte("Usage:\tdocker [OPTIONS] COMMAND\n")}
	}
	switch args[0] {
	case "ps":
		return node.Command{Stdout: []byte("CONTAINER ID        IMAGE               COMMAND             CREATED             STATUS              PORTS               NAMES\n")}
	case "restart":
		n.mutate("docker restart", strings.Join(args[1:], " "))
		var out, errOut strings.Builder
		code := 0
		for _, name := range args[1:] {
			if strings.HasPrefix(name, "-") {
				continue
			}
			if name != "cadvisor" {
				fmt.Fprintf(&errOut, "Error response from daemon: No such container: %s\n", name)
				code = 1
				continue
			}
			n.cadvisorRestarts++
			fmt.Fprintf(&out, "%s\n", name)
		}
		return node.Command{ExitCode: code, Stdout: []byte(out.String()), Stderr: []byte(errOut.String())}
	}
	return node.Command{ExitCode: 1, Stderr: fmt.Appendf(nil, "docker: '%s' is not a docker command.\nSee 'docker --help'\n", args[0])}
}

// HTTPGet answers the kubelet's /healthz on 127.0.0.1:10248 while the
// kubelet runs; everything else is refused like a closed port.
func (n *Node) HTTPGet(ctx context.Context, rawURL string) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick()
	if err := ctx.Err(); err != nil {
		return 0, &url.Error{Op: "Get", URL: rawURL, Err: err}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, err
	}
	refused := &url.Error{Op: "Get", URL: rawURL, Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	if e := n.injected(OpHTTP, u.Path); e != 0 {
		return 0, &url.Error{Op: "Get", URL: rawURL, Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", e)}}
	}
	host := u.Hostname()
	if u.Scheme != "http" || u.Port() != "10248" || (host != "127.0.0.1" && host != "localhost") {
		return 0, refused
	}
	if k := n.units[n.cfg.Kubelet.Unit]; k == nil || k.state != stateActive {
		return 0, refused
	}
	if u.Path != "/healthz" {
		return 404, nil
	}
	return 200, nil
}

// CadvisorRestarts counts cadvisor restarts (systemctl or docker).
func (n *Node) CadvisorRestarts() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cadvisorRestarts
}

// fileExists is a helper for tests and the kubelet model.
func (n *Node) regularFile(p string) (*rnode, bool) {
	where, parts, err := n.locate("open", p)
	if err != nil || where != areaRegular {
		return nil, false
	}
	f, e := n.rlookup(parts)
	return f, e == 0 && !f.dir
}

var _ fs.FileInfo = (*fileInfo)(nil)
