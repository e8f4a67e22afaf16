package activities

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/kmemfix/kmemfix/node"
)

// fakeShell answers helper commands like the real helper would: one JSON
// Response on stdout and an exit code, progress lines through progress.
type fakeShell struct {
	mu       sync.Mutex
	runs     [][]string
	answer   func(cmd []string) (node.Response, int)
	progress []node.Progress
	err      error  // transport error
	raw      []byte // stdout as is, instead of answer
	files    []string
}

func (f *fakeShell) RunHelper(ctx context.Context, n NodeRef, args []string, progress func(node.Progress)) ([]byte, int, error) {
	f.mu.Lock()
	f.runs = append(f.runs, args)
	f.mu.Unlock()
	if f.err != nil {
		return nil, 0, f.err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	for _, p := range f.progress {
		progress(p)
	}
	if f.raw != nil {
		return f.raw, 1, nil
	}
	resp, exit := f.answer(command(args))
	b, err := json.Marshal(resp)
	return b, exit, err
}

func (f *fakeShell) EnsureHelper(ctx context.Context, n NodeRef) (string, error) {
	return "/var/lib/kmemfix/kmemfix-node", f.err
}

func (f *fakeShell) EnsureFile(ctx context.Context, n NodeRef, local, remote, sha string) error {
	f.files = append(f.files, local+"->"+remote+"@"+sha)
	return f.err
}

// command strips the global flags and --progress from args.
func command(args []string) []string {
	for i, a := range args {
		if a == "--progress" {
			return args[i+1:]
		}
	}
	return args
}

func ok(cmd string, result any) (node.Response, int) {
	return node.Response{OK: true, Command: cmd, Protocol: node.ProtocolVersion, Result: result}, node.ExitOK
}

func failed(cmd string, exit int, code, msg string, retryable bool, result any) (node.Response, int) {
	return node.Response{Command: cmd, Protocol: node.ProtocolVersion, Result: result,
		Error: &node.Error{Code: code, Message: msg, Retryable: retryable}}, exit
}

// classifier sorts errors by their text, like the transport would by type.
type classifier struct{}

func (classifier) Classify(err error) (string, bool) {
	switch {
	case strings.Contains(err.Error(), "unable to authenticate"):
		return ErrAuth, false
	case strings.Contains(err.Error(), "host key"):
		return ErrHostKey, false
	}
	return ErrUnreachable, true
}

var errNoRoute = errors.New("dial tcp 10.0.0.1:22: connect: no route to host")
