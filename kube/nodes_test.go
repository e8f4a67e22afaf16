package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kmemfix/kmemfix/inventory"
)

func fleet() *fake.Clientset {
	return fake.NewClientset(
		node("w-1", map[string]string{"role": "worker", "zone": "a"}, el7, kmem, hostname("w-1"), internal("10.0.0.1"), external("203.0.113.1")),
		node("w-2", map[string]string{"role": "worker", "zone": "b"}, el7, nokmem, internal("10.0.0.2")),
		node("w-3", map[string]string{"role": "worker", "zone": "a"}, modern, nokmem, external("203.0.113.3"), hostname("w-3")),
		node("cp-1", map[string]string{"role": "control-plane"}, el7, kmem, internal("10.0.1.1")),
	)
}

func names(nodes []Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

func TestListNodesBySelector(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		selector string
		want     []string
	}{
		{"", []string{"cp-1", "w-1", "w-2", "w-3"}},
		{"role=worker", []string{"w-1", "w-2", "w-3"}},
		{"role=worker,zone=a", []string{"w-1", "w-3"}},
		{"role!=worker", []string{"cp-1"}},
		{"zone in (b)", []string{"w-2"}},
		{"role=none", nil},
	} {
		got, err := ListNodes(ctx, fleet(), ListOptions{Selector: tc.selector})
		if err != nil {
			t.Fatalf("%q: %v", tc.selector, err)
		}
		if !slices.Equal(names(got), tc.want) {
			t.Errorf("selector %q: %v, want %v", tc.selector, names(got), tc.want)
		}
	}
	if _, err := ListNodes(ctx, fleet(), ListOptions{Selector: "role in (a"}); err == nil || !strings.Contains(err.Error(), "label selector") {
		t.Errorf("bad selector: err = %v", err)
	}
}

