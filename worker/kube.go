package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/temporal"
	"k8s.io/client-go/kubernetes"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/kube"
)

// KubeClientFunc builds a Kubernetes client: kube.NewClient in
// production, a fake clientset in tests.
type KubeClientFunc func(kube.ClientOptions) (kubernetes.Interface, error)

// newCordoner returns what the CordonNode and UncordonNode activities use,
// or nil when the worker has no Kubernetes access: kubernetes.kubeconfig is
// empty and the worker does not run in a cluster. Rollouts with
// rollout.cordon then fail at their cordon step, saying so. It logs which.
func newCordoner(cfg *config.Config, newClient KubeClientFunc, logger *slog.Logger) (activities.Cordoner, error) {
	k := cfg.Kubernetes
	switch {
	case k.Kubeconfig != "":
		logger.Info("cordon: reaching the Kubernetes API through kubernetes.kubeconfig", "kubeconfig", k.Kubeconfig, "context", k.Context)
	case os.Getenv(config.InClusterEnv) != "":
		logger.Info("cordon: reaching the Kubernetes API with the pod's service account (in the cluster)")
	default:
		logger.Info("cordon: no Kubernetes access (kubernetes.kubeconfig is empty, not in a cluster): rollouts with rollout.cordon will fail at their cordon step")
		return nil, nil
	}
	c, err := newClient(kube.ClientOptions{Kubeconfig: k.Kubeconfig, Context: k.Context})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w (check kubernetes.kubeconfig and kubernetes.context)", err)
	}
	return permanentCordoner{kube.NewCordoner(c)}, nil
}

// permanentCordoner makes the cordon errors no retry can mend (the node
// is gone, RBAC forbids, the request is invalid) non-retryable, so the
// node workflow stops at once and says why; the others stay retryable.
type permanentCordoner struct {
	c *kube.Cordoner
}

func (p permanentCordoner) Cordon(ctx context.Context, node, rolloutID string) (bool, error) {
	changed, err := p.c.Cordon(ctx, node, rolloutID)
	return changed, permanent(err)
}

func (p permanentCordoner) Uncordon(ctx context.Context, node, rolloutID string) error {
	return permanent(p.c.Uncordon(ctx, node, rolloutID))
}

func permanent(err error) error {
	if err == nil || !kube.Permanent(err) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrBadInput, err)
}
