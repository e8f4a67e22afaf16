package kube

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// CordonedByAnnotation records on a node the rollout that cordoned it.
// Only that rollout uncordons the node.
const CordonedByAnnotation = "kmemfix.io/cordoned-by"

// ErrNodeNotFound is returned by Cordon for a node the API server does not
// know: the inventory names a node that is gone or misspelt.
var ErrNodeNotFound = errors.New("kube: node not found")

// Cordoner cordons and uncordons nodes around their remediation.
type Cordoner struct {
	client  kubernetes.Interface
	backoff wait.Backoff
}

// NewCordoner returns a Cordoner using c. Conflicting writes (someone else
// changed the node between our read and our write) are retried with
// client-go's default backoff (5 tries, from 10 ms).
func NewCordoner(c kubernetes.Interface) *Cordoner {
	return &Cordoner{client: c, backoff: retry.DefaultBackoff}
}

// Cordon marks node unschedulable on behalf of rolloutID. changed is true
// when the node is cordoned by this rollout, now or by an earlier attempt
// (so a retried activity gives the same answer); it is false when the node
// was already cordoned by someone else, who keeps it: Uncordon then leaves
// it alone.
func (c *Cordoner) Cordon(ctx context.Context, node, rolloutID string) (changed bool, err error) {
	if rolloutID == "" {
		return false, errors.New("kube: cordon needs a rollout ID to record who cordoned the node")
	}
	err = retry.RetryOnConflict(c.backoff, func() error {
		n, err := c.get(ctx, node)
		if err != nil {
			return err
		}
		if n.Spec.Unschedulable {
			changed = n.Annotations[CordonedByAnnotation] == rolloutID
			return nil
		}
		n.Spec.Unschedulable = true
		if n.Annotations == nil {
			n.Annotations = map[string]string{}
		}
		n.Annotations[CordonedByAnnotation] = rolloutID
		if _, err := c.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{FieldManager: "kmemfix"}); err != nil {
			return err
		}
		changed = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("kube: cordon %s: %w", node, err)
	}
	return changed, nil
}

// Uncordon restores node after rolloutID's remediation: if this rollout
// cordoned it, the node becomes schedulable again and the annotation goes;
// a node cordoned by someone else, or not cordoned, is left as it is. A node
// that no longer exists needs nothing.
func (c *Cordoner) Uncordon(ctx context.Context, node, rolloutID string) error {
	err := retry.RetryOnConflict(c.backoff, func() error {
		n, err := c.get(ctx, node)
		if err != nil {
			return err
		}
		if n.Annotations[CordonedByAnnotation] != rolloutID || rolloutID == "" {
			return nil
		}
		n.Spec.Unschedulable = false
		delete(n.Annotations, CordonedByAnnotation)
		_, err = c.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{FieldManager: "kmemfix"})
		return err
	})
	if errors.Is(err, ErrNodeNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kube: uncordon %s: %w", node, err)
	}
	return nil
}

func (c *Cordoner) get(ctx context.Context, node string) (*corev1.Node, error) {
	n, err := c.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s (check the inventory against kubectl get nodes)", ErrNodeNotFound, node)
	}
	return n, err
}
