// Package config is kmemfix's configuration: one YAML file, environment
// variables (prefix KMEMFIX_, nested keys joined with "_", e.g.
// KMEMFIX_TEMPORAL_ADDRESS) and command-line flags, in the precedence
// flags > environment > file > defaults.
//
// Load decodes and validates in one go; a *ValidationError lists every
// problem at once, each naming the key and the fix. Secrets (the Temporal API
// key, the SSH key passphrase) are of type Secret, which prints, logs and
// marshals as a mask: only Reveal returns the value, so a secret cannot reach
// a log line or a workflow input by accident.
package config

import "time"

// Config is the whole configuration of the worker and the CLI.
type Config struct {
	Temporal   Temporal   `mapstructure:"temporal" yaml:"temporal"`
	SSH        SSH        `mapstructure:"ssh" yaml:"ssh"`
	Node       Node       `mapstructure:"node" yaml:"node"`
	Rollout    Rollout    `mapstructure:"rollout" yaml:"rollout"`
	Worker     Worker     `mapstructure:"worker" yaml:"worker"`
	Kubernetes Kubernetes `mapstructure:"kubernetes" yaml:"kubernetes"`
	Telemetry  Telemetry  `mapstructure:"telemetry" yaml:"telemetry"`
}

// Temporal says how to reach the Temporal cluster.
type Temporal struct {
	// Address is the frontend's host:port.
	Address string `mapstructure:"address" yaml:"address"`
	// Namespace holds the rollouts and node workflows.
	Namespace string `mapstructure:"namespace" yaml:"namespace"`
	// TaskQueue is where the worker polls and the CLI starts workflows.
	TaskQueue string `mapstructure:"taskQueue" yaml:"taskQueue"`
	// UIAddress is the base URL of the Temporal Web UI, used to print links.
	UIAddress string `mapstructure:"uiAddress" yaml:"uiAddress"`
	// TLS enables TLS (and mTLS with a client certificate).
	TLS TLS `mapstructure:"tls" yaml:"tls"`
	// APIKey authenticates to Temporal Cloud or a cluster that takes API
	// keys. Prefer KMEMFIX_TEMPORAL_APIKEY or APIKeyFile to the file.
	APIKey Secret `mapstructure:"apiKey" yaml:"apiKey"`
	// APIKeyFile holds the API key (one line); read at load.
	APIKeyFile string `mapstructure:"apiKeyFile" yaml:"apiKeyFile"`
}

