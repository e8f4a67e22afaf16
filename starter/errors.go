package starter

import "errors"

// exitError carries a process exit code other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Exit codes of kmemfix beyond 0 (success) and 1 (the command failed).
const (
	ExitUsage       = 2 // bad flags, arguments or input files
	ExitNodesFailed = 3 // the rollout completed but some nodes failed
)

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// usageError marks err as the caller's mistake (exit 2).
func usageError(err error) error { return &exitError{code: ExitUsage, err: err} }
