package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// isolate gives the test a HOME of its own and no KMEMFIX_ variables from
// the environment the tests run in.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(InClusterEnv, "") // as outside a cluster, wherever the tests run
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, EnvPrefix) {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	return home
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kmemfix.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExampleFileValidatesAndDocumentsTheDefaults(t *testing.T) {
	isolate(t)
	got, err := Load("../kmemfix.example.yaml", nil)
	if err != nil {
		t.Fatalf("the example file does not validate:\n%v", err)
	}
	want := Default()
	want.expandHome()
	if !reflect.DeepEqual(*got, want) {
		g, _ := got.YAML()
		w, _ := want.YAML()
		t.Errorf("kmemfix.example.yaml and Default() disagree; example:\n%s\ndefaults:\n%s", g, w)
	}
}

func TestNoFileGivesTheDefaults(t *testing.T) {
	isolate(t)
	got, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Temporal.Address != "127.0.0.1:7233" || got.Rollout.Soak != 5*time.Minute {
		t.Errorf("defaults not applied: %+v", got.Temporal)
	}
}

func TestPrecedenceFlagsOverEnvOverFileOverDefaults(t *testing.T) {
	const file = "temporal:\n  address: file:7233\n  namespace: file-ns\nssh:\n  maxConns: 11\n"
	cases := []struct {
		name       string
		env        map[string]string
		flags      []string
		wantAddr   string
		wantNS     string
		wantQueue  string
		wantConns  int
		wantWaves  []string
		wantCadvis [][]string
	}{
		{name: "file over defaults", wantAddr: "file:7233", wantNS: "file-ns", wantQueue: "kmemfix", wantConns: 11},
		{name: "env over file",
			env:      map[string]string{"KMEMFIX_TEMPORAL_ADDRESS": "env:7233", "KMEMFIX_SSH_MAX_CONNS": "22"},
			wantAddr: "env:7233", wantNS: "file-ns", wantQueue: "kmemfix", wantConns: 22},
		{name: "env over defaults, flat and snake names",
			env: map[string]string{"KMEMFIX_TEMPORAL_TASKQUEUE": "q-env", "KMEMFIX_ROLLOUT_WAVES": "1, 50%,100%",
				"KMEMFIX_NODE_CADVISORCOMMANDS": "[[systemctl, restart, cadvisor]]"},
			wantAddr: "file:7233", wantNS: "file-ns", wantQueue: "q-env", wantConns: 11,
			wantWaves: []string{"1", "50%", "100%"}, wantCadvis: [][]string{{"systemctl", "restart", "cadvisor"}}},
		{name: "flag over env",
			env:      map[string]string{"KMEMFIX_TEMPORAL_ADDRESS": "env:7233", "KMEMFIX_TEMPORAL_NAMESPACE": "env-ns"},
			flags:    []string{"--temporal-address", "flag:7233"},
			wantAddr: "flag:7233", wantNS: "env-ns", wantQueue: "kmemfix", wantConns: 11},
		{name: "unset flag leaves env and file",
			env:      map[string]string{"KMEMFIX_TEMPORAL_NAMESPACE": "env-ns"},
			flags:    []string{"--telemetry-log-level", "debug"},
			wantAddr: "file:7233", wantNS: "env-ns", wantQueue: "kmemfix", wantConns: 11},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			RegisterFlags(fs)
			if err := fs.Parse(tc.flags); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(writeFile(t, file), fs)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Temporal.Address != tc.wantAddr || cfg.Temporal.Namespace != tc.wantNS ||
				cfg.Temporal.TaskQueue != tc.wantQueue || cfg.SSH.MaxConns != tc.wantConns {
				t.Errorf("got address=%q namespace=%q taskQueue=%q maxConns=%d, want %q %q %q %d",
					cfg.Temporal.Address, cfg.Temporal.Namespace, cfg.Temporal.TaskQueue, cfg.SSH.MaxConns,
					tc.wantAddr, tc.wantNS, tc.wantQueue, tc.wantConns)
			}
			if tc.wantWaves != nil && !reflect.DeepEqual(cfg.Rollout.Waves, tc.wantWaves) {
				t.Errorf("waves = %q, want %q", cfg.Rollout.Waves, tc.wantWaves)
			}
			if tc.wantCadvis != nil && !reflect.DeepEqual(cfg.Node.CadvisorCommands, tc.wantCadvis) {
				t.Errorf("cadvisorCommands = %q, want %q", cfg.Node.CadvisorCommands, tc.wantCadvis)
			}
		})
	}
}

func TestConfigFileFromEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv(PathEnv, writeFile(t, "temporal:\n  namespace: from-env-path\n"))
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Temporal.Namespace != "from-env-path" {
		t.Errorf("namespace = %q: $%s was not read", cfg.Temporal.Namespace, PathEnv)
	}
}

// TestValidationMessages compares the full error of each invalid file in
// testdata with its golden file (go test ./config -update rewrites them).
func TestValidationMessages(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/invalid-*.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			isolate(t)
			_, err := Load(f, nil)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Load(%s) = %v, want a *ValidationError", f, err)
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", err.Error()+"\n")
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	isolate(t)
	_, err := Load("testdata/invalid-values.yaml", nil)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, p := range ve.Problems {
		keys[p.Key] = true
		if p.Fix == "" {
			t.Errorf("%s: no fix given", p)
		}
	}
	for _, k := range []string{"ssh.port", "ssh.user", "node.cgroupRoot", "rollout.concurrency",
		"rollout.maintenanceWindow.days[1]", "telemetry.logLevel",
		"worker.metricsAddress", "rollout.healthGate.query"} {
		if !keys[k] {
			t.Errorf("no problem reported for %s", k)
		}
	}
}

func TestUnknownKeysAreRejectedWithASuggestion(t *testing.T) {
	isolate(t)
	_, err := Load(writeFile(t, "ssh:\n  maxconn: 3\n  bogusbogusbogus: 1\n"), nil)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	if got := ve.Problems[0].String(); got != "line 2: ssh.maxconn: is not a known setting; did you mean ssh.maxConns?" {
		t.Errorf("first problem = %q", got)
	}
	if got := ve.Problems[1].Fix; got != "remove it" {
		t.Errorf("a key far from every setting should not get a suggestion, got fix %q", got)
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	isolate(t)
	const key, pass = "tmprl-super-secret-key", "ssh-pass-phrase-42"
	t.Setenv("KMEMFIX_TEMPORAL_APIKEY", key)
	t.Setenv("KMEMFIX_SSH_KEYPASSPHRASE", pass)
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Temporal.APIKey.Reveal() != key || cfg.SSH.KeyPassphrase.Reveal() != pass {
		t.Fatal("secrets from the environment were not loaded")
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "config", cfg, "key", cfg.Temporal.APIKey)
	js, _ := json.Marshal(cfg)
	y, _ := cfg.YAML()
	masked := cfg.Masked()
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", *cfg), "%#v": fmt.Sprintf("%#v", *cfg),
		"%s":   fmt.Sprintf("%s", cfg.Temporal.APIKey), //nolint:staticcheck // the %s verb is what is tested
		"slog": logs.String(), "json": string(js), "yaml": string(y),
		"Masked().Reveal": masked.Temporal.APIKey.Reveal() + masked.SSH.KeyPassphrase.Reveal(),
	}
	for how, out := range outputs {
		if strings.Contains(out, key) || strings.Contains(out, pass) {
			t.Errorf("%s shows a secret: %s", how, out)
		}
	}
	if !strings.Contains(string(y), "apiKey: '"+Mask+"'") && !strings.Contains(string(y), "apiKey: "+Mask) {
		t.Errorf("YAML should show the key as set but masked:\n%s", y)
	}
}

