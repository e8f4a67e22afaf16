package deploy

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	serjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/kmemfix/kmemfix/config"
)

const manifestDir = "kubernetes"

// manifests decodes every object of deploy/kubernetes/*.yaml (but the
// kustomization) with client-go's scheme: a misspelt field or kind fails.
func manifests(t *testing.T) map[string]runtime.Object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", manifestDir, err)
	}
	// Strict: an unknown or duplicate field is an error, not silently dropped.
	decoder := serjson.NewSerializerWithOptions(serjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
		serjson.SerializerOptions{Yaml: true, Strict: true})
	out := map[string]runtime.Object{}
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(f))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if strings.TrimSpace(string(doc)) == "" {
				continue
			}
			obj, gvk, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			key := gvk.Kind + "/" + name(obj)
			if _, dup := out[key]; dup {
				t.Fatalf("%s defined twice", key)
			}
			out[key] = obj
		}
		f.Close()
	}
	return out
}

func name(obj runtime.Object) string {
	if o, ok := obj.(interface{ GetName() string }); ok {
		return o.GetName()
	}
	return ""
}

func get[T runtime.Object](t *testing.T, objs map[string]runtime.Object, key string) T {
	t.Helper()
	obj, ok := objs[key].(T)
	if !ok {
		t.Fatalf("no %s in %s (have %v)", key, manifestDir, slices.Sorted(mapKeys(objs)))
	}
	return obj
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestManifestKinds(t *testing.T) {
	got := slices.Sorted(mapKeys(manifests(t)))
	want := []string{
		"ClusterRole/kmemfix-worker", "ClusterRoleBinding/kmemfix-worker", "ConfigMap/kmemfix-config",
		"Deployment/kmemfix-worker", "Namespace/kmemfix", "PodDisruptionBudget/kmemfix-worker",
		"Secret/kmemfix-ssh", "Service/kmemfix-worker-metrics", "ServiceAccount/kmemfix-worker",
	}
	if !slices.Equal(got, want) {
		t.Errorf("objects = %v\nwant %v", got, want)
	}
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(manifestDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Namespace string   `json:"namespace"`
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	if got := slices.Sorted(slices.Values(k.Resources)); !slices.Equal(got, want) {
		t.Errorf("kustomization resources = %v, want %v", got, want)
	}
	if k.Namespace != "kmemfix" {
		t.Errorf("kustomization namespace = %q", k.Namespace)
	}
}

func TestDeploymentIsHardenedAndSized(t *testing.T) {
	objs := manifests(t)
	d := get[*appsv1.Deployment](t, objs, "Deployment/kmemfix-worker")
	pod := d.Spec.Template.Spec
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas = %v, want at least 2 (the PDB keeps one)", d.Spec.Replicas)
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v does not force a non-root user", psc)
	}
	if psc != nil && (psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
		t.Error("pod has no RuntimeDefault seccomp profile")
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: root filesystem is writable", c.Name)
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: privilege escalation allowed", c.Name)
		}
		if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("container %s: capabilities not dropped", c.Name)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
			if req.IsZero() || lim.IsZero() {
				t.Errorf("container %s: %s request %v limit %v, want both", c.Name, r, req.String(), lim.String())
			} else if req.Cmp(lim) > 0 {
				t.Errorf("container %s: %s request %v above limit %v", c.Name, r, req.String(), lim.String())
			}
		}
	}
	if pod.TerminationGracePeriodSeconds == nil ||
		time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= configMapConfig(t, objs).Worker.StopTimeout {
		t.Errorf("terminationGracePeriodSeconds %v is not longer than worker.stopTimeout", pod.TerminationGracePeriodSeconds)
	}
}

func workerContainer(t *testing.T, d *appsv1.Deployment) corev1.Container {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "worker" {
			return c
		}
	}
	t.Fatal("no container named worker")
	return corev1.Container{}
}

