package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kmemfix/kmemfix/node"
)

// helperPath is where tests upload the fake helper build.
const helperPath = "/usr/local/bin/kmemfix-node"

// fakeBuild is the content of the fake helper build whose sha256 the test
// fleets accept.
var fakeBuild = []byte("\x7fELF fake kmemfix-node build for the simulated fleet tests\n")

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fakeHelper stands in for node/helper.Main. Its first argument chooses
// what it does:
//
//	echo ARGS...     prints its args as JSON
//	exit N           writes "failing" to stderr, exits N
//	wait             blocks until canceled, exits 6
//	boot-id          prints the node's boot id
//	mkdir PATH       mkdir through node.System, prints the error
//	run ARGV...      node.System.Run, prints the exit code
//	after FILE       waits for FILE on the node, creates FILE.ran, prints
//	                 "done", then creates FILE.wrote
func fakeHelper(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer, sys node.System) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage")
		return node.ExitUsage
	}
	switch args[0] {
	case "echo":
		_ = json.NewEncoder(stdout).Encode(args[1:])
	case "exit":
		n, _ := strconv.Atoi(args[1])
		fmt.Fprintln(stderr, "failing as asked")
		return n
	case "wait":
		fmt.Fprintln(stdout, "waiting")
		<-ctx.Done()
		return node.ExitInterrupted
	case "boot-id":
		b, err := sys.ReadFile("/proc/sys/kernel/random/boot_id")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprint(stdout, strings.TrimSpace(string(b)))
	case "mkdir":
		if err := sys.Mkdir(args[1]); err != nil {
			fmt.Fprintln(stdout, err)
			if errors.Is(err, syscall.ENOSPC) {
				return 28
			}
			return 1
		}
		fmt.Fprintln(stdout, "ok")
	case "after":
		for {
			if _, err := sys.Stat(args[1]); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return node.ExitInterrupted
			case <-time.After(time.Millisecond):
			}
		}
		_ = sys.WriteFileAtomic(args[1]+".ran", strings.NewReader(""), 0o644)
		fmt.Fprintln(stdout, "done")
		_ = sys.WriteFileAtomic(args[1]+".wrote", strings.NewReader(""), 0o644)
	case "run":
		c, err := sys.Run(ctx, args[1:])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%d\n", c.ExitCode)
		_, _ = stderr.Write(c.Stderr)
		return c.ExitCode
	default:
		return node.ExitUsage
	}
	return 0
}

// testFleet starts a fleet with the fake helper and closes it at the end.
func testFleet(t *testing.T, opts Options) (*Fleet, Files) {
	t.Helper()
	if opts.Helper == nil {
		opts.Helper = fakeHelper
	}
	if opts.HelperSHA256s == nil {
		opts.HelperSHA256s = []string{sum(fakeBuild)}
	}
	if opts.Nodes == 0 {
		opts.Nodes = 1
	}
	if opts.Defaults.Containers == 0 {
		opts.Defaults.Containers = 4
	}
	f, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	files, err := f.WriteFiles(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	return f, files
}

// clientConfig is what a client builds from the fleet's files only.
func clientConfig(t *testing.T, files Files, user string) *ssh.ClientConfig {
	t.Helper()
	pem, err := os.ReadFile(files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := knownhosts.New(files.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	return &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 5 * time.Second}
}

func addrOf(n NodeInfo) string { return n.Address + ":" + strconv.Itoa(n.Port) }

func dial(t *testing.T, f *Fleet, files Files, name string) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", addrOf(info(t, f, name)), clientConfig(t, files, "root"))
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func info(t *testing.T, f *Fleet, name string) NodeInfo {
	t.Helper()
	for _, n := range f.Nodes() {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %s", name)
	return NodeInfo{}
}

type outcome struct {
	stdout, stderr string
	code           int
	err            error // not an exit status: transport trouble
}

// run runs a command line and separates exit status from transport errors.
func run(t *testing.T, c *ssh.Client, line string) outcome {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		return outcome{err: err}
	}
	defer s.Close()
	var out, errb strings.Builder
	s.Stdout, s.Stderr = &out, &errb
	err = s.Run(line)
	o := outcome{stdout: out.String(), stderr: errb.String()}
	var exit *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		o.code = exit.ExitStatus()
	default:
		o.err = err
	}
	return o
}

// uploadFile writes content to path the careful way: temporary name, chmod,
// fsync, posix-rename.
func uploadFile(t *testing.T, c *ssh.Client, path string, content []byte, mode os.FileMode) {
	t.Helper()
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.MkdirAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".upload"
	fh, err := sc.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := fh.Chmod(mode); err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatalf("fsync@openssh.com: %v", err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sc.PosixRename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func bytesReader(b []byte) io.Reader { return strings.NewReader(string(b)) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
