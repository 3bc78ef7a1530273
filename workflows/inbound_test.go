package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/customersync"
)

// Since versionDurableInbound the workflow reads ACE's results whenever the poll found an
// answer, even with nothing in its own Pending list (the CRM's sent records name the file:
// a crash lost SendChanges' result), and marks unanswered the records the CRM holds as
// sent too long ago; per-record failures reach the cycle summary.
func TestResultsFromTheCRMWithoutPendingFiles(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	env.RegisterActivity(act)
	env.OnActivity(act.Check, anyCtx, anyArg).Return(customersync.CheckReport{}, nil)
	var polled customersync.PollInput
	env.OnActivity(act.Poll, anyCtx, anyArg).Return(func(_ context.Context, in customersync.PollInput) (customersync.PollResult, error) {
		polled = in
		return customersync.PollResult{Results: true, Awaiting: 2, Expired: true}, nil
	})
	var collected customersync.ResultsInput
	env.OnActivity(act.CollectResults, anyCtx, anyArg).Return(func(_ context.Context, in customersync.ResultsInput) (customersync.ResultsOutput, error) {
		collected = in
		return customersync.ResultsOutput{Accepted: 1, RecordErrors: 1, FailedRecords: []string{"opportunity/P2"}}, nil
	})
	var marked customersync.NoAnswerInput
	env.OnActivity(act.MarkNoAnswer, anyCtx, anyArg).Return(func(_ context.Context, in customersync.NoAnswerInput) (int, error) {
		marked = in
		return 1, nil
	})

	cfg := validConfig()
	cfg.SpmsID = "12345"
	cfg.PollInterval = time.Hour
	env.ExecuteWorkflow(CustomerSync, customersync.SyncInput{Config: cfg, CyclesPerRun: 1})

	if polled.Inbound == nil || !polled.Inbound.FromCRM || polled.Inbound.ResultTimeout != cfg.ResultTimeout {
		t.Fatalf("poll input %+v: want the CRM's sent records looked at, with the result timeout", polled.Inbound)
	}
	if !collected.FromCRM || len(collected.Pending) != 0 {
		t.Fatalf("CollectResults input %+v: want it run from the CRM with nothing pending in the workflow", collected)
	}
	if !marked.FromCRM || marked.Timeout != cfg.ResultTimeout {
		t.Fatalf("MarkNoAnswer input %+v: want the CRM's overdue records marked", marked)
	}
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next customersync.SyncInput
	if err := converterFor(t).FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	lc := next.State.LastCycle
	if lc == nil || lc.Counts.Accepted != 1 || lc.RecordErrors != 1 || len(lc.FailedRecords) != 1 || lc.Counts.NoAnswer != 1 {
		t.Fatalf("last cycle %+v: want 1 accepted, 1 record error named, 1 no-answer", lc)
	}
	if next.State.AwaitingInCRM != 2 {
		t.Errorf("AwaitingInCRM = %d, want the poll's 2", next.State.AwaitingInCRM)
	}
}
