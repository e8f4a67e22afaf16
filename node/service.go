package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// ServiceOptions tune Service.
type ServiceOptions struct {
	Timeout    time.Duration // how long to wait for the wanted state
	HealthzURL string        // checked after start when set (kubelet: http://127.0.0.1:10248/healthz)
}

// servicePoll is how often a service's state is re-read while waiting.
const servicePoll = 250 * time.Millisecond

// Service stops, starts, restarts or reads a systemd unit and waits until it
// reaches the wanted state (and, after a start, answers its health check).
func (p *Procedure) Service(ctx context.Context, action, unit string, opts ServiceOptions) (*ServiceResult, error) {
	if unit == "" || strings.ContainsAny(unit, "/\x00\n") || strings.HasPrefix(unit, "-") {
		return nil, &StepError{Code: CodeUsage, Message: fmt.Sprintf("%q is not a unit name", unit)}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	switch action {
	case "status":
		return p.serviceResult(ctx, unit, opts)
	case "stop", "start", "restart":
	default:
		return nil, &StepError{Code: CodeUsage, Message: fmt.Sprintf("service action %q: use stop, start, restart or status", action)}
	}
	out, err := p.sys.Run(ctx, []string{"systemctl", action, unit})
	if err != nil {
		return nil, &StepError{Code: CodeService, Message: fmt.Sprintf("systemctl %s %s could not run", action, unit), Retryable: true, Err: err}
	}
	if out.ExitCode != 0 {
		return nil, &StepError{Code: CodeService, Retryable: true,
			Message: fmt.Sprintf("systemctl %s %s exited %d: %s", action, unit, out.ExitCode, firstLine(out.Stderr))}
	}
	deadline := time.Now().Add(opts.Timeout)
	for {
		res, err := p.serviceResult(ctx, unit, opts)
		if err != nil {
			return nil, err
		}
		if reached(action, res) {
			return res, nil
		}
		if time.Now().After(deadline) {
			return res, &StepError{Code: CodeService, Retryable: true,
				Message: fmt.Sprintf("%s is %s (healthy: %t) %s after %s %s", unit, res.State, res.Healthy, opts.Timeout, action, unit)}
		}
		select {
		case <-ctx.Done():
			return res, interrupted(ctx)
		case <-time.After(servicePoll):
		}
	}
}

// reached tells whether a unit is where action wanted it: stopped for good
// (not "deactivating"), or running and healthy.
func reached(action string, res *ServiceResult) bool {
	if action == "stop" {
		return res.State == "inactive" || res.State == "failed" || res.State == "unknown"
	}
	return res.Healthy
}

func (p *Procedure) serviceResult(ctx context.Context, unit string, opts ServiceOptions) (*ServiceResult, error) {
	state, err := p.serviceState(ctx, unit)
	if err != nil {
		return nil, err
	}
	res := &ServiceResult{Unit: unit, State: state, Healthy: state == "active"}
	if res.Healthy && opts.HealthzURL != "" {
		code, err := p.sys.HTTPGet(ctx, opts.HealthzURL)
		res.Healthy = err == nil && code == 200
	}
	return res, nil
}

// serviceState is `systemctl is-active UNIT`: its output, whatever the exit.
func (p *Procedure) serviceState(ctx context.Context, unit string) (string, error) {
	out, err := p.sys.Run(ctx, []string{"systemctl", "is-active", unit})
	if errors.Is(err, fs.ErrNotExist) {
		return "", refused("systemctl not found: kmemfix drives services through systemd")
	}
	if err != nil {
		return "", &StepError{Code: CodeService, Message: "systemctl is-active " + unit + " could not run", Retryable: true, Err: err}
	}
	state := strings.TrimSpace(firstLine(out.Stdout))
	if state == "" {
		state = "unknown"
	}
	return state, nil
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// RunCommands runs configured commands (cadvisor or monitoring agent
// restarts) as argv, never through a shell. Every command runs; the step
// fails if any exited non-zero.
func (p *Procedure) RunCommands(ctx context.Context, commands [][]string) (*CommandsResult, error) {
	res := &CommandsResult{Ran: []CommandOutcome{}}
	var failed []string
	for _, argv := range commands {
		if len(argv) == 0 || argv[0] == "" {
			return res, &StepError{Code: CodeUsage, Message: "an empty command was configured"}
		}
		out, err := p.sys.Run(ctx, argv)
		if err != nil {
			res.Ran = append(res.Ran, CommandOutcome{Argv: argv, ExitCode: -1, Stderr: err.Error()})
			failed = append(failed, argv[0]+": "+err.Error())
			continue
		}
		res.Ran = append(res.Ran, CommandOutcome{Argv: argv, ExitCode: out.ExitCode, Stderr: firstLine(out.Stderr)})
		if out.ExitCode != 0 {
			failed = append(failed, fmt.Sprintf("%s exited %d", strings.Join(argv, " "), out.ExitCode))
		}
	}
	if len(failed) > 0 {
		return res, &StepError{Code: CodeService, Retryable: true, Message: "commands failed: " + strings.Join(failed, "; ")}
	}
	return res, nil
}