func TestDeploymentMountsSecretAndConfigReadOnly(t *testing.T) {
	objs := manifests(t)
	d := get[*appsv1.Deployment](t, objs, "Deployment/kmemfix-worker")
	secret := get[*corev1.Secret](t, objs, "Secret/kmemfix-ssh")
	cm := get[*corev1.ConfigMap](t, objs, "ConfigMap/kmemfix-config")
	cfg := configMapConfig(t, objs)
	volumes := map[string]corev1.Volume{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	c := workerContainer(t, d)
	mounted := func(path string) (corev1.VolumeMount, corev1.Volume) {
		for _, m := range c.VolumeMounts {
			if m.MountPath == path || strings.HasPrefix(path, m.MountPath+"/") {
				return m, volumes[m.Name]
			}
		}
		t.Fatalf("nothing is mounted at %s", path)
		return corev1.VolumeMount{}, corev1.Volume{}
	}
	// The SSH key and known_hosts the config names come from the secret, read-only.
	for _, file := range append(slices.Clone(cfg.SSH.KeyFiles), cfg.SSH.KnownHosts...) {
		m, v := mounted(file)
		if !m.ReadOnly || v.Secret == nil || v.Secret.SecretName != secret.Name {
			t.Errorf("%s: mount %+v volume %+v, want secret %s read-only", file, m, v.VolumeSource, secret.Name)
			continue
		}
		if _, ok := secret.StringData[filepath.Base(file)]; !ok {
			t.Errorf("secret %s has no key %s", secret.Name, filepath.Base(file))
		}
		if mode := v.Secret.DefaultMode; mode == nil || *mode&0o007 != 0 {
			t.Errorf("secret volume mode %v is readable by others", mode)
		}
	}
	// The config file the container is told to read is the ConfigMap's.
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("worker args %v name no --config", c.Args)
	}
	m, v := mounted(c.Args[i+1])
	if !m.ReadOnly || v.ConfigMap == nil || v.ConfigMap.Name != cm.Name || m.SubPath != filepath.Base(c.Args[i+1]) {
		t.Errorf("config mount %+v volume %+v, want ConfigMap %s key %s", m, v.VolumeSource, cm.Name, filepath.Base(c.Args[i+1]))
	}
	// The replacement kubelet path the config names is a mounted volume.
	if p := cfg.Node.ReplacementKubelet.Path; p != "" {
		mounted(p)
	}
}

func TestMetricsPortProbesServiceAndPDB(t *testing.T) {
	objs := manifests(t)
	d := get[*appsv1.Deployment](t, objs, "Deployment/kmemfix-worker")
	svc := get[*corev1.Service](t, objs, "Service/kmemfix-worker-metrics")
	pdb := get[*policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget/kmemfix-worker")
	c := workerContainer(t, d)
	cfg := configMapConfig(t, objs)
	var port *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "metrics" {
			port = &c.Ports[i]
		}
	}
	if port == nil || !strings.HasSuffix(cfg.Worker.MetricsAddress, ":"+strconv.Itoa(int(port.ContainerPort))) {
		t.Fatalf("metrics port %+v does not match worker.metricsAddress %q", port, cfg.Worker.MetricsAddress)
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port != intstr.FromString("metrics") {
			t.Errorf("%s probe = %+v, want GET /healthz on the metrics port", name, p)
		}
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("service selector %v does not select the worker pods %v", svc.Spec.Selector, podLabels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != intstr.FromString("metrics") {
		t.Errorf("service ports = %+v, want the metrics port", svc.Spec.Ports)
	}
	if svc.Annotations["prometheus.io/scrape"] != "true" || svc.Annotations["prometheus.io/path"] != "/metrics" {
		t.Errorf("service annotations %v do not ask Prometheus to scrape /metrics", svc.Annotations)
	}
	sel := pdb.Spec.Selector
	if sel == nil || !labels.SelectorFromSet(sel.MatchLabels).Matches(podLabels) {
		t.Errorf("PDB selector %v does not select the worker pods", sel)
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 || int32(pdb.Spec.MinAvailable.IntValue()) >= *d.Spec.Replicas {
		t.Errorf("PDB minAvailable %v with %d replicas: want at least 1 and fewer than the replicas (else drains block)", pdb.Spec.MinAvailable, *d.Spec.Replicas)
	}
}

// The worker may read and cordon nodes, nothing more.
func TestRBACAllowsCordonOnly(t *testing.T) {
	objs := manifests(t)
	role := get[*rbacv1.ClusterRole](t, objs, "ClusterRole/kmemfix-worker")
	binding := get[*rbacv1.ClusterRoleBinding](t, objs, "ClusterRoleBinding/kmemfix-worker")
	sa := get[*corev1.ServiceAccount](t, objs, "ServiceAccount/kmemfix-worker")
	d := get[*appsv1.Deployment](t, objs, "Deployment/kmemfix-worker")
	if d.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("pods run as %q, not %s", d.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 || binding.Subjects[0].Name != sa.Name {
		t.Errorf("binding %+v does not bind %s to %s", binding, role.Name, sa.Name)
	}
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].Resources, []string{"nodes"}) {
		t.Fatalf("rules = %+v, want nodes only", role.Rules)
	}
	for _, verb := range []string{"get", "list", "patch"} {
		if !slices.Contains(role.Rules[0].Verbs, verb) {
			t.Errorf("role lacks %s on nodes", verb)
		}
	}
	for _, verb := range role.Rules[0].Verbs {
		if verb == "delete" || verb == "*" || verb == "create" {
			t.Errorf("role grants %s on nodes", verb)
		}
	}
}

func configMapConfig(t *testing.T, objs map[string]runtime.Object) *config.Config {
	t.Helper()
	cm := get[*corev1.ConfigMap](t, objs, "ConfigMap/kmemfix-config")
	data, ok := cm.Data["kmemfix.yaml"]
	if !ok {
		t.Fatal("ConfigMap has no kmemfix.yaml")
	}
	path := filepath.Join(t.TempDir(), "kmemfix.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return loadConfigFile(t, path)
}
