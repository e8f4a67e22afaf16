package starter

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kmemfix/kmemfix/inventory"
	"github.com/kmemfix/kmemfix/kube"
	"github.com/kmemfix/kmemfix/telemetry"
)

// run runs kmemfix built around a (fakes injected) and returns the exit
// code, stdout and stderr.
func run(t *testing.T, a *app, args ...string) (int, string, string) {
	t.Helper()
	if a.newKube == nil {
		a.newKube = kube.NewClient
	}
	if a.newTelemetry == nil {
		a.newTelemetry = telemetry.Setup
	}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := execute(ctx, command(a), args, &out, &errb)
	return code, out.String(), errb.String()
}

func kubeNode(name, kernel, kubelet string, labels map[string]string, addrs ...corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{Addresses: addrs,
			NodeInfo: corev1.NodeSystemInfo{KernelVersion: kernel, KubeletVersion: kubelet, Architecture: "amd64"}},
	}
}

func TestInventoryFromKube(t *testing.T) {
	isolate(t)
	const el7 = "3.10.0-1160.el7.x86_64"
	ip := func(t corev1.NodeAddressType, a string) corev1.NodeAddress {
		return corev1.NodeAddress{Type: t, Address: a}
	}
	cs := fake.NewClientset(
		kubeNode("w-1", el7, "v1.12.10", map[string]string{"role": "worker", "zone": "a"}, ip(corev1.NodeHostName, "w-1"), ip(corev1.NodeInternalIP, "10.0.0.1")),
		kubeNode("w-2", el7, "v1.13.12", map[string]string{"role": "worker", "zone": "b"}, ip(corev1.NodeExternalIP, "203.0.113.2")),
		kubeNode("w-3", el7, "v1.20.4", map[string]string{"role": "worker", "zone": "a"}, ip(corev1.NodeInternalIP, "10.0.0.3")),
		kubeNode("w-4", "5.15.0-1019-aws", "v1.27.3", map[string]string{"role": "worker"}, ip(corev1.NodeInternalIP, "10.0.0.4")),
		kubeNode("w-5", el7, "v1.12.10", map[string]string{"role": "worker"}, ip(corev1.NodeHostName, "w-5")),
		kubeNode("cp-1", el7, "v1.12.10", map[string]string{"role": "control-plane"}, ip(corev1.NodeInternalIP, "10.0.1.1")),
	)
	var got kube.ClientOptions
	a := &app{newKube: func(o kube.ClientOptions) (kubernetes.Interface, error) { got = o; return cs, nil }}
	out := filepath.Join(t.TempDir(), "nodes.yaml")
	code, stdout, stderr := run(t, a, "inventory", "from-kube", "--kubeconfig", "/etc/kube/admin.conf", "--context", "prod",
		"--selector", "role=worker", "--address-types", "InternalIP,ExternalIP", "--classes", "maybe-affected,unknown",
		"--label", "zone", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if got.Kubeconfig != "/etc/kube/admin.conf" || got.Context != "prod" {
		t.Errorf("client options %+v, want the flags'", got)
	}
	inv, err := inventory.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]string{}
	for _, n := range inv.Nodes {
		addrs[n.Name] = n.Address
	}
	want := map[string]string{"w-1": "10.0.0.1", "w-2": "203.0.113.2", "w-3": "10.0.0.3"}
	if len(addrs) != len(want) {
		t.Errorf("inventory nodes %v, want %v", addrs, want)
	}
	for n, a := range want {
		if addrs[n] != a {
			t.Errorf("%s: address %q, want %q", n, addrs[n], a)
		}
	}
	if inv.Nodes[0].Labels["zone"] != "a" || inv.Nodes[0].Labels["role"] != "" || inv.Nodes[0].Arch != "amd64" {
		t.Errorf("w-1 labels %v arch %q: want zone copied, role not, amd64", inv.Nodes[0].Labels, inv.Nodes[0].Arch)
	}
	mustContain(t, stdout, "Wrote 3 of 5 node(s) to "+out+" (maybe-affected 3, not-affected 1, unknown 1)",
		"Left out 2 node(s)", "w-4", "not-affected: kernel 5.15.0-1019-aws is not a 3.10 kernel",
		"w-5", "no address of a preferred type")
	if strings.Contains(stdout, "cp-1") {
		t.Error("the selector should have left cp-1 out of the listing")
	}
}

func TestInventoryFromKubeChecksItsFlagsFirst(t *testing.T) {
	isolate(t)
	called := false
	a := &app{newKube: func(kube.ClientOptions) (kubernetes.Interface, error) { called = true; return fake.NewClientset(), nil }}
	code, _, stderr := run(t, a, "inventory", "from-kube", "--classes", "maybe", "--address-types", "PodIP", "--label", "zone=a", "-o", "nodes.txt")
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	mustContain(t, stderr, `--classes: "maybe" is not a class`, `--address-types: kube: address type "PodIP"`,
		`--label: "zone=a" is not a label key`, `unknown extension ".txt"`)
	if called {
		t.Error("the cluster was contacted despite bad flags")
	}
	code, _, stderr = run(t, a, "inventory", "from-kube")
	if code != ExitUsage || !strings.Contains(stderr, "-o FILE") {
		t.Errorf("without -o: exit %d, stderr %q", code, stderr)
	}
}
