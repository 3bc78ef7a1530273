package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/activities"
)

// WorkflowName is the registered name of CustomerSync.
const WorkflowName = "CustomerSync"

// Register registers OppSync's workflows and the given activities with a worker.
func Register(r worker.Registry, a *activities.Activities) {
	r.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: WorkflowName})
	r.RegisterActivity(a)
}
