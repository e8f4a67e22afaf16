// Package wire is what the lab harness and the guest runner say to each
// other: the plan the harness writes into the initramfs (Plan) and the report
// the runner prints on the serial console between two markers (Report).
package wire

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Markers framing the runner's report on the console. Between them the
// report is JSON, gzipped and base64-encoded in lines of at most 76
// characters: a serial console moves a byte per emulated port write, and
// the report carries every cgroup's values twice.
const (
	ReportBegin = "=====KMEMFIX-LAB-REPORT-BEGIN====="
	ReportEnd   = "=====KMEMFIX-LAB-REPORT-END====="
)

// PlanPath is where the plan sits in the guest.
const PlanPath = "/lab/plan.json"

// Kinds of scenario.
const (
	KindProcedure    = "procedure"    // the whole procedure, every step once
	KindInterrupted  = "interrupted"  // each mutating step killed at several points, then resumed
	KindCompensation = "compensation" // a failure after move, then restore and kubelet restore
	KindProbes       = "probes"       // errno and value probes of the memory controller
)

// Plan is the scenario as the guest runner reads it.
type Plan struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Node Node   `json:"node"`
	// CrashFractions are the points, as fractions of a step's estimated
	// mutating operations, at which the interrupted scenario kills the
	// helper (--crash-after-ops) before running the step again. 0 means
	// the first operation (k=1).
	CrashFractions []float64 `json:"crashFractions,omitempty"`
	// RandomKills is how many extra runs of each mutating step the
	// interrupted scenario kills with SIGKILL after a random delay.
	RandomKills int   `json:"randomKills,omitempty"`
	Seed        int64 `json:"seed"`
	// HelperFlags are extra global flags for every helper run.
	HelperFlags []string `json:"helperFlags,omitempty"`
}

// Node sizes the simulated Kubernetes node built in the guest.
type Node struct {
	BurstablePods  int `json:"burstablePods"`
	BestEffortPods int `json:"bestEffortPods"`
	GuaranteedPods int `json:"guaranteedPods"` // kubepods/pod<uid>/<cid>, no QoS level
	// ContainersPerPod is how many containers each pod has (the pause
	// container included).
	ContainersPerPod int `json:"containersPerPod"`
	// HogMiB is the anonymous memory touched by the memory-hog container.
	HogMiB int `json:"hogMiB"`
	// CacheMiB is the page cache charged by the file-reading container and
	// the tmpfs file written by the tmpfs container.
	CacheMiB int `json:"cacheMiB"`
	// Threads is the thread count of the multi-threaded container.
	Threads int `json:"threads"`
}

// Report is the runner's structured result.
type Report struct {
	Name       string        `json:"name"`
	Kind       string        `json:"kind"`
	Kernel     string        `json:"kernel"`
	Dirs       int           `json:"dirs"`
	Containers int           `json:"containers"`
	Procs      int           `json:"procs"`
	Setup      Seconds       `json:"setupSeconds"`
	Runs       []Run         `json:"runs"`
	Migration  Seconds       `json:"migrationSeconds"` // mirror start to rebuild end
	KubeletOff Seconds       `json:"kubeletDownSeconds"`
	Checks     []Check       `json:"checks"`
	Probes     []ProbeResult `json:"probes,omitempty"`
	// Before and After are the preserved values of every cgroup under
	// kubepods (by relative path) as the kernel reports them, before the
	// scenario and at its end.
	Before map[string]Values `json:"before,omitempty"`
	After  map[string]Values `json:"after,omitempty"`
	// Fatal is set when the runner could not carry out the scenario.
	Fatal string `json:"fatal,omitempty"`
}

// Values are a cgroup's preserved control files and their contents
// (memory.oom_control reduced to its oom_kill_disable flag).
type Values map[string]string

// Seconds is a duration in seconds, as JSON reads best.
type Seconds float64

// Since returns the seconds elapsed since t.
func Since(t time.Time) Seconds { return Seconds(time.Since(t).Seconds()) }

// Run is one run of the helper.
type Run struct {
	Args      []string `json:"args"`
	CrashAt   int      `json:"crashAt,omitempty"`   // --crash-after-ops value, 0 if none
	KilledAt  Seconds  `json:"killedAt,omitempty"`  // SIGKILL delay, 0 if none
	Exit      int      `json:"exit"`                // exit code (137 after a crash or kill)
	OK        bool     `json:"ok"`                  // the Response's ok
	ErrorCode string   `json:"errorCode,omitempty"` // the Response's error code
	Message   string   `json:"message,omitempty"`
	Seconds   Seconds  `json:"seconds"`
	Stdout    string   `json:"stdout,omitempty"` // kept only when it did not parse or failed
	Stderr    string   `json:"stderr,omitempty"` // kept only on failure, truncated
}

// Check is one invariant checked after the scenario.
type Check struct {
	Name     string   `json:"name"`
	OK       bool     `json:"ok"`
	Detail   string   `json:"detail,omitempty"`
	Problems []string `json:"problems,omitempty"` // first few problems found
}

// ProbeResult is the real kernel's answer to one probe.
type ProbeResult struct {
	Name  string `json:"name"`
	Op    string `json:"op"`
	Errno string `json:"errno"`           // "" on success, else the errno's name (EBUSY)
	Value string `json:"value,omitempty"` // a value read back, when the probe reads one
	Note  string `json:"note,omitempty"`
}

// EncodeReport renders a report for the console, without the markers.
func EncodeReport(r *Report) (string, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("wire: marshal report: %w", err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(js); err != nil {
		return "", fmt.Errorf("wire: gzip report: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("wire: gzip report: %w", err)
	}
	b64 := base64.StdEncoding.EncodeToString(z.Bytes())
	var out strings.Builder
	for len(b64) > 76 {
		out.WriteString(b64[:76] + "\n")
		b64 = b64[76:]
	}
	out.WriteString(b64)
	return out.String(), nil
}

// DecodeReport reads what EncodeReport rendered (line breaks and stray
// carriage returns ignored).
func DecodeReport(text string) (*Report, error) {
	clean := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' {
			return -1
		}
		return r
	}, text)
	z, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("wire: report is not base64: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("wire: report is not gzip: %w", err)
	}
	js, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("wire: gunzip report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(js, &r); err != nil {
		return nil, fmt.Errorf("wire: report JSON: %w", err)
	}
	return &r, nil
}
