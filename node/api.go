package node

// This file is the helper's wire protocol: what each subcommand prints on
// stdout (one JSON Response), the progress lines of long steps, and the exit
// codes. The worker's activities decode exactly these types.

// ProtocolVersion changes whenever a field changes meaning or disappears;
// the worker refuses a helper that speaks another protocol.
const ProtocolVersion = 1

// Version is the helper's release; main sets it at link time.
var Version = "dev"

// Exit codes of the helper. A non-zero exit always comes with a Response
// whose Error says what happened.
const (
	ExitOK          = 0 // done, result in Response.Result
	ExitFailed      = 1 // the step failed; retrying may help (Error.Retryable)
	ExitUsage       = 2 // bad flags or arguments: fix the caller
	ExitRefused     = 3 // the node is not in a state this step may act on
	ExitLocked      = 4 // another kmemfix run holds the node lock: retry later
	ExitNeedsHelp   = 5 // the node is in a state only a human should resolve
	ExitInterrupted = 6 // stopped by a signal; the step can be run again
)

// Error codes in Response.Error.Code.
const (
	CodeUsage        = "usage"
	CodeLocked       = "locked"
	CodeRefused      = "refused"       // precondition not met (Error.Message says which)
	CodeRebooted     = "rebooted"      // boot id differs from the journal's
	CodePastCommit   = "past-commit"   // compensation asked after the commit point
	CodeTreeChanged  = "tree-changed"  // cgroups appeared that the snapshot does not know
	CodeNotConverged = "not-converged" // a source kept getting new processes
	CodeVerify       = "verify-failed" // verification found differences (Result lists them)
	CodeKernel       = "kernel"        // the kernel refused an operation (errno in Message)
	CodeService      = "service"       // a service did not reach the wanted state
	CodeChecksum     = "checksum"      // a binary's sha256 is not the expected one
	CodeNeedsHelp    = "needs-attention"
	CodeInterrupted  = "interrupted"
)

// Response is the single JSON document a subcommand prints on stdout.
type Response struct {
	OK       bool   `json:"ok"`
	Command  string `json:"command"`
	Helper   string `json:"helper"`
	Protocol int    `json:"protocol"`
	BootID   string `json:"bootID,omitempty"`
	Result   any    `json:"result,omitempty"`
	Error    *Error `json:"error,omitempty"`
}

