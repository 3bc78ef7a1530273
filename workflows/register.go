package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/customersync"
)

// Worker defaults, shared by the worker binary, the benchmarks and the tests: several
// pollers per worker keep the queue wait of each file's activity short (each long-poll
// fetches one task).
const (
	DefaultActivityPollers = 8
	DefaultWorkflowPollers = 4
)

// WorkerOptions are the worker options OppSync runs with by default.
func WorkerOptions() worker.Options {
	return worker.Options{
		MaxConcurrentActivityTaskPollers: DefaultActivityPollers,
		MaxConcurrentWorkflowTaskPollers: DefaultWorkflowPollers,
	}
}

// Register registers OppSync's workflows and the given activities with a worker.
func Register(r worker.Registry, a *activities.Activities) {
	r.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	r.RegisterActivity(a)
}
