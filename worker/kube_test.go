package worker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/kube"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: lab
  context: {cluster: lab, user: ops}
current-context: lab
users:
- name: ops
  user: {token: not-a-real-token}
`

// TestActivitiesGetACordonerWhenKubernetesIsConfigured: with a kubeconfig
// (the real kube.NewClient reads it) or inside a cluster the activities get
// a cordoner, and the log says which; without either they get none.
func TestActivitiesGetACordonerWhenKubernetesIsConfigured(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	fakeClient := func(kube.ClientOptions) (kubernetes.Interface, error) { return fake.NewClientset(), nil }
	cases := []struct {
		name, kubeconfig, inCluster string
		newClient                   KubeClientFunc
		want                        bool
		log                         string
	}{
		{name: "kubeconfig", kubeconfig: kubeconfig, newClient: kube.NewClient, want: true, log: "through kubernetes.kubeconfig"},
		{name: "in cluster", inCluster: "10.96.0.1", newClient: fakeClient, want: true, log: "service account"},
		{name: "neither", newClient: fakeClient, want: false, log: "no Kubernetes access"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(config.InClusterEnv, tc.inCluster)
			cfg := config.Default()
			cfg.Kubernetes.Kubeconfig = tc.kubeconfig
			var logs bytes.Buffer
			acts, err := newActivities(&cfg, nil, tc.newClient, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if got := acts.Cordoner != nil; got != tc.want {
				t.Errorf("has a cordoner: %v, want %v", got, tc.want)
			}
			if !strings.Contains(logs.String(), tc.log) || strings.Count(logs.String(), "cordon:") != 1 {
				t.Errorf("want one log line saying %q, got:\n%s", tc.log, logs.String())
			}
		})
	}
	t.Run("unreadable kubeconfig", func(t *testing.T) {
		cfg := config.Default()
		cfg.Kubernetes.Kubeconfig = filepath.Join(t.TempDir(), "missing")
		_, err := newActivities(&cfg, nil, kube.NewClient, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "kubernetes.kubeconfig") {
			t.Errorf("err = %v, want one naming kubernetes.kubeconfig", err)
		}
	})
}

// TestCordonerCordonsAndMakesPermanentErrorsNonRetryable drives the wired
// cordoner through the activities against a fake clientset.
func TestCordonerCordonsAndMakesPermanentErrorsNonRetryable(t *testing.T) {
	t.Setenv(config.InClusterEnv, "10.96.0.1")
	cs := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}})
	cfg := config.Default()
	acts, err := newActivities(&cfg, nil, func(kube.ClientOptions) (kubernetes.Interface, error) { return cs, nil }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := &activities.CordonInput{Node: activities.NodeRef{Name: "node-1"}, RolloutID: "kmemfix-rollout-r1"}
	res, err := acts.CordonNode(ctx, in)
	if err != nil || !res.Changed {
		t.Fatalf("CordonNode = %+v, %v", res, err)
	}
	n, _ := cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	if !n.Spec.Unschedulable || n.Annotations[kube.CordonedByAnnotation] != "kmemfix-rollout-r1" {
		t.Errorf("node after cordon: unschedulable %v, annotations %v", n.Spec.Unschedulable, n.Annotations)
	}
	if _, err := acts.UncordonNode(ctx, in); err != nil {
		t.Fatal(err)
	}
	n, _ = cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	if n.Spec.Unschedulable {
		t.Error("node still cordoned after uncordon")
	}

	// A node the API server does not know: no retry can help.
	_, err = acts.Cordoner.Cordon(ctx, "node-gone", "kmemfix-rollout-r1")
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || !ae.NonRetryable() || ae.Type() != activities.ErrBadInput || !errors.Is(err, kube.ErrNodeNotFound) {
		t.Errorf("cordon of a missing node: %v, want a non-retryable %s error wrapping kube.ErrNodeNotFound", err, activities.ErrBadInput)
	}
	if !strings.Contains(err.Error(), "node-gone") {
		t.Errorf("the error should name the node: %v", err)
	}

	// An API server that is down may come back: the error stays retryable.
	cs.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("apiserver restarting")
	})
	err = acts.Cordoner.Uncordon(ctx, "node-1", "kmemfix-rollout-r1")
	if err == nil || errors.As(err, &ae) {
		t.Errorf("uncordon while the API server is down: %v, want a plain (retryable) error", err)
	}
}
