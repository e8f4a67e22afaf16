package node

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrLocked is returned by System.Lock when another kmemfix run holds the lock.
var ErrLocked = errors.New("node: locked by another kmemfix run")

// Errnos the procedure reacts to.
var (
	errEIO   = syscall.EIO
	errESRCH = syscall.ESRCH
	errEBUSY = syscall.EBUSY
)

// StepError is a step that could not do its job, with the wire code the
// worker classifies and a message that says what to do.
type StepError struct {
	Code      string
	Message   string
	Retryable bool
	Err       error
}

func (e *StepError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *StepError) Unwrap() error { return e.Err }

func refused(format string, args ...any) error {
	return &StepError{Code: CodeRefused, Message: fmt.Sprintf(format, args...)}
}

func needsHelp(format string, args ...any) error {
	return &StepError{Code: CodeNeedsHelp, Message: fmt.Sprintf(format, args...)}
}

// kernelErr wraps a failed kernel operation. Most are worth retrying: the
// next run reads the node again and converges.
func kernelErr(err error) error {
	var se *StepError
	if errors.As(err, &se) {
		return err
	}
	return &StepError{Code: CodeKernel, Message: "kernel operation failed; the step can be run again", Retryable: true, Err: err}
}

// AsStepError converts any error into the wire form.
func AsStepError(err error) *Error {
	var se *StepError
	if errors.As(err, &se) {
		msg := se.Message
		if se.Err != nil {
			msg = se.Error()
		}
		return &Error{Code: se.Code, Message: msg, Retryable: se.Retryable}
	}
	if errors.Is(err, ErrLocked) {
		return &Error{Code: CodeLocked, Message: err.Error() + "; retry when it has finished", Retryable: true}
	}
	return &Error{Code: CodeKernel, Message: err.Error(), Retryable: true}
}