func TestYAMLLoadsBackToTheSameConfig(t *testing.T) {
	isolate(t)
	cfg := Default()
	cfg.expandHome()
	cfg.Rollout.Waves = []string{"2", "50%", "100%"}
	cfg.Rollout.Soak = 90 * time.Second
	cfg.Node.CadvisorCommands = [][]string{{"systemctl", "restart", "cadvisor"}, {"/bin/true"}}
	cfg.Rollout.MaintenanceWindow = MaintenanceWindow{Start: "22:00", End: "04:00", Days: []string{"mon"}}
	cfg.SSH.HandshakesPerSecond = 12.5
	y, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(writeFile(t, string(y)), nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if !reflect.DeepEqual(*got, cfg) {
		t.Errorf("round trip changed the config:\n%s", y)
	}
}

func TestFlagNamesAndEnvNames(t *testing.T) {
	cases := map[string][2]string{
		"temporal.address":               {"temporal-address", "KMEMFIX_TEMPORAL_ADDRESS"},
		"temporal.taskQueue":             {"temporal-task-queue", "KMEMFIX_TEMPORAL_TASKQUEUE"},
		"node.replacementKubelet.sha256": {"node-replacement-kubelet-sha256", "KMEMFIX_NODE_REPLACEMENTKUBELET_SHA256"},
		"telemetry.otlpEndpoint":         {"telemetry-otlp-endpoint", "KMEMFIX_TELEMETRY_OTLPENDPOINT"},
	}
	for key, want := range cases {
		if got := FlagName(key); got != want[0] {
			t.Errorf("FlagName(%q) = %q, want %q", key, got, want[0])
		}
		if got := EnvNames(key)[0]; got != want[1] {
			t.Errorf("EnvNames(%q)[0] = %q, want %q", key, got, want[1])
		}
	}
}

func TestResolveWaves(t *testing.T) {
	cases := []struct {
		specs []string
		n     int
		want  []int
		err   string
	}{
		{[]string{"1", "5%", "25%", "100%"}, 1000, []int{1, 49, 200, 750}, ""},
		{[]string{"1", "5%", "25%", "100%"}, 10, []int{1, 2, 7}, ""}, // 5% of 10 rounds up to 1: dropped
		{[]string{"100%"}, 3, []int{3}, ""},
		{[]string{"50", "100%"}, 10, []int{10}, ""},
		{[]string{"5", "10%", "100%"}, 20, nil, "fewer than the 5 already covered"},
		{[]string{"10%", "5%"}, 10, nil, "each must reach further"},
	}
	for _, tc := range cases {
		got, err := ResolveWaves(tc.specs, tc.n)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ResolveWaves(%q, %d) error = %v, want %q", tc.specs, tc.n, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ResolveWaves(%q, %d) = %v, %v; want %v", tc.specs, tc.n, got, err, tc.want)
		}
	}
}

func TestCheckFilesNamesEveryMissingFile(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	present := filepath.Join(dir, "id_ed25519")
	os.WriteFile(present, []byte("key"), 0o600)
	cfg := Default()
	cfg.SSH.KeyFiles = []string{present, filepath.Join(dir, "missing_key")}
	cfg.SSH.KnownHosts = []string{filepath.Join(dir, "known_hosts")}
	err := cfg.CheckFiles()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	if ve.Problems[0].Key != "ssh.keyFiles[1]" || ve.Problems[1].Key != "ssh.knownHosts[0]" {
		t.Errorf("problems = %v", ve.Problems)
	}
}

func TestSecretFromFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "apikey")
	os.WriteFile(p, []byte("abc123\n"), 0o600)
	got, err := Temporal{APIKeyFile: p}.ResolveAPIKey()
	if err != nil || got.Reveal() != "abc123" {
		t.Errorf("ResolveAPIKey = %q, %v", got.Reveal(), err)
	}
}

// TestCordonNeedsKubernetesAccess: rollout.cordon passes with a kubeconfig
// or inside a cluster, and a kubeconfig that is not there is named by
// CheckFiles.
func TestCordonNeedsKubernetesAccess(t *testing.T) {
	isolate(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cases := []struct {
		name, file, inCluster, wantKey string
	}{
		{name: "nothing", file: "rollout:\n  cordon: true\n", wantKey: "rollout.cordon"},
		{name: "in cluster", file: "rollout:\n  cordon: true\n", inCluster: "10.96.0.1"},
		{name: "kubeconfig", file: "rollout:\n  cordon: true\nkubernetes:\n  kubeconfig: " + kubeconfig + "\n"},
		{name: "off", file: "rollout:\n  cordon: false\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(InClusterEnv, tc.inCluster)
			_, err := Load(writeFile(t, tc.file), nil)
			var ve *ValidationError
			switch {
			case tc.wantKey == "" && err != nil:
				t.Errorf("want no problem, got %v", err)
			case tc.wantKey != "" && (!errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Key != tc.wantKey):
				t.Errorf("want one problem for %s, got %v", tc.wantKey, err)
			case tc.wantKey != "" && !strings.Contains(err.Error(), "kubernetes.kubeconfig"):
				t.Errorf("the problem should say to set kubernetes.kubeconfig: %v", err)
			}
		})
	}
	cfg := Default()
	cfg.SSH.KnownHosts, cfg.Kubernetes.Kubeconfig = nil, kubeconfig
	var ve *ValidationError
	if err := cfg.CheckFiles(); !errors.As(err, &ve) || ve.Problems[0].Key != "kubernetes.kubeconfig" {
		t.Errorf("a missing kubeconfig: CheckFiles = %v", err)
	}
}
