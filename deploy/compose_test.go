package deploy

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/workflows"
)

// loadCompose loads ../docker-compose.yml with the compose specification's
// own loader (interpolation, schema validation, normalization), in a fixed
// environment so the host's variables do not leak in.
func loadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv([]string{"KMEMFIX_VERSION=test"}),
		cli.WithProfiles(profiles),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func TestComposeServicesAndImages(t *testing.T) {
	p := loadCompose(t)
	if p.Name != "kmemfix" {
		t.Errorf("project name = %q", p.Name)
	}
	want := map[string]string{ // service -> image prefix
		"postgresql":      "postgres:",
		"temporal-schema": "temporalio/admin-tools:",
		"temporal":        "temporalio/server:",
		"temporal-setup":  "temporalio/admin-tools:",
		"temporal-ui":     "temporalio/ui:",
		"kmemfix-worker":  "kmemfix-worker:test",
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range p.Services {
			if !yield(n) {
				return
			}
		}
	})
	wantNames := slices.Sorted(func(yield func(string) bool) {
		for n := range want {
			if !yield(n) {
				return
			}
		}
	})
	if !slices.Equal(names, wantNames) {
		t.Errorf("services = %v, want %v (jaeger only with --profile tracing)", names, wantNames)
	}
	for name, prefix := range want {
		if s, ok := p.Services[name]; ok && !strings.HasPrefix(s.Image, prefix) {
			t.Errorf("%s image = %q, want %s...", name, s.Image, prefix)
		}
	}
	// The Temporal server and its tools are the version this module embeds.
	for _, name := range []string{"temporal", "temporal-schema", "temporal-setup"} {
		if img := p.Services[name].Image; !strings.HasSuffix(img, ":1.32.1") {
			t.Errorf("%s image = %q, want the server's version 1.32.1 (go.temporal.io/server in go.mod)", name, img)
		}
	}
}

func TestComposeStartOrder(t *testing.T) {
	p := loadCompose(t)
	for _, d := range []struct{ service, on, condition string }{
		{"temporal-schema", "postgresql", types.ServiceConditionHealthy},
		{"temporal", "temporal-schema", types.ServiceConditionCompletedSuccessfully},
		{"temporal-setup", "temporal", types.ServiceConditionHealthy},
		{"temporal-ui", "temporal", types.ServiceConditionHealthy},
		{"kmemfix-worker", "temporal-setup", types.ServiceConditionCompletedSuccessfully},
	} {
		dep, ok := p.Services[d.service].DependsOn[d.on]
		if !ok {
			t.Errorf("%s does not depend on %s", d.service, d.on)
			continue
		}
		if dep.Condition != d.condition {
			t.Errorf("%s waits for %s to be %q, want %q", d.service, d.on, dep.Condition, d.condition)
		}
	}
	for _, name := range []string{"postgresql", "temporal"} {
		if p.Services[name].HealthCheck == nil {
			t.Errorf("%s has no healthcheck: services waiting for it would start too early", name)
		}
	}
}

func TestComposeWorkerIsBuiltFromTheRepoDockerfile(t *testing.T) {
	p := loadCompose(t)
	w := p.Services["kmemfix-worker"]
	if w.Build == nil {
		t.Fatal("kmemfix-worker has no build section")
	}
	root, _ := filepath.Abs("..")
	if w.Build.Context != root {
		t.Errorf("build context = %q, want the repository root %q", w.Build.Context, root)
	}
	df := filepath.Join(w.Build.Context, w.Build.Dockerfile)
	if !filepath.IsAbs(w.Build.Dockerfile) {
		df = filepath.Join(root, w.Build.Dockerfile)
	}
	abs, _ := filepath.Abs(dockerfilePath)
	if filepath.Clean(df) != abs {
		t.Errorf("dockerfile = %q, want %q", df, abs)
	}
	stages := parseDockerfile(t, abs)
	if w.Build.Target != stages[len(stages)-1].Name {
		t.Errorf("build target = %q, want the final stage %q", w.Build.Target, stages[len(stages)-1].Name)
	}
	if w.User == "" || strings.HasPrefix(w.User, "0") || strings.HasPrefix(w.User, "root") {
		t.Errorf("worker user = %q, want non-root", w.User)
	}
	if !w.ReadOnly {
		t.Error("worker root filesystem is writable")
	}
	if !slices.Contains(w.CapDrop, "ALL") {
		t.Errorf("worker cap_drop = %v, want ALL", w.CapDrop)
	}
	if got := w.Environment["KMEMFIX_TEMPORAL_ADDRESS"]; got == nil || *got != "temporal:7233" {
		t.Errorf("worker KMEMFIX_TEMPORAL_ADDRESS = %v, want temporal:7233", got)
	}
	mounts := map[string]types.ServiceVolumeConfig{}
	for _, v := range w.Volumes {
		mounts[v.Target] = v
	}
	for _, target := range []string{"/etc/kmemfix/kmemfix.yaml", "/etc/kmemfix/ssh", "/opt/kmemfix/artifacts"} {
		m, ok := mounts[target]
		if !ok {
			t.Errorf("worker mounts nothing at %s", target)
			continue
		}
		if !m.ReadOnly {
			t.Errorf("worker mount %s is writable", target)
		}
		if _, err := os.Stat(m.Source); err != nil {
			t.Errorf("worker mount %s: source %v", target, err)
		}
	}
	if w.StopGracePeriod == nil || *w.StopGracePeriod <= types.Duration(workerStopTimeout(t)) {
		t.Errorf("stop_grace_period %v is not longer than worker.stopTimeout %v", w.StopGracePeriod, workerStopTimeout(t))
	}
}

