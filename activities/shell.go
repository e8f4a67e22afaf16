package activities

import (
	"context"
	"net/http"

	"github.com/kmemfix/kmemfix/node"
)

// NodeRef names one node and how to reach it. It carries no secret: the
// credentials live in the worker, behind the NodeShell.
type NodeRef struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Port    int    `json:"port,omitempty"`
	User    string `json:"user,omitempty"`
}

// NodeShell reaches one node. The SSH transport implements it; tests and the
// simulated fleet use fakes. See the package documentation for the contract.
type NodeShell interface {
	// RunHelper runs the node helper with args and returns its stdout and
	// exit code; err only when it could not be run at all.
	RunHelper(ctx context.Context, n NodeRef, args []string, progress func(node.Progress)) (stdout []byte, exitCode int, err error)
	// EnsureHelper installs the helper on the node when it is missing or
	// not the worker's build, and returns where it is.
	EnsureHelper(ctx context.Context, n NodeRef) (remotePath string, err error)
	// EnsureFile uploads localPath to remotePath unless a file with that
	// sha256 is already there, and checks the sha256 after the upload.
	EnsureFile(ctx context.Context, n NodeRef, localPath, remotePath, sha256 string) error
}

// Classifier sorts transport errors. Kind is one of the ErrType constants
// (ErrUnreachable, ErrTimeout, ErrAuth, ErrHostKey, ErrBadInput,
// ErrChecksum); retryable says whether trying again may help.
type Classifier interface {
	Classify(err error) (kind string, retryable bool)
}

// ClassifierFunc adapts a function to Classifier.
type ClassifierFunc func(err error) (kind string, retryable bool)

// Classify calls f.
func (f ClassifierFunc) Classify(err error) (string, bool) { return f(err) }

// Activities holds the dependencies of every activity. Register one value.
type Activities struct {
	Shell      NodeShell
	Classifier Classifier
	HTTP       *http.Client
	Cordoner   Cordoner // nil: no Kubernetes access (cordon off)
}
