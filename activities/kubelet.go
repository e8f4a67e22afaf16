package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/kmemfix/kmemfix/node"
)

// StageKubeletInput uploads the replacement kubelet before any downtime.
type StageKubeletInput struct {
	Node       NodeRef `json:"node"`
	LocalPath  string  `json:"localPath"`  // on the worker
	RemotePath string  `json:"remotePath"` // on the node
	SHA256     string  `json:"sha256"`
}

// StageKubeletResult says where the replacement kubelet waits on the node.
type StageKubeletResult struct {
	RemotePath string `json:"remotePath"`
}

// StageKubelet uploads the replacement kubelet (skipped when the node
// already has a file with that sha256). A checksum mismatch is not retried.
func (a *Activities) StageKubelet(ctx context.Context, in *StageKubeletInput) (*StageKubeletResult, error) {
	if in.LocalPath == "" || in.RemotePath == "" || len(in.SHA256) != 64 {
		return nil, appError("stage kubelet: the replacement kubelet needs a local path, a remote path and a 64-hex sha256: fix the procedure settings",
			ErrBadInput, false, nil)
	}
	hb := startHeartbeat(ctx)
	err := a.Shell.EnsureFile(ctx, in.Node, in.LocalPath, in.RemotePath, in.SHA256)
	hb.stop()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, a.transportError(fmt.Sprintf("upload %s to %s:%s", in.LocalPath, in.Node.Name, in.RemotePath), err)
	}
	return &StageKubeletResult{RemotePath: in.RemotePath}, nil
}

// StopKubeletInput stops kubelet and swaps its binary for the staged one.
type StopKubeletInput struct {
	Node      NodeRef       `json:"node"`
	Flags     Flags         `json:"flags"`
	Unit      string        `json:"unit"`
	Binary    string        `json:"binary"`
	NewBinary string        `json:"newBinary"` // the staged file
	SHA256    string        `json:"sha256"`
	Timeout   time.Duration `json:"timeout,omitempty"`
}

// StopKubeletResult is the stopped service and the swapped binary.
type StopKubeletResult struct {
	Service node.ServiceResult     `json:"service"`
	Swap    node.KubeletSwapResult `json:"swap"`
}

// StopKubelet stops the kubelet unit, checks it is inactive, then installs
// the staged binary (backup + atomic rename). Both are idempotent.
func (a *Activities) StopKubelet(ctx context.Context, in *StopKubeletInput) (*StopKubeletResult, error) {
	var out StopKubeletResult
	if err := a.runHelper(ctx, in.Node, in.Flags, serviceArgs("stop", in.Unit, in.Timeout, ""), &out.Service); err != nil {
		return nil, err
	}
	if out.Service.State == "active" || out.Service.State == "activating" {
		return nil, appError(fmt.Sprintf("%s on %s is still %s after stop", in.Unit, in.Node.Name, out.Service.State), ErrService, true, nil)
	}
	swap := []string{"kubelet", "swap", "--binary", in.Binary, "--new", in.NewBinary, "--sha256", in.SHA256}
	if err := a.runHelper(ctx, in.Node, in.Flags, swap, &out.Swap); err != nil {
		return nil, err
	}
	return &out, nil
}

// StartKubeletInput starts kubelet and waits for it to be healthy.
type StartKubeletInput struct {
	Node       NodeRef       `json:"node"`
	Flags      Flags         `json:"flags"`
	Unit       string        `json:"unit"`
	HealthzURL string        `json:"healthzURL,omitempty"`
	Timeout    time.Duration `json:"timeout,omitempty"`
}

// StartKubeletResult is the started service.
type StartKubeletResult struct {
	Service node.ServiceResult `json:"service"`
}

// StartKubelet starts the unit and fails (retryable) unless it is active
// and healthy.
func (a *Activities) StartKubelet(ctx context.Context, in *StartKubeletInput) (*StartKubeletResult, error) {
	var out StartKubeletResult
	if err := a.runHelper(ctx, in.Node, in.Flags, serviceArgs("start", in.Unit, in.Timeout, in.HealthzURL), &out.Service); err != nil {
		return nil, err
	}
	if !out.Service.Healthy {
		return nil, appError(fmt.Sprintf("%s on %s is %s but not healthy", in.Unit, in.Node.Name, out.Service.State), ErrUnhealthy, true, nil)
	}
	return &out, nil
}

// RestoreKubeletInput is the compensation of StopKubelet.
type RestoreKubeletInput struct {
	Node       NodeRef       `json:"node"`
	Flags      Flags         `json:"flags"`
	Unit       string        `json:"unit"`
	Binary     string        `json:"binary"`
	HealthzURL string        `json:"healthzURL,omitempty"`
	Timeout    time.Duration `json:"timeout,omitempty"`
}

// RestoreKubeletResult is the restored binary and the running service.
type RestoreKubeletResult struct {
	Swap    node.KubeletSwapResult `json:"swap"`
	Service node.ServiceResult     `json:"service"`
}

// RestoreKubelet puts the original kubelet back (from the backup), starts
// it and checks it is healthy.
func (a *Activities) RestoreKubelet(ctx context.Context, in *RestoreKubeletInput) (*RestoreKubeletResult, error) {
	var out RestoreKubeletResult
	if err := a.runHelper(ctx, in.Node, in.Flags, []string{"kubelet", "restore", "--binary", in.Binary}, &out.Swap); err != nil {
		return nil, err
	}
	if err := a.runHelper(ctx, in.Node, in.Flags, serviceArgs("start", in.Unit, in.Timeout, in.HealthzURL), &out.Service); err != nil {
		return nil, err
	}
	if err := a.runHelper(ctx, in.Node, in.Flags, serviceArgs("status", in.Unit, 0, in.HealthzURL), &out.Service); err != nil {
		return nil, err
	}
	if !out.Service.Healthy {
		return nil, appError(fmt.Sprintf("%s on %s is %s but not healthy after restoring the original binary", in.Unit, in.Node.Name, out.Service.State),
			ErrUnhealthy, true, nil)
	}
	return &out, nil
}

func serviceArgs(verb, unit string, timeout time.Duration, healthz string) []string {
	args := []string{"service", verb, unit}
	if timeout > 0 {
		args = append(args, "--timeout", timeout.String())
	}
	if healthz != "" {
		args = append(args, "--healthz", healthz)
	}
	return args
}