// TLS is the client side of a TLS connection to Temporal.
type TLS struct {
	// Enabled turns TLS on; it is implied by any file below.
	Enabled bool `mapstructure:"enabled" yaml:"enabled"`
	// CAFile verifies the server; "" means the system roots.
	CAFile string `mapstructure:"caFile" yaml:"caFile"`
	// CertFile and KeyFile are the client certificate for mTLS.
	CertFile string `mapstructure:"certFile" yaml:"certFile"`
	KeyFile  string `mapstructure:"keyFile" yaml:"keyFile"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `mapstructure:"serverName" yaml:"serverName"`
}

// On reports whether TLS is in use.
func (t TLS) On() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != ""
}

// SSH configures how the worker reaches nodes.
type SSH struct {
	User string `mapstructure:"user" yaml:"user"`
	Port int    `mapstructure:"port" yaml:"port"`
	// KeyFiles are private keys offered in order.
	KeyFiles []string `mapstructure:"keyFiles" yaml:"keyFiles"`
	// KeyPassphraseFile holds the passphrase of encrypted key files.
	KeyPassphraseFile string `mapstructure:"keyPassphraseFile" yaml:"keyPassphraseFile"`
	// KeyPassphrase is the passphrase itself; set it through
	// KMEMFIX_SSH_KEYPASSPHRASE, not in the file.
	KeyPassphrase Secret `mapstructure:"keyPassphrase" yaml:"keyPassphrase"`
	// Agent offers the keys of the ssh-agent at $SSH_AUTH_SOCK.
	Agent bool `mapstructure:"agent" yaml:"agent"`
	// KnownHosts are OpenSSH known_hosts files.
	KnownHosts []string `mapstructure:"knownHosts" yaml:"knownHosts"`
	// InsecureIgnoreHostKey accepts any host key: labs only, logged loudly.
	InsecureIgnoreHostKey bool `mapstructure:"insecureIgnoreHostKey" yaml:"insecureIgnoreHostKey"`
	// JumpHost is a bastion, [user@]host[:port]; "" connects directly.
	JumpHost string `mapstructure:"jumpHost" yaml:"jumpHost"`
	// Sudo runs the node helper through `sudo -n` when User is not root.
	Sudo bool `mapstructure:"sudo" yaml:"sudo"`
	// MaxConns caps open node connections per worker.
	MaxConns int `mapstructure:"maxConns" yaml:"maxConns"`
	// HandshakesPerSecond limits new SSH handshakes per worker.
	HandshakesPerSecond float64 `mapstructure:"handshakesPerSecond" yaml:"handshakesPerSecond"`
	// DialTimeout bounds connect + handshake.
	DialTimeout time.Duration `mapstructure:"dialTimeout" yaml:"dialTimeout"`
	// CommandTimeout bounds one helper command.
	CommandTimeout time.Duration `mapstructure:"commandTimeout" yaml:"commandTimeout"`
}

// Node describes the node side: where things are and what to run.
type Node struct {
	// CgroupRoot is the cgroup v1 memory hierarchy's mount point.
	CgroupRoot string `mapstructure:"cgroupRoot" yaml:"cgroupRoot"`
	// Kubepods is the kubelet's top cgroup; Mirror the temporary twin.
	Kubepods string `mapstructure:"kubepods" yaml:"kubepods"`
	Mirror   string `mapstructure:"mirror" yaml:"mirror"`
	// KubeletUnit is the systemd unit; KubeletBinary its executable.
	KubeletUnit   string `mapstructure:"kubeletUnit" yaml:"kubeletUnit"`
	KubeletBinary string `mapstructure:"kubeletBinary" yaml:"kubeletBinary"`
	// ReplacementKubelet is the kubelet built without kmem accounting.
	ReplacementKubelet Artifact `mapstructure:"replacementKubelet" yaml:"replacementKubelet"`
	// CadvisorCommands run after kubelet is back (argv lists, no shell).
	CadvisorCommands [][]string `mapstructure:"cadvisorCommands" yaml:"cadvisorCommands"`
	// HelperDir is where the node helper is installed on the node.
	HelperDir string `mapstructure:"helperDir" yaml:"helperDir"`
	// JournalDir keeps the snapshots and journals on the node.
	JournalDir string `mapstructure:"journalDir" yaml:"journalDir"`
	// HeadroomMargin is added to the css ids the procedure needs.
	HeadroomMargin int `mapstructure:"headroomMargin" yaml:"headroomMargin"`
	// UnknownHeadroom decides for nodes whose css id count cannot be read
	// (no systemtap): "skip" leaves them alone and says why, "proceed"
	// remediates them anyway, "reboot" puts them on the reboot list.
	// "refuse" and "allow" are accepted for skip and proceed.
	UnknownHeadroom string `mapstructure:"unknownHeadroom" yaml:"unknownHeadroom"`
}

// HeadroomPolicy is UnknownHeadroom spelled skip, proceed or reboot; "" if
// it is none of the accepted words.
func (n Node) HeadroomPolicy() string {
	switch n.UnknownHeadroom {
	case "skip", "refuse":
		return "skip"
	case "proceed", "allow":
		return "proceed"
	case "reboot":
		return "reboot"
	}
	return ""
}

// Artifact is a local file shipped to nodes, checked by sha256.
type Artifact struct {
	Path   string `mapstructure:"path" yaml:"path"`
	SHA256 string `mapstructure:"sha256" yaml:"sha256"`
}

// Rollout holds the defaults of a fleet rollout; a rollout spec file or the
// `rollout start` flags override them.
type Rollout struct {
	// Waves are cumulative: each entry is how much of the fleet is done
	// once that wave ends, a node count ("10") or a share ("25%"); the
	// last must be "100%". See ResolveWaves.
	Waves []string `mapstructure:"waves" yaml:"waves"`
	// Concurrency is the number of nodes remediated at once in a wave.
	Concurrency int `mapstructure:"concurrency" yaml:"concurrency"`
	// FailureBudget pauses the rollout when a wave has more failed nodes
	// than this: a count ("3") or a share of the wave ("2%", rounded down).
	FailureBudget string `mapstructure:"failureBudget" yaml:"failureBudget"`
	// CountUnreachable counts unreachable nodes against the budget.
	CountUnreachable bool `mapstructure:"countUnreachable" yaml:"countUnreachable"`
	// Soak is the wait after each wave before the health gate.
	Soak time.Duration `mapstructure:"soak" yaml:"soak"`
	// KubeletDownBudget is the longest kubelet may stay stopped on a node
	// before that node is rolled back.
	KubeletDownBudget time.Duration `mapstructure:"kubeletDownBudget" yaml:"kubeletDownBudget"`
	// HealthGate is checked after each wave's soak.
	HealthGate HealthGate `mapstructure:"healthGate" yaml:"healthGate"`
	// MaintenanceWindow limits when waves may start; empty means any time.
	MaintenanceWindow MaintenanceWindow `mapstructure:"maintenanceWindow" yaml:"maintenanceWindow"`
	// Cordon makes each node unschedulable from before its kubelet stops
	// until it is back, and restores it after (a node someone else had
	// cordoned stays cordoned). The worker needs Kubernetes access: see
	// the kubernetes section.
	Cordon bool `mapstructure:"cordon" yaml:"cordon"`
}

// Health gate types.
const (
	GateNone       = "none"
	GateHTTP       = "http"
	GateCommand    = "command"
	GatePrometheus = "prometheus"
)

// HealthGate is a fleet-level check after each wave's soak. A failing
// gate pauses the rollout.
type HealthGate struct {
	// Type is none; http (URL answers 2xx); command (Argv exits 0 on a
	// Sample of the wave's nodes, run by the node helper, no shell); or
	// prometheus (Query, an alert expression, returns no series at URL).
	Type   string   `mapstructure:"type" yaml:"type"`
	URL    string   `mapstructure:"url" yaml:"url"`
	Query  string   `mapstructure:"query" yaml:"query"`
	Argv   []string `mapstructure:"argv" yaml:"argv"`
	Sample int      `mapstructure:"sample" yaml:"sample"`
	// Timeout bounds one HTTP or Prometheus request of the worker.
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout"`
}

