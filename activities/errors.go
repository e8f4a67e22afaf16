package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/kmemfix/kmemfix/node"
)

// Error types carried by the application errors activities return.
const (
	// Transport (from the Classifier).
	ErrUnreachable = "Unreachable" // retryable
	ErrTimeout     = "Timeout"     // retryable
	ErrAuth        = "AuthFailed"  // not retryable: fix the credentials
	ErrHostKey     = "HostKeyMismatch"
	ErrHostUnknown = "HostKeyUnknown" // not in known_hosts: add it, then retry
	ErrBadInput    = "BadInput"
	ErrChecksum    = "ChecksumMismatch"
	ErrTransport   = "Transport" // unclassified transport error, retryable

	// From the helper's error codes.
	ErrRebooted       = "Rebooted"
	ErrPastCommit     = "PastCommit"
	ErrLocked         = "Locked"
	ErrRefused        = "Refused"
	ErrTreeChanged    = "TreeChanged"
	ErrNotConverged   = "NotConverged"
	ErrVerifyFailed   = "VerifyFailed"
	ErrKernel         = "Kernel"
	ErrService        = "Service"
	ErrNeedsAttention = "NeedsAttention"
	ErrInterrupted    = "Interrupted"
	ErrHelperFailed   = "HelperFailed" // an unknown code
	ErrBadOutput      = "BadHelperOutput"
	ErrProtocol       = "ProtocolMismatch"
	ErrUnhealthy      = "KubeletUnhealthy"
)

// codeTypes maps a helper error code to an error type and, when the code
// alone decides it, its retryability (nil: trust the helper's Retryable).
var codeTypes = map[string]struct {
	typ       string
	retryable *bool
}{
	node.CodeUsage:        {ErrBadInput, ptr(false)},
	node.CodeLocked:       {ErrLocked, ptr(true)},
	node.CodeRefused:      {ErrRefused, ptr(false)},
	node.CodeRebooted:     {ErrRebooted, ptr(false)},
	node.CodePastCommit:   {ErrPastCommit, ptr(false)},
	node.CodeTreeChanged:  {ErrTreeChanged, ptr(false)},
	node.CodeNotConverged: {ErrNotConverged, nil},
	node.CodeVerify:       {ErrVerifyFailed, ptr(false)},
	node.CodeKernel:       {ErrKernel, nil},
	node.CodeService:      {ErrService, nil},
	node.CodeChecksum:     {ErrChecksum, ptr(false)},
	node.CodeNeedsHelp:    {ErrNeedsAttention, ptr(false)},
	node.CodeInterrupted:  {ErrInterrupted, ptr(true)},
}

func ptr(b bool) *bool { return &b }

// exitRetryable is the retryability an exit code implies when the
// Response carries no Error (a helper bug, but decided safely).
func exitRetryable(code int) bool {
	switch code {
	case node.ExitUsage, node.ExitRefused, node.ExitNeedsHelp:
		return false
	}
	return true
}

// helperError turns a helper's failure into an application error.
func helperError(command string, exit int, e *node.Error, details ...any) error {
	if e == nil {
		msg := fmt.Sprintf("kmemfix-node %s exited %d without an error: check the helper's version", command, exit)
		return appError(msg, ErrHelperFailed, exitRetryable(exit), nil, details...)
	}
	typ, retryable := ErrHelperFailed, e.Retryable
	if ct, ok := codeTypes[e.Code]; ok {
		typ = ct.typ
		if ct.retryable != nil {
			retryable = *ct.retryable
		}
	}
	msg := fmt.Sprintf("kmemfix-node %s: %s (%s)", command, e.Message, e.Code)
	return appError(msg, typ, retryable, nil, append([]any{*e}, details...)...)
}

// transportError classifies an error of the NodeShell.
func (a *Activities) transportError(what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	kind, retryable := ErrTransport, true
	if errors.Is(err, context.DeadlineExceeded) {
		kind = ErrTimeout
	}
	if a.Classifier != nil {
		kind, retryable = a.Classifier.Classify(err)
	}
	return appError(fmt.Sprintf("%s: %v", what, err), kind, retryable, err)
}

func appError(msg, typ string, retryable bool, cause error, details ...any) error {
	return temporal.NewApplicationErrorWithOptions(msg, typ, temporal.ApplicationErrorOptions{
		NonRetryable: !retryable,
		Cause:        cause,
		Details:      details,
	})
}

// ErrorType returns the Type of the application error in err's chain, or "".
func ErrorType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}
