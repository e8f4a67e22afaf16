// Package activities holds the Temporal activities of kmemfix: one activity
// per step of the per-node procedure, its compensations, and the fleet health
// gate. Each activity runs the node helper (bin/kmemfix-node) on one node
// through a NodeShell, decodes the helper's node.Response and turns its error
// codes into Temporal application errors with a Type and a retryability.
//
// # What the worker must provide
//
// Activities holds its dependencies; the worker builds it once and registers
// it (worker.RegisterActivity(&activities.Activities{...})):
//
//   - Shell NodeShell: reaches a node (the SSH transport). RunHelper runs the
//     helper already installed by EnsureHelper with the given argv (no shell
//     string is ever built from data), returns its stdout, its exit code and,
//     separately, an error only when the helper could not be run or its exit
//     code could not be read (unreachable, auth failure, session lost). A
//     non-zero exit is data, not an error. When progress is not nil, every
//     stderr line that decodes as node.Progress is passed to it. When ctx is
//     cancelled RunHelper must stop the remote helper (the helper stops
//     cleanly on SIGINT/SIGTERM and exits with node.ExitInterrupted) and
//     return.
//   - Classifier Classifier: tells which transport errors are worth a retry.
//     It returns an ErrType kind: ErrUnreachable and ErrTimeout (refused or
//     timed-out connections, a cut session) are retryable; ErrAuth,
//     ErrHostKey, ErrHostUnknown, ErrBadInput (an address that cannot be
//     parsed, NUL in an argument) and ErrChecksum (an upload that does not
//     hash right) are not. ClassifierFunc adapts a function. A nil
//     Classifier treats every transport error as retryable (ErrTransport).
//   - HTTP *http.Client: used by the HTTP and Prometheus health gates; nil
//     means http.DefaultClient.
//
// No secret ever reaches an activity input: SSH keys, passwords and known
// hosts stay in the worker's configuration, behind the NodeShell.
//
// # Error types
//
// Every error an activity returns is a *temporal.ApplicationError whose Type
// is one of the ErrType constants (ErrRebooted, ErrPastCommit, ...), so
// workflows branch on the type and never on message text.
package activities
