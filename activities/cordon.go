package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// Cordoner marks a Kubernetes node unschedulable around its remediation
// and restores its original state afterwards: Uncordon only undoes a cordon
// this rollout made (a node cordoned by someone else stays cordoned). The
// kube package implements it; the worker wires it when Kubernetes access
// is configured.
type Cordoner interface {
	Cordon(ctx context.Context, node, rolloutID string) (changed bool, err error)
	Uncordon(ctx context.Context, node, rolloutID string) error
}

// CordonInput names the node (its inventory name is its Kubernetes name)
// and the rollout that cordons it.
type CordonInput struct {
	Node      NodeRef `json:"node"`
	RolloutID string  `json:"rolloutID"`
}

// CordonResult says whether the node's schedulable state changed.
type CordonResult struct {
	Changed bool `json:"changed"`
}

// CordonNode cordons the node before its kubelet stops, so no pod is
// scheduled onto a node whose kubelet will not start it.
func (a *Activities) CordonNode(ctx context.Context, in *CordonInput) (*CordonResult, error) {
	if a.Cordoner == nil {
		return nil, noCordoner()
	}
	changed, err := a.Cordoner.Cordon(ctx, in.Node.Name, in.RolloutID)
	if err != nil {
		return nil, cordonErr("cordon", in.Node.Name, err)
	}
	return &CordonResult{Changed: changed}, nil
}

// UncordonNode restores the node's schedulable state (the compensation of
// CordonNode, and the last step of a remediation).
func (a *Activities) UncordonNode(ctx context.Context, in *CordonInput) (*CordonResult, error) {
	if a.Cordoner == nil {
		return nil, noCordoner()
	}
	if err := a.Cordoner.Uncordon(ctx, in.Node.Name, in.RolloutID); err != nil {
		return nil, cordonErr("uncordon", in.Node.Name, err)
	}
	return &CordonResult{Changed: true}, nil
}

// cordonErr keeps an application error the cordoner classified (a missing
// node, a forbidden call: non-retryable) as the outermost error, since the
// SDK reads retryability from it alone; anything else is retryable.
func cordonErr(op, node string, err error) error {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae
	}
	return fmt.Errorf("%s %s: %w", op, node, err)
}

func noCordoner() error {
	return temporal.NewNonRetryableApplicationError(
		"cordon is enabled for this rollout but the worker has no Kubernetes access: configure kubernetes.kubeconfig (or run the worker in the cluster), or turn rollout.cordon off",
		ErrBadInput, nil)
}