// Error is a failed step, in words a human can act on.
type Error struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// Progress is one line of JSON a long step writes to stderr as it goes, so
// the worker can heartbeat with cgroups done / total.
type Progress struct {
	Step  string `json:"step"`
	Phase string `json:"phase,omitempty"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// Verdicts of inspect.
const (
	VerdictAffected    = "affected"
	VerdictNotAffected = "not-affected"
	VerdictNeedsReboot = "needs-reboot"
	VerdictUnsupported = "unsupported"
)

// Kernel generations as inspect reports them.
const (
	KernelLegacy = "3.10" // the css-id leak semantics hold
	KernelModern = "4+"   // the 3.10 signature does not apply
)

// Phases of a remediation as read from the node (Inspect.Phase).
const (
	PhaseIdle       = "idle"        // no remediation in progress
	PhaseSnapshot   = "snapshotted" // journal written, no mirror yet
	PhaseMirrored   = "mirrored"    // mirror exists beside kubepods
	PhaseCommitting = "committing"  // kubepods partly or wholly removed: forward only
	PhaseRebuilt    = "rebuilt"     // kubepods back, mirror gone, journal not yet closed
)

// InspectResult is what `inspect` reports: everything needed to decide
// whether and how to remediate, read from the node's real state.
type InspectResult struct {
	Kernel           string   `json:"kernel"`
	KernelGeneration string   `json:"kernelGeneration"`
	CgroupRoot       string   `json:"cgroupRoot"`
	MemoryMounted    bool     `json:"memoryMounted"`
	Driver           string   `json:"driver"` // cgroupfs, systemd or none
	Layout           Layout   `json:"layout"`
	KubepodsExists   bool     `json:"kubepodsExists"`
	KubepodsKmem     bool     `json:"kubepodsKmem"`
	AccountedDirs    int      `json:"accountedDirs"`
	SubtreeDirs      int      `json:"subtreeDirs"`
	SubtreeProcs     int      `json:"subtreeProcs"`
	LiveMemcgs       int      `json:"liveMemcgs"`
	IDsInUse         int      `json:"idsInUse"` // -1 when unknown
	IDsSource        string   `json:"idsSource"`
	LeakedIDs        int      `json:"leakedIDs"` // -1 when unknown
	Headroom         Headroom `json:"headroom"`
	MkdirProbe       string   `json:"mkdirProbe"` // ok, enospc, skipped or the error
	Kubelet          Kubelet  `json:"kubelet"`
	BootID           string   `json:"bootID"`
	Phase            string   `json:"phase"`
	// Blocked says why the procedure cannot reproduce this tree here,
	// however much headroom there is ("" when it can).
	Blocked string   `json:"blocked,omitempty"`
	Verdict string   `json:"verdict"`
	Reasons []string `json:"reasons"`
}

// Layout counts the two kubepods layouts: pods under QoS folders
// (burstable/besteffort) and guaranteed pods directly under kubepods.
type Layout struct {
	QoSPods    int `json:"qosPods"`
	DirectPods int `json:"directPods"`
	Containers int `json:"containers"`
}

// Headroom compares the css ids the procedure needs with those left.
type Headroom struct {
	Known     bool `json:"known"`
	Required  int  `json:"required"`
	Available int  `json:"available"` // -1 when unknown
}

// Kubelet is the kubelet service and binary as found.
type Kubelet struct {
	Unit    string `json:"unit"`
	State   string `json:"state"` // systemctl is-active output
	Binary  string `json:"binary"`
	SHA256  string `json:"sha256"`
	Version string `json:"version"`
	Backup  bool   `json:"backup"` // a kmemfix backup of the original binary exists
}

// SnapshotResult summarizes the journal written by `snapshot`.
type SnapshotResult struct {
	Journal string `json:"journal"`
	Digest  string `json:"digest"`
	Dirs    int    `json:"dirs"`
	Procs   int    `json:"procs"`
	Reused  bool   `json:"reused"` // an existing journal of this remediation was kept
}

// TreeResult reports a step that builds, moves or removes cgroup trees.
type TreeResult struct {
	Created  int `json:"created,omitempty"`
	Moved    int `json:"moved,omitempty"`
	Exited   int `json:"exited,omitempty"` // processes gone before they could be moved (ESRCH)
	Removed  int `json:"removed,omitempty"`
	Passes   int `json:"passes,omitempty"`
	Verified int `json:"verified,omitempty"`
}

// VerifyResult lists every difference between the node and the snapshot.
type VerifyResult struct {
	Dirs        int      `json:"dirs"`
	ProcsAlive  int      `json:"procsAlive"`
	ProcsExited int      `json:"procsExited"`
	Problems    []string `json:"problems"`
}

// ServiceResult is a service's state after `service` or `kubelet`.
type ServiceResult struct {
	Unit    string `json:"unit"`
	State   string `json:"state"`
	Healthy bool   `json:"healthy"`
}

// KubeletSwapResult reports `kubelet swap` and `kubelet restore`.
type KubeletSwapResult struct {
	Binary  string `json:"binary"`
	SHA256  string `json:"sha256"`
	Backup  string `json:"backup"`
	Changed bool   `json:"changed"`
}

// CommandsResult reports `run-commands` (cadvisor restart and the like).
type CommandsResult struct {
	Ran []CommandOutcome `json:"ran"`
}

// CommandOutcome is one configured command's exit.
type CommandOutcome struct {
	Argv     []string `json:"argv"`
	ExitCode int      `json:"exitCode"`
	Stderr   string   `json:"stderr,omitempty"`
}
