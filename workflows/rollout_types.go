package workflows

import (
	"time"

	"github.com/kmemfix/kmemfix/activities"
)

// Rollout modes.
const (
	ModeRemediate = "remediate" // default: run the procedure in waves
	ModeSurvey    = "survey"    // inspect every node, change nothing
)

// InventoryNode is one node of the fleet. No secret: credentials stay in
// the worker's configuration.
type InventoryNode struct {
	Name    string            `json:"name"`
	Address string            `json:"address"`
	Port    int               `json:"port,omitempty"`
	User    string            `json:"user,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
}

func (n InventoryNode) ref() activities.NodeRef {
	return activities.NodeRef{Name: n.Name, Address: n.Address, Port: n.Port, User: n.User}
}

// RolloutInput starts a rollout (or a survey) over an inventory.
type RolloutInput struct {
	RolloutID string          `json:"rolloutID"`
	Mode      string          `json:"mode,omitempty"`
	Inventory []InventoryNode `json:"inventory"`
	// Waves are cumulative targets in inventory order (see WavePlan).
	Waves WavePlan `json:"waves,omitempty"`
	// Concurrency is the sliding window per wave (the last value repeats);
	// default 10, capped at MaxInFlight.
	Concurrency   []int                  `json:"concurrency,omitempty"`
	FailureBudget FailureBudget          `json:"failureBudget"`
	SoakTime      time.Duration          `json:"soakTime,omitempty"`
	HealthGate    *activities.HealthGate `json:"healthGate,omitempty"`
	Window        *MaintenanceWindow     `json:"maintenanceWindow,omitempty"`
	Settings      NodeSettings           `json:"settings"`
	// NodesPerRun bounds one execution's history: after starting this many
	// nodes the rollout drains and continues as new (default 500).
	NodesPerRun int `json:"nodesPerRun,omitempty"`
	// Carry is the state handed over by continue-as-new; never set it.
	Carry *RolloutState `json:"carry,omitempty"`
}

// MaxInFlight bounds the children of one rollout in flight, well under
// Temporal's 2,000 pending children per execution.
const MaxInFlight = 300

const defaultNodesPerRun = 500

// Node states inside a rollout.
const (
	NodePending = "pending"
	NodeRunning = "running"
	NodeDone    = "done"
)

// NodeStatus is one inventory node as the rollout tracks it.
type NodeStatus struct {
	State         string      `json:"state"`
	Wave          int         `json:"wave,omitempty"` // 1-based wave that ran it
	Outcome       Outcome     `json:"outcome,omitempty"`
	Reasons       []string    `json:"reasons,omitempty"` // for failures, at most 3
	KubeletDownMS int64       `json:"kubeletDownMS,omitempty"`
	Runs          int         `json:"runs,omitempty"`
	Survey        *SurveyNode `json:"survey,omitempty"`
}

// RolloutState is everything continue-as-new carries: progress, pause
// state and the operator's controls.
type RolloutState struct {
	Nodes       []NodeStatus `json:"nodes"`
	Wave        int          `json:"wave"` // 0-based index of the current wave
	Paused      bool         `json:"paused,omitempty"`
	PauseReason string       `json:"pauseReason,omitempty"`
	PauseSource string       `json:"pauseSource,omitempty"` // operator, failure-budget, health-gate
	Aborted     bool         `json:"aborted,omitempty"`
	AbortReason string       `json:"abortReason,omitempty"`
	Retry       []int        `json:"retry,omitempty"`     // inventory indexes queued by retry
	WaveBase    []int        `json:"waveBase,omitempty"`  // failures per wave acknowledged by resume
	Gates       []string     `json:"gates,omitempty"`     // health gate result per wave
	WaveEnded   []bool       `json:"waveEnded,omitempty"` // the wave's soak and gate are done
	Runs        int          `json:"runs"`                // executions so far (continue-as-new count + 1)
}

// Control requests (Updates).
type (
	PauseRequest  struct{ Reason string }
	ResumeRequest struct{ Note string }
	AbortRequest  struct{ Reason string }
	SkipRequest   struct{ Node string }
	// RetryRequest re-queues failed nodes; empty Nodes means every node
	// that failed, rolled back, was unreachable, rebooted or busy.
	RetryRequest struct{ Nodes []string }
)

// Rollout states as the UI and the query show them.
const (
	StateRunning   = "running"
	StatePaused    = "paused"
	StateAborting  = "aborting"
	StateAborted   = "aborted"
	StateDone      = "done"
	StateCancelled = "cancelled"
)

// Progress answers QueryProgress and is the rollout's result.
type Progress struct {
	RolloutID   string          `json:"rolloutID"`
	Mode        string          `json:"mode"`
	State       string          `json:"state"`
	Activity    string          `json:"activity,omitempty"` // soaking, health gate, waiting for the window...
	PauseReason string          `json:"pauseReason,omitempty"`
	PauseSource string          `json:"pauseSource,omitempty"`
	AbortReason string          `json:"abortReason,omitempty"`
	Wave        int             `json:"wave"` // 1-based
	Waves       []WaveProgress  `json:"waves"`
	Total       int             `json:"total"`
	Pending     int             `json:"pending"`
	Running     int             `json:"running"`
	Done        int             `json:"done"`
	Counts      map[Outcome]int `json:"counts"`
	Failing     []NodeFailure   `json:"failing,omitempty"`
	KubeletDown DownStats       `json:"kubeletDown"`
	Runs        int             `json:"runs"`
	Fleet       *FleetPicture   `json:"fleet,omitempty"`
}

// WaveProgress is one wave's picture.
type WaveProgress struct {
	Wave     int             `json:"wave"`
	Size     int             `json:"size"`
	Started  int             `json:"started"`
	Done     int             `json:"done"`
	Failures int             `json:"failures"`
	Allowed  int             `json:"allowed"`
	Counts   map[Outcome]int `json:"counts"`
	Gate     string          `json:"gate,omitempty"`
}

// NodeFailure is one failing node and why.
type NodeFailure struct {
	Node    string   `json:"node"`
	Wave    int      `json:"wave"`
	Outcome Outcome  `json:"outcome"`
	Reasons []string `json:"reasons"`
}

// DownStats summarizes kubelet-down time over remediated nodes.
type DownStats struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50"`
	P99   time.Duration `json:"p99"`
	Max   time.Duration `json:"max"`
}

// SurveyNode is one node in the fleet picture.
type SurveyNode struct {
	Node      string  `json:"node"`
	Outcome   Outcome `json:"outcome"`
	Verdict   string  `json:"verdict,omitempty"`
	Phase     string  `json:"phase,omitempty"`
	Known     bool    `json:"headroomKnown"`
	Required  int     `json:"required"`
	Available int     `json:"available"`
	LeakedIDs int     `json:"leakedIDs"`
	Kernel    string  `json:"kernel,omitempty"`
	Kubelet   string  `json:"kubelet,omitempty"` // the installed kubelet's --version
	Reason    string  `json:"reason,omitempty"`
}

// FleetPicture is what a survey found.
type FleetPicture struct {
	Verdicts    map[string]int `json:"verdicts"`
	Unreachable int            `json:"unreachable"`
	Nodes       []SurveyNode   `json:"nodes"`
}
