package workflows

import (
	"errors"
	"fmt"
	"time"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/node"
)

// Step is one step of the per-node procedure, as shown in the UI.
type Step string

// The steps, in the order they run, and the compensations.
const (
	StepEnsureHelper    Step = "ensure-helper"
	StepInspect         Step = "inspect"
	StepStageKubelet    Step = "stage-kubelet"
	StepCordon          Step = "cordon" // optional: Kubernetes node unschedulable while kubelet is down
	StepStopKubelet     Step = "stop-kubelet"
	StepSnapshot        Step = "snapshot"
	StepMirror          Step = "mirror"
	StepMove            Step = "move"
	StepCommit          Step = "commit"
	StepRebuild         Step = "rebuild"
	StepStartKubelet    Step = "start-kubelet"
	StepRestartCadvisor Step = "restart-cadvisor"
	StepVerify          Step = "verify"
	StepFinish          Step = "finish"
	StepRestore         Step = "restore"         // compensation of mirror and move
	StepRestoreKubelet  Step = "restore-kubelet" // compensation of stop-kubelet
	StepCloseJournal    Step = "close-journal"   // compensation of snapshot
	StepUncordon        Step = "uncordon"        // compensation of cordon, and the last step
	StepDone            Step = "done"
)

// Outcome is how a node's workflow ended.
type Outcome string

// Outcomes of the per-node workflow.
const (
	OutcomeRemediated             Outcome = "remediated"
	OutcomeSkippedNotAffected     Outcome = "skipped-not-affected"
	OutcomeSkippedUnknownHeadroom Outcome = "skipped-unknown-headroom"
	OutcomeNeedsReboot            Outcome = "needs-reboot"
	OutcomeUnsupported            Outcome = "unsupported"
	OutcomeUnreachable            Outcome = "unreachable"
	OutcomeFailedRolledBack       Outcome = "failed-rolled-back"
	OutcomeFailedNeedsAttention   Outcome = "failed-needs-attention"
	OutcomeRebooted               Outcome = "rebooted"
	OutcomePlanned                Outcome = "planned" // dry-run: would remediate
	// Set by the rollout, never by the node workflow.
	OutcomeSkippedByOperator Outcome = "skipped-by-operator"
	OutcomeBusy              Outcome = "busy" // another run holds the node's workflow ID
)

// Unknown headroom policies (NodeSettings.UnknownHeadroom): what to do
// when the css ids in use cannot be read (no systemtap on the node).
const (
	UnknownHeadroomSkip    = "skip"    // default: do not touch the node, say why
	UnknownHeadroomProceed = "proceed" // remediate anyway, with a warning
	UnknownHeadroomReboot  = "reboot"  // put the node on the reboot list
)

// NodeSettings is the node's procedure configuration. It holds no secret.
type NodeSettings struct {
	CgroupRoot string `json:"cgroupRoot,omitempty"`
	Kubepods   string `json:"kubepods,omitempty"`
	Mirror     string `json:"mirror,omitempty"`
	JournalDir string `json:"journalDir,omitempty"`

	KubeletUnit       string `json:"kubeletUnit,omitempty"`       // default kubelet
	KubeletBinary     string `json:"kubeletBinary,omitempty"`     // default /usr/bin/kubelet
	KubeletHealthzURL string `json:"kubeletHealthzURL,omitempty"` // default http://127.0.0.1:10248/healthz

	// The kubelet built without kmem: a file on the worker, its sha256, and
	// where to stage it on the node.
	ReplacementKubelet       string `json:"replacementKubelet"`
	ReplacementKubeletSHA256 string `json:"replacementKubeletSHA256"`
	StagedKubelet            string `json:"stagedKubelet,omitempty"` // default /var/lib/kmemfix/kubelet.nokmem

	// Commands restarting cadvisor and other monitoring agents (argv, no shell).
	CadvisorCommands [][]string `json:"cadvisorCommands,omitempty"`

	// Cordon makes the Kubernetes node unschedulable from before the
	// kubelet stops until the node is remediated or rolled back; a node
	// that was cordoned already is left as it was.
	Cordon bool `json:"cordon,omitempty"`

	KubeletDownBudget time.Duration `json:"kubeletDownBudget,omitempty"` // default 3m
	ServiceTimeout    time.Duration `json:"serviceTimeout,omitempty"`    // default 60s
	HeadroomMargin    int           `json:"headroomMargin,omitempty"`
	UnknownHeadroom   string        `json:"unknownHeadroom,omitempty"` // UnknownHeadroom*
}

// DefaultKubeletDownBudget is well under the 5-minute pod eviction timeout.
const DefaultKubeletDownBudget = 3 * time.Minute

