package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	Key     string // dotted key, e.g. "ssh.port"
	Line    int    // line in the file, 0 when unknown or not from the file
	Message string // what is wrong, read after the key
	Fix     string // what to do about it
}

func (p Problem) String() string {
	s := p.Key + ": " + p.Message
	if p.Fix != "" {
		s += "; " + p.Fix
	}
	if p.Line > 0 {
		s = fmt.Sprintf("line %d: %s", p.Line, s)
	}
	return s
}

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	src := e.File
	if src == "" {
		src = "configuration"
	}
	fmt.Fprintf(&b, "config: %s has %d problem(s):", src, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Validate checks the values (not the files they name: see CheckFiles) and
// returns a *ValidationError listing every problem, or nil.
func (c *Config) Validate() error {
	if ps := c.problems(); len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

// problems runs every check; each appends to the same list.
func (c *Config) problems() []Problem {
	var ps problemList
	c.Temporal.check(&ps)
	c.SSH.check(&ps)
	c.Node.check(&ps)
	c.Rollout.check(&ps)
	c.Worker.check(&ps)
	c.checkKubernetes(&ps)
	c.Telemetry.check(&ps)
	return ps
}

// checkKubernetes: a cordon needs the API, through a kubeconfig or the
// pod's service account (whether the kubeconfig exists is CheckFiles').
func (c *Config) checkKubernetes(ps *problemList) {
	k := c.Kubernetes
	if k.Context != "" && k.Kubeconfig == "" {
		ps.add("kubernetes.context", "set kubernetes.kubeconfig to the file that holds this context, or remove the context", "%q is set without kubernetes.kubeconfig", k.Context)
	}
	if c.Rollout.Cordon && k.Kubeconfig == "" && os.Getenv(InClusterEnv) == "" {
		ps.add("rollout.cordon", "set kubernetes.kubeconfig to a kubeconfig the worker can read, or run the worker in the cluster; on a machine that only runs the CLI, leave rollout.cordon off and pass `kmemfix rollout start --cordon`",
			"is true but the worker has no way to reach the Kubernetes API (kubernetes.kubeconfig is empty and $%s is unset: not in a cluster)", InClusterEnv)
	}
}

type problemList []Problem

func (ps *problemList) add(key, fix, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...), Fix: fix})
}

func (t Temporal) check(ps *problemList) {
	if err := hostPort(t.Address); err != nil {
		ps.add("temporal.address", `set it to the frontend's host:port, e.g. "temporal.example.com:7233"`, "%q %v", t.Address, err)
	}
	if t.Namespace == "" {
		ps.add("temporal.namespace", `set it to the namespace that holds the rollouts, e.g. "default"`, "is empty")
	}
	if t.TaskQueue == "" {
		ps.add("temporal.taskQueue", `set it to the queue the worker polls, e.g. "kmemfix"`, "is empty")
	}
	if t.UIAddress != "" {
		if u, err := url.Parse(t.UIAddress); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add("temporal.uiAddress", `set it to the Web UI's base URL, e.g. "http://127.0.0.1:8233", or leave it empty`, "%q is not an http(s) URL", t.UIAddress)
		}
	}
	if (t.TLS.CertFile == "") != (t.TLS.KeyFile == "") {
		ps.add("temporal.tls", "set both certFile and keyFile for mTLS, or neither", "certFile and keyFile must come together")
	}
	if t.APIKey != "" && t.APIKeyFile != "" {
		ps.add("temporal.apiKey", "keep one of them (prefer apiKeyFile or KMEMFIX_TEMPORAL_APIKEY)", "is set together with temporal.apiKeyFile")
	}
}

