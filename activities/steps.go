package activities

import (
	"context"
	"fmt"

	"github.com/kmemfix/kmemfix/node"
)

// NodeStepInput is the input of the steps that take nothing but the node
// and the helper's flags: snapshot, mirror, move, commit, rebuild, verify,
// restore, finish.
type NodeStepInput struct {
	Node  NodeRef `json:"node"`
	Flags Flags   `json:"flags"`
}

// TreeStepResult is what mirror, move, commit, rebuild and restore report.
type TreeStepResult struct {
	Tree node.TreeResult `json:"tree"`
}

// EnsureHelperInput names the node to install the helper on.
type EnsureHelperInput struct {
	Node NodeRef `json:"node"`
}

// EnsureHelperResult says where the helper is on the node.
type EnsureHelperResult struct {
	RemotePath string `json:"remotePath"`
}

// EnsureHelper installs the worker's build of the helper on the node.
func (a *Activities) EnsureHelper(ctx context.Context, in *EnsureHelperInput) (*EnsureHelperResult, error) {
	hb := startHeartbeat(ctx)
	path, err := a.Shell.EnsureHelper(ctx, in.Node)
	hb.stop()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, a.transportError("install kmemfix-node on "+in.Node.Name, err)
	}
	return &EnsureHelperResult{RemotePath: path}, nil
}

// InspectInput asks for the capacity check.
type InspectInput struct {
	Node          NodeRef `json:"node"`
	Flags         Flags   `json:"flags"`
	KubeletUnit   string  `json:"kubeletUnit,omitempty"`
	KubeletBinary string  `json:"kubeletBinary,omitempty"`
	Margin        int     `json:"margin,omitempty"`
}

// InspectResult is the helper's view of the node.
type InspectResult struct {
	Inspect node.InspectResult `json:"inspect"`
}

// Inspect reads the node (verdict, headroom, a remediation in progress).
func (a *Activities) Inspect(ctx context.Context, in *InspectInput) (*InspectResult, error) {
	cmd := []string{"inspect"}
	flags := in.Flags
	if in.KubeletUnit != "" {
		flags.KubeletUnit = in.KubeletUnit // a global flag of the helper
	}
	if in.KubeletBinary != "" {
		cmd = append(cmd, "--kubelet-binary", in.KubeletBinary)
	}
	if in.Margin > 0 {
		cmd = append(cmd, "--margin", fmt.Sprint(in.Margin))
	}
	var out InspectResult
	if err := a.runHelper(ctx, in.Node, flags, cmd, &out.Inspect); err != nil {
		return nil, err
	}
	return &out, nil
}

// SnapshotResult summarizes the journal the snapshot wrote on the node.
type SnapshotResult struct {
	Snapshot node.SnapshotResult `json:"snapshot"`
}

// Snapshot records the kubepods subtree in the node's journal.
func (a *Activities) Snapshot(ctx context.Context, in *NodeStepInput) (*SnapshotResult, error) {
	var out SnapshotResult
	if err := a.runHelper(ctx, in.Node, in.Flags, []string{"snapshot"}, &out.Snapshot); err != nil {
		return nil, err
	}
	return &out, nil
}

func (a *Activities) tree(ctx context.Context, in *NodeStepInput, command string) (*TreeStepResult, error) {
	var out TreeStepResult
	if err := a.runHelper(ctx, in.Node, in.Flags, []string{command}, &out.Tree); err != nil {
		return nil, err
	}
	return &out, nil
}

// Mirror enables charge moving and builds the mirror tree with every
// preserved value, before any process moves.
func (a *Activities) Mirror(ctx context.Context, in *NodeStepInput) (*TreeStepResult, error) {
	return a.tree(ctx, in, "mirror")
}

// Move moves every process from kubepods into the mirror.
func (a *Activities) Move(ctx context.Context, in *NodeStepInput) (*TreeStepResult, error) {
	return a.tree(ctx, in, "move")
}

// Commit removes kubepods: the commit point of the procedure.
func (a *Activities) Commit(ctx context.Context, in *NodeStepInput) (*TreeStepResult, error) {
	return a.tree(ctx, in, "commit")
}

// Rebuild recreates kubepods unaccounted and moves everything back.
func (a *Activities) Rebuild(ctx context.Context, in *NodeStepInput) (*TreeStepResult, error) {
	return a.tree(ctx, in, "rebuild")
}

// Restore is the compensation of mirror and move: everything back into
// kubepods, the mirror removed. Refused with PastCommit after the commit.
func (a *Activities) Restore(ctx context.Context, in *NodeStepInput) (*TreeStepResult, error) {
	return a.tree(ctx, in, "restore")
}

// VerifyResult lists the differences between the node and its snapshot.
type VerifyResult struct {
	Verify node.VerifyResult `json:"verify"`
}

// Verify compares the node with its snapshot. Differences fail with
// ErrVerifyFailed; the error's details carry the node.VerifyResult.
func (a *Activities) Verify(ctx context.Context, in *NodeStepInput) (*VerifyResult, error) {
	var out VerifyResult
	if err := a.runHelper(ctx, in.Node, in.Flags, []string{"verify"}, &out.Verify); err != nil {
		return nil, err
	}
	return &out, nil
}

// FinishResult is empty: finish only closes the journal.
type FinishResult struct{}

// Finish closes the node's journal.
func (a *Activities) Finish(ctx context.Context, in *NodeStepInput) (*FinishResult, error) {
	if err := a.runHelper(ctx, in.Node, in.Flags, []string{"finish"}, nil); err != nil {
		return nil, err
	}
	return &FinishResult{}, nil
}

// RestartCadvisorInput lists the commands that restart cadvisor and the
// like, as argv (no shell).
type RestartCadvisorInput struct {
	Node     NodeRef    `json:"node"`
	Flags    Flags      `json:"flags"`
	Commands [][]string `json:"commands,omitempty"`
}

// RestartCadvisorResult reports each command's exit.
type RestartCadvisorResult struct {
	Ran []node.CommandOutcome `json:"ran,omitempty"`
}

// RestartCadvisor runs the configured commands; with none it does nothing.
func (a *Activities) RestartCadvisor(ctx context.Context, in *RestartCadvisorInput) (*RestartCadvisorResult, error) {
	if len(in.Commands) == 0 {
		return &RestartCadvisorResult{}, nil
	}
	ran, err := a.runCommands(ctx, in.Node, in.Flags, in.Commands)
	if err != nil {
		return nil, err
	}
	return &RestartCadvisorResult{Ran: ran}, nil
}
