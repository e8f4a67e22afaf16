package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kmemfix/kmemfix/node"
)

// ErrCommandFailed types a configured command that exited non-zero.
const ErrCommandFailed = "CommandFailed"

// runCommands runs argv lists through the helper's run-commands and fails
// (retryable) when one exits non-zero: a non-zero exit is the helper's
// data, the step's failure.
func (a *Activities) runCommands(ctx context.Context, n NodeRef, f Flags, commands [][]string) ([]node.CommandOutcome, error) {
	cmd := []string{"run-commands"}
	for _, argv := range commands {
		if len(argv) == 0 {
			return nil, appError("run-commands: an empty command was configured: remove it", ErrBadInput, false, nil)
		}
		js, err := json.Marshal(argv)
		if err != nil {
			return nil, appError(fmt.Sprintf("encode command %q: %v", argv, err), ErrBadInput, false, nil)
		}
		cmd = append(cmd, "--argv", string(js))
	}
	var out node.CommandsResult
	if err := a.runHelper(ctx, n, f, cmd, &out); err != nil {
		return nil, err
	}
	var failed []string
	for _, c := range out.Ran {
		if c.ExitCode != 0 {
			failed = append(failed, fmt.Sprintf("%s exited %d: %s", strings.Join(c.Argv, " "), c.ExitCode, strings.TrimSpace(c.Stderr)))
		}
	}
	if len(failed) > 0 {
		return out.Ran, appError(fmt.Sprintf("on %s: %s", n.Name, strings.Join(failed, "; ")), ErrCommandFailed, true, nil, out)
	}
	return out.Ran, nil
}
