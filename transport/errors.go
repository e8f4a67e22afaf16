package transport

import (
	"context"
	"errors"
	"fmt"
)

// Class is what the caller should do about an error. The activity layer maps
// it onto Temporal retry behaviour with Retryable.
type Class int

// The classes of transport errors.
const (
	// ClassUnknown is an error this package did not classify.
	ClassUnknown Class = iota
	// ClassUnreachable: TCP connect refused or timed out, handshake timed
	// out, connection lost. Retrying later may help.
	ClassUnreachable
	// ClassAuthFailed: the node refused every key offered. Fix credentials.
	ClassAuthFailed
	// ClassHostKeyMismatch: the node presented a key other than the known
	// one. Possibly a man in the middle; a human must look.
	ClassHostKeyMismatch
	// ClassHostKeyUnknown: the node is in no known_hosts file and has no
	// pinned key. Add it after verifying its key out of band.
	ClassHostKeyUnknown
	// ClassCanceled: the caller's context was canceled or ran out.
	ClassCanceled
	// ClassBadInput: the request itself is wrong (NUL in an argument, bad
	// path, bad checksum format). Fix the caller.
	ClassBadInput
	// ClassRemote: the node was reached but an operation on it failed
	// (SFTP permission denied, checksum mismatch after upload, sudo refused).
	ClassRemote
)

var classNames = [...]string{
	ClassUnknown:         "unknown",
	ClassUnreachable:     "unreachable",
	ClassAuthFailed:      "auth-failed",
	ClassHostKeyMismatch: "host-key-mismatch",
	ClassHostKeyUnknown:  "host-key-unknown",
	ClassCanceled:        "canceled",
	ClassBadInput:        "bad-input",
	ClassRemote:          "remote",
}

func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("class(%d)", int(c))
	}
	return classNames[c]
}

// Retryable reports whether retrying the same call later may succeed.
// Canceled is not retryable: whoever canceled decides what comes next.
func (c Class) Retryable() bool {
	switch c {
	case ClassUnreachable, ClassRemote, ClassUnknown:
		return true
	}
	return false
}

// Error is a classified transport failure on one node.
type Error struct {
	Class Class
	Node  string // Target.Name, or the address when the name is empty
	Op    string // "dial", "handshake", "exec", "upload", ...
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("transport: %s %s: %v", e.Op, e.Node, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Classify returns the class of err. A context error anywhere in the chain
// is ClassCanceled unless this package classified the error first (a dial
// timeout of our own is Unreachable, not Canceled).
func Classify(err error) Class {
	if err == nil {
		return ClassUnknown
	}
	var hk *HostKeyError
	if errors.As(err, &hk) {
		return ClassHostKeyMismatch
	}
	var uh *UnknownHostError
	if errors.As(err, &uh) {
		return ClassHostKeyUnknown
	}
	var te *Error
	if errors.As(err, &te) {
		return te.Class
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ClassCanceled
	}
	return ClassUnknown
}

// ErrHandshakeTimeout is wrapped by errors of a handshake that did not finish
// within Config.HandshakeTimeout.
var ErrHandshakeTimeout = errors.New("ssh handshake timed out: the node accepted TCP but did not complete the SSH handshake (sshd overloaded, MaxStartups reached, or a middlebox holding the connection)")

// ErrClosed is returned by calls on a Pool after Close.
var ErrClosed = errors.New("transport: pool closed")

// ErrConnectionLost is wrapped when the SSH connection died while a command
// was running: the command may or may not have completed on the node.
var ErrConnectionLost = errors.New("ssh connection lost while the command ran; it may have completed on the node, so re-run only idempotent steps")

func newError(class Class, node, op string, err error) *Error {
	return &Error{Class: class, Node: node, Op: op, Err: err}
}
