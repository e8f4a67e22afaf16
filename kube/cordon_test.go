package kube

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func state(ctx context.Context, t *testing.T, c *fake.Clientset, name string) (unschedulable bool, by string, has bool) {
	t.Helper()
	n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	by, has = n.Annotations[CordonedByAnnotation]
	return n.Spec.Unschedulable, by, has
}

func cordoned(n *corev1.Node, by string) *corev1.Node {
	n.Spec.Unschedulable = true
	if by != "" {
		n.Annotations = map[string]string{CordonedByAnnotation: by, "keep": "me"}
	}
	return n
}

func TestCordonThenUncordonRestoresASchedulableNode(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset(node("n1", nil, el7, kmem, internal("10.0.0.1")))
	cd := NewCordoner(c)
	changed, err := cd.Cordon(ctx, "n1", rollout)
	if err != nil || !changed {
		t.Fatalf("Cordon = %v, %v; want true, nil", changed, err)
	}
	if u, by, _ := state(ctx, t, c, "n1"); !u || by != rollout {
		t.Fatalf("after cordon: unschedulable %v, cordoned-by %q", u, by)
	}
	// A retried activity gets the same answer and changes nothing.
	if changed, err := cd.Cordon(ctx, "n1", rollout); err != nil || !changed {
		t.Errorf("second Cordon = %v, %v; want true, nil", changed, err)
	}
	if err := cd.Uncordon(ctx, "n1", rollout); err != nil {
		t.Fatal(err)
	}
	if u, _, has := state(ctx, t, c, "n1"); u || has {
		t.Errorf("after uncordon: unschedulable %v, annotation left %v", u, has)
	}
	// Uncordon twice is harmless.
	if err := cd.Uncordon(ctx, "n1", rollout); err != nil {
		t.Error(err)
	}
}

func TestNodeCordonedBySomeoneElseStaysCordoned(t *testing.T) {
	ctx := context.Background()
	for name, n := range map[string]*corev1.Node{
		"by a human":            cordoned(node("n1", nil, el7, kmem), ""),
		"by another rollout":    cordoned(node("n1", nil, el7, kmem), "kmemfix-rollout-other"),
		"by a human, annotated": cordoned(node("n1", nil, el7, kmem), "someone"),
	} {
		t.Run(name, func(t *testing.T) {
			c := fake.NewClientset(n)
			_, wasBy, wasAnnotated := state(ctx, t, c, "n1")
			cd := NewCordoner(c)
			changed, err := cd.Cordon(ctx, "n1", rollout)
			if err != nil || changed {
				t.Fatalf("Cordon = %v, %v; want false, nil", changed, err)
			}
			if err := cd.Uncordon(ctx, "n1", rollout); err != nil {
				t.Fatal(err)
			}
			u, by, has := state(ctx, t, c, "n1")
			if !u || by != wasBy || has != wasAnnotated {
				t.Errorf("after our cordon/uncordon: unschedulable %v, cordoned-by %q (%v); want it untouched", u, by, has)
			}
		})
	}
}

// A node we cordoned but someone uncordoned meanwhile keeps its state, and
// the stale annotation goes.
func TestUncordonAfterAManualUncordon(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset(node("n1", nil, el7, kmem))
	cd := NewCordoner(c)
	if _, err := cd.Cordon(ctx, "n1", rollout); err != nil {
		t.Fatal(err)
	}
	n, _ := c.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	n.Spec.Unschedulable = false
	if _, err := c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cd.Uncordon(ctx, "n1", rollout); err != nil {
		t.Fatal(err)
	}
	if u, _, has := state(ctx, t, c, "n1"); u || has {
		t.Errorf("unschedulable %v, annotation %v", u, has)
	}
}

// conflictFirst makes the first n updates of nodes fail with 409 Conflict,
// as when another controller wrote the node between our read and write.
func conflictFirst(c *fake.Clientset, n int) *int {
	updates := 0
	c.PrependReactor("update", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		updates++
		if updates <= n {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "nodes"}, "n1", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	return &updates
}

func TestConflictsAreRetried(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset(node("n1", nil, el7, kmem))
	updates := conflictFirst(c, 2)
	cd := NewCordoner(c)
	if changed, err := cd.Cordon(ctx, "n1", rollout); err != nil || !changed {
		t.Fatalf("Cordon through 2 conflicts = %v, %v", changed, err)
	}
	if *updates != 3 {
		t.Errorf("%d update calls, want 3 (2 conflicts, then success)", *updates)
	}
	*updates = -1 // one more conflict for the uncordon
	if err := cd.Uncordon(ctx, "n1", rollout); err != nil {
		t.Fatal(err)
	}
	if u, _, has := state(ctx, t, c, "n1"); u || has {
		t.Errorf("after uncordon through a conflict: unschedulable %v, annotation %v", u, has)
	}
}

func TestEndlessConflictsAreAnError(t *testing.T) {
	c := fake.NewClientset(node("n1", nil, el7, kmem))
	conflictFirst(c, 1000)
	_, err := NewCordoner(c).Cordon(context.Background(), "n1", rollout)
	if !apierrors.IsConflict(err) {
		t.Errorf("err = %v, want a conflict after the retries", err)
	}
}

func TestMissingNodes(t *testing.T) {
	ctx := context.Background()
	cd := NewCordoner(fake.NewClientset())
	if _, err := cd.Cordon(ctx, "gone", rollout); !errors.Is(err, ErrNodeNotFound) {
		t.Errorf("Cordon of a missing node: %v, want ErrNodeNotFound", err)
	}
	if err := cd.Uncordon(ctx, "gone", rollout); err != nil {
		t.Errorf("Uncordon of a missing node: %v, want nil (nothing to restore)", err)
	}
	if _, err := cd.Cordon(ctx, "gone", ""); err == nil {
		t.Error("Cordon without a rollout ID succeeded")
	}
}

// The shape the node workflow's activities expect (declared there).
var _ interface {
	Cordon(ctx context.Context, node, rolloutID string) (bool, error)
	Uncordon(ctx context.Context, node, rolloutID string) error
} = (*Cordoner)(nil)

func TestPermanentErrors(t *testing.T) {
	ctx := context.Background()
	_, notFound := NewCordoner(fake.NewClientset()).Cordon(ctx, "gone", rollout)

	c := fake.NewClientset(node("n1", nil, el7, kmem))
	c.PrependReactor("update", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "n1", errors.New("RBAC: update nodes denied"))
	})
	_, forbidden := NewCordoner(c).Cordon(ctx, "n1", rollout)

	c = fake.NewClientset(node("n1", nil, el7, kmem))
	conflictFirst(c, 1000)
	_, conflict := NewCordoner(c).Cordon(ctx, "n1", rollout)

	c = fake.NewClientset(node("n1", nil, el7, kmem))
	c.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd leader changed")
	})
	_, unavailable := NewCordoner(c).Cordon(ctx, "n1", rollout)

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{{"not found", notFound, true}, {"forbidden", forbidden, true}, {"conflict", conflict, false}, {"unavailable", unavailable, false}} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if got := Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%s: %v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