func TestListNodesReadsVersionsAndClassifies(t *testing.T) {
	got, err := ListNodes(context.Background(), fleet(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Node{}
	for _, n := range got {
		byName[n.Name] = n
	}
	w1 := byName["w-1"]
	if w1.Kernel != el7 || w1.Kubelet != kmem || w1.Arch != "amd64" || w1.OSImage != "CentOS Linux 7 (Core)" || !w1.Ready {
		t.Errorf("w-1 = %+v", w1)
	}
	for name, want := range map[string]Class{"w-1": MaybeAffected, "w-2": Unknown, "w-3": NotAffected, "cp-1": MaybeAffected} {
		if got := byName[name].Class.Class; got != want {
			t.Errorf("%s class = %s, want %s", name, got, want)
		}
	}
}

func TestAddressPreference(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		prefs    []corev1.NodeAddressType
		node     string
		want     string
		wantType corev1.NodeAddressType
	}{
		{nil, "w-1", "10.0.0.1", corev1.NodeInternalIP},    // InternalIP first by default, whatever the order in status
		{nil, "w-3", "203.0.113.3", corev1.NodeExternalIP}, // no InternalIP: the next preference
		{[]corev1.NodeAddressType{corev1.NodeExternalIP}, "w-1", "203.0.113.1", corev1.NodeExternalIP},
		{[]corev1.NodeAddressType{corev1.NodeHostName, corev1.NodeInternalIP}, "w-1", "w-1", corev1.NodeHostName},
		{[]corev1.NodeAddressType{corev1.NodeHostName, corev1.NodeInternalIP}, "w-2", "10.0.0.2", corev1.NodeInternalIP},
		{[]corev1.NodeAddressType{corev1.NodeExternalIP}, "w-2", "", ""}, // none of the preferred types
	} {
		nodes, err := ListNodes(ctx, fleet(), ListOptions{AddressTypes: tc.prefs})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(nodes, func(n Node) bool { return n.Name == tc.node })
		if n := nodes[i]; n.Address != tc.want || n.AddressType != tc.wantType {
			t.Errorf("prefs %v, %s: address %q (%s), want %q (%s)", tc.prefs, tc.node, n.Address, n.AddressType, tc.want, tc.wantType)
		}
	}
	if _, err := ParseAddressTypes([]string{"InternalIP", "Hostname"}); err != nil {
		t.Error(err)
	}
	if _, err := ParseAddressTypes([]string{"InternalIp"}); err == nil {
		t.Error("ParseAddressTypes accepted a misspelt type")
	}
}

func TestListNodesFollowsPages(t *testing.T) {
	c := fleet()
	all, err := ListNodes(context.Background(), c, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The fake clientset ignores Limit: answer one node per page and check
	// that each call carries the previous page's continue token.
	calls := 0
	c.PrependReactor("list", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		opts := a.(k8stesting.ListActionImpl).GetListOptions()
		if want := token(calls); opts.Continue != want || opts.Limit != pageSize {
			t.Errorf("call %d: continue %q limit %d, want %q and %d", calls, opts.Continue, opts.Limit, want, pageSize)
		}
		obj, err := c.Tracker().Get(corev1.SchemeGroupVersion.WithResource("nodes"), "", all[calls].Name)
		if err != nil {
			return true, nil, err
		}
		list := &corev1.NodeList{Items: []corev1.Node{*obj.(*corev1.Node)}}
		calls++
		if calls < len(all) {
			list.Continue = token(calls)
		}
		return true, list, nil
	})
	got, err := ListNodes(context.Background(), c, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if calls != len(all) || !slices.Equal(names(got), names(all)) {
		t.Errorf("%d calls returned %v, want %d calls returning %v", calls, names(got), len(all), names(all))
	}
}

func token(page int) string {
	if page == 0 {
		return ""
	}
	return fmt.Sprintf("page-%d", page)
}

func TestToInventory(t *testing.T) {
	nodes, err := ListNodes(context.Background(), fleet(), ListOptions{AddressTypes: []corev1.NodeAddressType{corev1.NodeInternalIP}})
	if err != nil {
		t.Fatal(err)
	}
	inv, skipped := ToInventory(nodes, InventoryOptions{
		Defaults: inventory.Defaults{User: "kmemfix", Port: 22},
		Classes:  []Class{MaybeAffected, Unknown},
		Labels:   []string{"zone"},
	})
	want := []inventory.Node{
		{Name: "cp-1", Address: "10.0.1.1", Arch: "amd64"},
		{Name: "w-1", Address: "10.0.0.1", Arch: "amd64", Labels: map[string]string{"zone": "a"}},
		{Name: "w-2", Address: "10.0.0.2", Arch: "amd64", Labels: map[string]string{"zone": "b"}},
	}
	if len(inv.Nodes) != len(want) {
		t.Fatalf("inventory = %+v, want %+v", inv.Nodes, want)
	}
	for i := range want {
		g, w := inv.Nodes[i], want[i]
		if g.Name != w.Name || g.Address != w.Address || g.Arch != w.Arch || len(g.Labels) != len(w.Labels) || g.Labels["zone"] != w.Labels["zone"] {
			t.Errorf("node %d = %+v, want %+v", i, g, w)
		}
	}
	if inv.Defaults.User != "kmemfix" {
		t.Errorf("defaults = %+v", inv.Defaults)
	}
	if len(skipped) != 1 || skipped[0].Node != "w-3" || !strings.Contains(skipped[0].Reason, "not-affected") {
		t.Errorf("skipped = %+v, want w-3 as not-affected", skipped)
	}
	// A kept node without an address of a preferred type is skipped, with why.
	nodes, _ = ListNodes(context.Background(), fleet(), ListOptions{AddressTypes: []corev1.NodeAddressType{corev1.NodeHostName}})
	inv, skipped = ToInventory(nodes, InventoryOptions{})
	if len(inv.Nodes) != 2 || len(skipped) != 2 || !strings.Contains(skipped[0].Reason, "no address") {
		t.Errorf("by hostname: inventory %+v, skipped %+v", inv.Nodes, skipped)
	}
	// The result is a valid inventory file.
	var buf strings.Builder
	if err := inventory.Write(&buf, inv); err != nil {
		t.Fatal(err)
	}
	if _, err := inventory.Parse(strings.NewReader(buf.String()), inventory.YAML); err != nil {
		t.Errorf("the inventory does not read back: %v\n%s", err, buf.String())
	}
}