// WithDefaults fills the empty fields.
func (s NodeSettings) WithDefaults() NodeSettings {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&s.KubeletUnit, "kubelet")
	def(&s.KubeletBinary, "/usr/bin/kubelet")
	def(&s.KubeletHealthzURL, "http://127.0.0.1:10248/healthz")
	def(&s.StagedKubelet, "/var/lib/kmemfix/kubelet.nokmem")
	def(&s.UnknownHeadroom, UnknownHeadroomSkip)
	if s.KubeletDownBudget <= 0 {
		s.KubeletDownBudget = DefaultKubeletDownBudget
	}
	if s.ServiceTimeout <= 0 {
		s.ServiceTimeout = 60 * time.Second
	}
	return s
}

// Validate reports settings no run could succeed with.
func (s NodeSettings) Validate(dryRun bool) error {
	var errs []error
	if !dryRun {
		if s.ReplacementKubelet == "" {
			errs = append(errs, errors.New("replacementKubelet is empty: give the path of a kubelet built with -tags=nokmem"))
		}
		if len(s.ReplacementKubeletSHA256) != 64 {
			errs = append(errs, fmt.Errorf("replacementKubeletSHA256 %q is not a sha256: give its 64 hex digits", s.ReplacementKubeletSHA256))
		}
	}
	switch s.UnknownHeadroom {
	case "", UnknownHeadroomSkip, UnknownHeadroomProceed, UnknownHeadroomReboot:
	default:
		errs = append(errs, fmt.Errorf("unknownHeadroom %q: use skip, proceed or reboot", s.UnknownHeadroom))
	}
	if s.KubeletDownBudget < 0 || s.KubeletDownBudget >= 5*time.Minute {
		errs = append(errs, fmt.Errorf("kubeletDownBudget %s must be positive and under the 5m pod eviction timeout", s.KubeletDownBudget))
	}
	for i, c := range s.CadvisorCommands {
		if len(c) == 0 {
			errs = append(errs, fmt.Errorf("cadvisorCommands[%d] is empty", i))
		}
	}
	return errors.Join(errs...)
}

// NodeInput starts the workflow of one node.
type NodeInput struct {
	RolloutID string             `json:"rolloutID,omitempty"`
	Wave      int                `json:"wave,omitempty"`
	Node      activities.NodeRef `json:"node"`
	Settings  NodeSettings       `json:"settings"`
	DryRun    bool               `json:"dryRun,omitempty"` // inspect only and return the plan
}

// NodeResult is how the node's workflow ended, in words a human can act on.
type NodeResult struct {
	Node    string   `json:"node"`
	Outcome Outcome  `json:"outcome"`
	Reasons []string `json:"reasons"`
	// Warnings do not change the outcome (a cadvisor restart that failed).
	Warnings []string `json:"warnings,omitempty"`
	// Step is the last step reached (the failed one on failure).
	Step Step `json:"step"`
	// Committed: the commit point was passed; from there only forward.
	Committed bool `json:"committed"`
	// KubeletRunning is false only when the workflow ends with kubelet
	// stopped, and then Outcome is failed-needs-attention and says why.
	KubeletRunning bool `json:"kubeletRunning"`
	// KubeletDown is how long kubelet was down (workflow time), from the
	// stop to a healthy start; BudgetExceeded when it passed the budget.
	KubeletDown    time.Duration `json:"kubeletDown,omitempty"`
	BudgetExceeded bool          `json:"budgetExceeded,omitempty"`

	DryRun        bool                 `json:"dryRun,omitempty"`
	Plan          []PlanStep           `json:"plan,omitempty"`
	Inspect       *node.InspectResult  `json:"inspect,omitempty"`
	Snapshot      *node.SnapshotResult `json:"snapshot,omitempty"`
	Verify        *node.VerifyResult   `json:"verify,omitempty"`
	Compensations []CompensationRecord `json:"compensations,omitempty"`
}

// PlanStep is one step a run would take (dry-run).
type PlanStep struct {
	Step         Step   `json:"step"`
	Does         string `json:"does"`
	Compensation Step   `json:"compensation,omitempty"`
	ForwardOnly  bool   `json:"forwardOnly,omitempty"`
}

// CompensationRecord is one compensation that ran.
type CompensationRecord struct {
	Step  Step   `json:"step"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// CurrentStep answers QueryCurrentStep.
type CurrentStep struct {
	Node             string    `json:"node"`
	Step             Step      `json:"step"`
	Committed        bool      `json:"committed"`
	KubeletStopped   bool      `json:"kubeletStopped"`
	KubeletStoppedAt time.Time `json:"kubeletStoppedAt,omitzero"`
	BudgetExceeded   bool      `json:"budgetExceeded"`
}
