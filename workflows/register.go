package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// Registry is the part of worker.Worker (and the test environment) that
// registers workflows.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// Register registers every kmemfix workflow under its name.
func Register(r Registry) {
	r.RegisterWorkflowWithOptions(NodeWorkflow, workflow.RegisterOptions{Name: NodeWorkflowName})
	r.RegisterWorkflowWithOptions(RolloutWorkflow, workflow.RegisterOptions{Name: RolloutWorkflowName})
}