func (s SSH) check(ps *problemList) {
	if s.User == "" {
		ps.add("ssh.user", `set the login user on the nodes, e.g. "root"`, "is empty")
	}
	if s.Port < 1 || s.Port > 65535 {
		ps.add("ssh.port", "set a TCP port between 1 and 65535 (usually 22)", "%d is not a TCP port", s.Port)
	}
	if len(s.KeyFiles) == 0 && !s.Agent {
		ps.add("ssh.keyFiles", "list private key files or set ssh.agent: true", "no key files and the agent is off: nothing to authenticate with")
	}
	for i, f := range s.KeyFiles {
		if strings.TrimSpace(f) == "" {
			ps.add(fmt.Sprintf("ssh.keyFiles[%d]", i), "remove the empty entry", "is empty")
		}
	}
	if s.KeyPassphrase != "" && s.KeyPassphraseFile != "" {
		ps.add("ssh.keyPassphrase", "keep one: the file or KMEMFIX_SSH_KEYPASSPHRASE", "is set together with ssh.keyPassphraseFile")
	}
	switch {
	case s.InsecureIgnoreHostKey && len(s.KnownHosts) > 0:
		ps.add("ssh.insecureIgnoreHostKey", "set ssh.knownHosts: [] to really accept any host key (labs only), or turn this off", "is true while ssh.knownHosts is set")
	case !s.InsecureIgnoreHostKey && len(s.KnownHosts) == 0:
		ps.add("ssh.knownHosts", `list known_hosts files, e.g. ["~/.ssh/known_hosts"]`, "is empty: host keys could not be verified")
	}
	if s.JumpHost != "" {
		if _, _, _, err := ParseJumpHost(s.JumpHost); err != nil {
			ps.add("ssh.jumpHost", `write it as [user@]host[:port], e.g. "ops@bastion.example.com:22"`, "%q %v", s.JumpHost, err)
		}
	}
	if s.MaxConns < 1 {
		ps.add("ssh.maxConns", "set at least 1 (default 256)", "%d is below 1", s.MaxConns)
	}
	if s.HandshakesPerSecond <= 0 {
		ps.add("ssh.handshakesPerSecond", "set a positive rate (default 50)", "%v is not positive", s.HandshakesPerSecond)
	}
	positive(ps, "ssh.dialTimeout", s.DialTimeout, "10s")
	positive(ps, "ssh.commandTimeout", s.CommandTimeout, "10m")
}

var sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

func (n Node) check(ps *problemList) {
	absPath(ps, "node.cgroupRoot", n.CgroupRoot, "/sys/fs/cgroup/memory")
	cgroupName(ps, "node.kubepods", n.Kubepods, "kubepods")
	cgroupName(ps, "node.mirror", n.Mirror, "kubepods2")
	if n.Mirror != "" && n.Mirror == n.Kubepods {
		ps.add("node.mirror", `choose a name other than node.kubepods, e.g. "kubepods2"`, "%q is the same as node.kubepods", n.Mirror)
	}
	if n.KubeletUnit == "" {
		ps.add("node.kubeletUnit", `set the systemd unit of kubelet, e.g. "kubelet"`, "is empty")
	}
	absPath(ps, "node.kubeletBinary", n.KubeletBinary, "/usr/bin/kubelet")
	absPath(ps, "node.helperDir", n.HelperDir, "/usr/local/lib/kmemfix")
	absPath(ps, "node.journalDir", n.JournalDir, "/var/lib/kmemfix")
	if r := n.ReplacementKubelet; r.Path != "" || r.SHA256 != "" {
		if r.Path == "" {
			ps.add("node.replacementKubelet.path", "set the local path of the kubelet built with -tags=nokmem", "is empty while sha256 is set")
		}
		if !sha256Hex.MatchString(r.SHA256) {
			ps.add("node.replacementKubelet.sha256", "set it to the output of sha256sum on the nokmem kubelet",
				"%q is not a sha256 (64 hex characters)", r.SHA256)
		}
	}
	for i, argv := range n.CadvisorCommands {
		if len(argv) == 0 || argv[0] == "" {
			ps.add(fmt.Sprintf("node.cadvisorCommands[%d]", i), "give an argv list such as [systemctl, restart, cadvisor], or remove the entry", "is an empty command")
		}
	}
	if n.HeadroomMargin < 0 {
		ps.add("node.headroomMargin", "set 0 or more css ids (default 512)", "%d is negative", n.HeadroomMargin)
	}
	if n.HeadroomPolicy() == "" {
		ps.add("node.unknownHeadroom", `set "skip" (leave the node alone), "proceed" (remediate anyway) or "reboot" (reboot list)`, "%q is not a policy", n.UnknownHeadroom)
	}
}