func TestComposePortsAreLoopbackOnly(t *testing.T) {
	p := loadCompose(t, "tracing")
	want := map[string]uint32{"temporal": 7233, "temporal-ui": 8080, "kmemfix-worker": 9090, "jaeger": 16686}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q, want 127.0.0.1", name, port.Target, port.HostIP)
			}
		}
		if target, ok := want[name]; ok {
			if len(s.Ports) == 0 || s.Ports[0].Target != target {
				t.Errorf("%s ports = %+v, want container port %d", name, s.Ports, target)
			}
		}
	}
	if _, ok := p.Services["jaeger"]; !ok {
		t.Error("--profile tracing does not add jaeger")
	}
	// The worker's metrics port is the one its configuration listens on.
	cfg := loadConfigFile(t, "compose/kmemfix.yaml")
	if !strings.HasSuffix(cfg.Worker.MetricsAddress, ":9090") {
		t.Errorf("compose worker metricsAddress = %q, want :9090", cfg.Worker.MetricsAddress)
	}
}

// The setup job registers exactly the search attributes the workflows use,
// with the same types.
func TestComposeRegistersTheWorkflowsSearchAttributes(t *testing.T) {
	p := loadCompose(t)
	var script string
	for _, v := range p.Services["temporal-setup"].Volumes {
		if strings.HasSuffix(v.Source, ".sh") {
			script = v.Source
		}
	}
	if script == "" {
		t.Fatal("temporal-setup mounts no script")
	}
	f, err := os.Open(script)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]string{}
	call := regexp.MustCompile(`^search_attribute (\S+) (\S+)$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := call.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			got[m[1]] = m[2]
		}
	}
	cliType := map[enumspb.IndexedValueType]string{
		enumspb.INDEXED_VALUE_TYPE_KEYWORD:      "Keyword",
		enumspb.INDEXED_VALUE_TYPE_TEXT:         "Text",
		enumspb.INDEXED_VALUE_TYPE_INT:          "Int",
		enumspb.INDEXED_VALUE_TYPE_DOUBLE:       "Double",
		enumspb.INDEXED_VALUE_TYPE_BOOL:         "Bool",
		enumspb.INDEXED_VALUE_TYPE_DATETIME:     "Datetime",
		enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST: "KeywordList",
	}
	if len(got) != len(workflows.SearchAttributes) {
		t.Errorf("%s registers %d attributes, workflows.SearchAttributes has %d", script, len(got), len(workflows.SearchAttributes))
	}
	for _, sa := range workflows.SearchAttributes {
		if got[sa.Name] != cliType[sa.Type] {
			t.Errorf("%s registers %s as %q, want %q", filepath.Base(script), sa.Name, got[sa.Name], cliType[sa.Type])
		}
	}
}

func loadConfigFile(t *testing.T, path string) *config.Config {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, config.EnvPrefix) {
			t.Setenv(k, "") // the file alone decides
			os.Unsetenv(k)
		}
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatalf("%s does not load as a kmemfix configuration: %v", path, err)
	}
	return cfg
}

func workerStopTimeout(t *testing.T) types.Duration {
	return types.Duration(loadConfigFile(t, "compose/kmemfix.yaml").Worker.StopTimeout)
}
