package workflows

import (
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// TaskQueue is the one task queue kmemfix workers poll.
const TaskQueue = "kmemfix"

// Workflow type names (registered with these names by the worker).
const (
	NodeWorkflowName    = "KmemfixNode"
	RolloutWorkflowName = "KmemfixRollout"
)

// Query and update names.
const (
	QueryCurrentStep = "current-step" // node: CurrentStep
	QueryProgress    = "progress"     // rollout: Progress
	UpdatePause      = "pause"        // rollout: PauseRequest
	UpdateResume     = "resume"       // rollout: ResumeRequest
	UpdateAbort      = "abort"        // rollout: AbortRequest
	UpdateSkip       = "skip"         // rollout: SkipRequest
	UpdateRetry      = "retry"        // rollout: RetryRequest
)

// NodeWorkflowID is the ID of the remediation of one node. Every rollout
// uses it, so Temporal runs at most one remediation per node at a time.
func NodeWorkflowID(node string) string { return "kmemfix-node-" + node }

// NodeSurveyWorkflowID is the ID of a read-only inspection of one node by a
// survey. It differs from NodeWorkflowID so a survey never blocks a
// remediation (an inspection changes nothing on the node).
func NodeSurveyWorkflowID(rolloutID, node string) string {
	return "kmemfix-survey-" + rolloutID + "-" + node
}

// RolloutWorkflowID is the ID of a fleet rollout.
func RolloutWorkflowID(name string) string {
	return "kmemfix-rollout-" + strings.TrimPrefix(name, "kmemfix-rollout-")
}

// Search attribute keys. Register them on the server (SearchAttributes).
var (
	SARollout     = temporal.NewSearchAttributeKeyKeyword("KmemfixRollout")
	SANode        = temporal.NewSearchAttributeKeyKeyword("KmemfixNode")
	SAStep        = temporal.NewSearchAttributeKeyKeyword("KmemfixStep")
	SAOutcome     = temporal.NewSearchAttributeKeyKeyword("KmemfixOutcome")
	SAWave        = temporal.NewSearchAttributeKeyInt64("KmemfixWave")
	SAState       = temporal.NewSearchAttributeKeyKeyword("KmemfixRolloutState")
	SAPauseReason = temporal.NewSearchAttributeKeyString("KmemfixPauseReason")
)

// SearchAttribute is one custom search attribute to register on the server.
type SearchAttribute struct {
	Name string
	Type enumspb.IndexedValueType
}

// SearchAttributes lists every custom search attribute the workflows
// upsert; the embedded server and `temporal operator search-attribute
// create` must register exactly these.
var SearchAttributes = []SearchAttribute{
	{SARollout.GetName(), enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	{SANode.GetName(), enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	{SAStep.GetName(), enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	{SAOutcome.GetName(), enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	{SAWave.GetName(), enumspb.INDEXED_VALUE_TYPE_INT},
	{SAState.GetName(), enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	{SAPauseReason.GetName(), enumspb.INDEXED_VALUE_TYPE_TEXT},
}