func (r Rollout) check(ps *problemList) {
	for _, p := range CheckWaves(r.Waves) {
		ps.add("rollout.waves", `use counts or percentages of the fleet, e.g. ["1", "5%", "25%", "100%"]`, "%s", p)
	}
	if r.Concurrency < 1 {
		ps.add("rollout.concurrency", "set at least 1 node at a time", "%d is below 1", r.Concurrency)
	}
	if _, _, err := ParseBudget(r.FailureBudget); err != nil {
		ps.add("rollout.failureBudget", `set a count ("3") or a share of each wave ("2%")`, "%q %v", r.FailureBudget, err)
	}
	if r.Soak < 0 {
		ps.add("rollout.soak", `set 0 or a positive duration, e.g. "5m"`, "%s is negative", r.Soak)
	}
	positive(ps, "rollout.kubeletDownBudget", r.KubeletDownBudget, "2m")
	if r.KubeletDownBudget >= 5*time.Minute {
		ps.add("rollout.kubeletDownBudget", `keep it well under the 5m pod eviction timeout, e.g. "2m"`, "%s reaches the pod eviction timeout", r.KubeletDownBudget)
	}
	r.HealthGate.check(ps)
	r.MaintenanceWindow.check(ps)
}

func (g HealthGate) check(ps *problemList) {
	switch g.Type {
	case GateNone, "":
	case GateHTTP:
		httpURL(ps, "rollout.healthGate.url", g.URL, "the URL that answers 2xx when the fleet is healthy")
	case GatePrometheus:
		httpURL(ps, "rollout.healthGate.url", g.URL, "the Prometheus base URL, e.g. http://prometheus:9090")
		if g.Query == "" {
			ps.add("rollout.healthGate.query", "set a PromQL query that returns nothing while the fleet is healthy (an alert expression)", "is empty for a prometheus gate")
		}
	case GateCommand:
		if len(g.Argv) == 0 || g.Argv[0] == "" {
			ps.add("rollout.healthGate.argv", "set the command to run on sampled nodes as an argv list, e.g. [/usr/local/bin/node-ok]", "is empty for a command gate")
		}
		if g.Sample < 1 {
			ps.add("rollout.healthGate.sample", "set how many of the wave's nodes run the command (default 3)", "%d is below 1", g.Sample)
		}
	default:
		ps.add("rollout.healthGate.type", "set one of none, http, command, prometheus", "%q is not a gate type", g.Type)
	}
	if g.Type != GateNone && g.Type != "" {
		positive(ps, "rollout.healthGate.timeout", g.Timeout, "30s")
	}
}

func (m MaintenanceWindow) check(ps *problemList) {
	if !m.Set() {
		if len(m.Days) > 0 {
			ps.add("rollout.maintenanceWindow", `set start and end as HH:MM UTC, e.g. start: "22:00", end: "04:00"`, "has days but no start and end")
		}
		return
	}
	for _, kv := range [][2]string{{"start", m.Start}, {"end", m.End}} {
		if _, err := time.Parse("15:04", kv[1]); err != nil {
			ps.add("rollout.maintenanceWindow."+kv[0], `write a UTC time of day as HH:MM, e.g. "22:00"`, "%q is not HH:MM", kv[1])
		}
	}
	if m.Start != "" && m.Start == m.End {
		ps.add("rollout.maintenanceWindow", "make end differ from start, or remove the window to allow any time", "start equals end: the window is empty")
	}
	for i, d := range m.Days {
		if _, ok := Weekdays[strings.ToLower(d)]; !ok {
			ps.add(fmt.Sprintf("rollout.maintenanceWindow.days[%d]", i), "use mon, tue, wed, thu, fri, sat or sun", "%q is not a day", d)
		}
	}
}

