package kube

import (
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ClientOptions says how to reach the API server.
type ClientOptions struct {
	// Kubeconfig is a kubeconfig file. "" uses the in-cluster service
	// account when running in a pod, else $KUBECONFIG or ~/.kube/config.
	Kubeconfig string
	// Context selects a kubeconfig context; "" is the current one.
	Context string
	// QPS and Burst limit requests to the API server (defaults 20 and 40).
	QPS   float32
	Burst int
}

// NewClient builds a clientset as ClientOptions says.
func NewClient(o ClientOptions) (kubernetes.Interface, error) {
	cfg, err := restConfig(o)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "kmemfix"
	cfg.QPS, cfg.Burst = 20, 40
	if o.QPS > 0 {
		cfg.QPS = o.QPS
	}
	if o.Burst > 0 {
		cfg.Burst = o.Burst
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: client for %s: %w", cfg.Host, err)
	}
	return cs, nil
}

func restConfig(o ClientOptions) (*rest.Config, error) {
	if o.Kubeconfig == "" && o.Context == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kube: in-cluster configuration: %w; give --kubeconfig instead", err)
		}
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		where := o.Kubeconfig
		if where == "" {
			where = "$KUBECONFIG or ~/.kube/config"
		}
		return nil, fmt.Errorf("kube: kubeconfig %s (context %q): %w; give the file with --kubeconfig or run inside the cluster", where, o.Context, err)
	}
	return cfg, nil
}