// MaintenanceWindow is a daily window in UTC when waves may start nodes,
// e.g. 22:00-04:00. Nodes already running when it closes finish.
type MaintenanceWindow struct {
	// Start and End are HH:MM UTC; End before Start spans midnight.
	Start string `mapstructure:"start" yaml:"start"`
	End   string `mapstructure:"end" yaml:"end"`
	// Days are the days the window opens, mon..sun; empty means every day.
	Days []string `mapstructure:"days" yaml:"days"`
}

// Set reports whether a window is configured.
func (m MaintenanceWindow) Set() bool { return m.Start != "" || m.End != "" }

// Worker tunes the worker process.
type Worker struct {
	// MaxConcurrentActivities caps activities running in this worker.
	MaxConcurrentActivities int `mapstructure:"maxConcurrentActivities" yaml:"maxConcurrentActivities"`
	// ActivitiesPerSecond is the task queue's rate across all workers
	// (server-side, protects bastions); 0 means unlimited.
	ActivitiesPerSecond float64 `mapstructure:"activitiesPerSecond" yaml:"activitiesPerSecond"`
	// MetricsAddress serves /healthz and /metrics, host:port; "" disables.
	MetricsAddress string `mapstructure:"metricsAddress" yaml:"metricsAddress"`
	// HelperBinDir holds the node helper builds the worker installs on
	// nodes (kmemfix-node-amd64, kmemfix-node-arm64); "" means the folder
	// of the worker's own executable.
	HelperBinDir string `mapstructure:"helperBinDir" yaml:"helperBinDir"`
	// StopTimeout is how long running activities may finish after SIGTERM
	// before they are cancelled (the node helper is then interrupted and
	// the step retried elsewhere).
	StopTimeout time.Duration `mapstructure:"stopTimeout" yaml:"stopTimeout"`
}

// Kubernetes says how the worker reaches the Kubernetes API to cordon
// and uncordon nodes (rollout.cordon).
type Kubernetes struct {
	// Kubeconfig is a kubeconfig file; "" means the pod's service account
	// when the worker runs in the cluster, else no Kubernetes access.
	Kubeconfig string `mapstructure:"kubeconfig" yaml:"kubeconfig"`
	// Context selects a context of Kubeconfig; "" is its current context.
	Context string `mapstructure:"context" yaml:"context"`
}

// InClusterEnv is set in every pod; the worker then reaches the API with
// its service account.
const InClusterEnv = "KUBERNETES_SERVICE_HOST"

// Log formats and levels.
const (
	LogJSON = "json"
	LogText = "text"
)

// Telemetry configures logs and traces.
type Telemetry struct {
	// OTLPEndpoint receives traces: host:port for OTLP over gRPC,
	// http(s)://host:port for OTLP over HTTP; "" exports none.
	OTLPEndpoint string `mapstructure:"otlpEndpoint" yaml:"otlpEndpoint"`
	// OTLPInsecure sends gRPC OTLP without TLS (a collector on localhost).
	OTLPInsecure bool   `mapstructure:"otlpInsecure" yaml:"otlpInsecure"`
	ServiceName  string `mapstructure:"serviceName" yaml:"serviceName"`
	LogFormat    string `mapstructure:"logFormat" yaml:"logFormat"`
	LogLevel     string `mapstructure:"logLevel" yaml:"logLevel"`
}