// Length is how long the window stays open (End - Start, across midnight
// when End is earlier); 0 when unset or invalid.
func (m MaintenanceWindow) Length() time.Duration {
	s, err1 := time.Parse("15:04", m.Start)
	e, err2 := time.Parse("15:04", m.End)
	if err1 != nil || err2 != nil {
		return 0
	}
	d := e.Sub(s)
	if d <= 0 {
		d += 24 * time.Hour
	}
	return d
}

// Weekdays maps the day names of a maintenance window.
var Weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func (w Worker) check(ps *problemList) {
	if w.MaxConcurrentActivities < 1 {
		ps.add("worker.maxConcurrentActivities", "set at least 1 (default 200)", "%d is below 1", w.MaxConcurrentActivities)
	}
	if w.ActivitiesPerSecond < 0 {
		ps.add("worker.activitiesPerSecond", "set 0 (unlimited) or a positive rate", "%v is negative", w.ActivitiesPerSecond)
	}
	if w.StopTimeout < 0 {
		ps.add("worker.stopTimeout", `set 0 (cancel at once) or a positive duration, e.g. "30s"`, "%s is negative", w.StopTimeout)
	}
	if w.MetricsAddress != "" {
		if err := hostPort(w.MetricsAddress); err != nil {
			ps.add("worker.metricsAddress", `set host:port, e.g. "127.0.0.1:9090", or leave it empty`, "%q %v", w.MetricsAddress, err)
		}
	}
}

func (t Telemetry) check(ps *problemList) {
	if e := t.OTLPEndpoint; e != "" {
		fix := `set the collector's host:port (gRPC, e.g. "otel-collector:4317") or http(s)://host:port (HTTP), or leave it empty`
		if strings.HasPrefix(e, "http://") || strings.HasPrefix(e, "https://") {
			if u, err := url.Parse(e); err != nil || u.Host == "" {
				ps.add("telemetry.otlpEndpoint", fix, "%q is not a URL with a host", e)
			}
		} else if err := hostPort(e); err != nil {
			ps.add("telemetry.otlpEndpoint", fix, "%q %v", e, err)
		}
	}
	if t.LogFormat != LogJSON && t.LogFormat != LogText {
		ps.add("telemetry.logFormat", "set json or text", "%q is not a log format", t.LogFormat)
	}
	if _, err := ParseLevel(t.LogLevel); err != nil {
		ps.add("telemetry.logLevel", "set debug, info, warn or error", "%q is not a log level", t.LogLevel)
	}
}

// hostPort accepts host:port with a non-empty host and a numeric port.
func hostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("is not host:port")
	}
	if host == "" {
		return fmt.Errorf("has no host")
	}
	// Port 0 is allowed: `kmemfix dev` and `kmemfix demo` then pick a free port.
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("has no valid port")
	}
	return nil
}

func positive(ps *problemList, key string, d time.Duration, example string) {
	if d <= 0 {
		ps.add(key, fmt.Sprintf("set a positive duration, e.g. %q", example), "%s is not positive", d)
	}
}

func absPath(ps *problemList, key, p, example string) {
	if !path.IsAbs(p) {
		ps.add(key, fmt.Sprintf("set an absolute path on the node, e.g. %q", example), "%q is not an absolute path", p)
	}
}

func cgroupName(ps *problemList, key, name, example string) {
	if name == "" || strings.ContainsAny(name, "/\n\x00") || name == "." || name == ".." {
		ps.add(key, fmt.Sprintf("set a single cgroup directory name, e.g. %q", example), "%q is not a cgroup directory name", name)
	}
}

func httpURL(ps *problemList, key, s, what string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.add(key, "set "+what, "%q is not an http(s) URL", s)
	}
}

// Problems checks a rollout section on its own (a rollout spec file
// overrides it); keys are named as in the config file ("rollout.waves").
func (r Rollout) Problems() []Problem {
	var ps problemList
	r.check(&ps)
	return ps
}
