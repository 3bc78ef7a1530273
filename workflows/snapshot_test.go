package workflows

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/customersync"
)

// seenConfig is what one activity call was given of the customer's configuration.
type seenConfig struct {
	activity string
	cycle    int // the cycle the call belongs to (1-based)
	bucket   string
	crm      string
	ack      customersync.AckMode // SyncBatch only
	results  string               // the opportunity results folder (Poll and CollectResults only)
}

// activityLog records the activities of a test workflow: what each was given, and how many
// ran at once. A call enters when the test environment starts it (AfterFn runs then) and
// leaves when its Return function runs, after the mock's delay on the workflow clock.
type activityLog struct {
	mu                 sync.Mutex
	calls              []seenConfig
	polls              int
	checks             int
	running, maxAtOnce int
}

func (l *activityLog) enter(delay time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running++
	l.maxAtOnce = max(l.maxAtOnce, l.running)
	return delay
}

func (l *activityLog) leave(c seenConfig) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running--
	switch c.activity {
	case "Poll":
		l.polls++
		c.cycle = l.polls
	case "Check":
		l.checks++
		c.cycle = l.polls + 1 // a cycle's check comes before its poll
	default:
		c.cycle = l.polls
	}
	l.calls = append(l.calls, c)
}

// mockCycle mocks every activity of a batched cycle with inbound work. The first Check
// takes firstCheck on the workflow clock; every call is logged.
func mockCycle(env *testsuite.TestWorkflowEnvironment, l *activityLog, firstCheck time.Duration) {
	checkDelay := func() time.Duration {
		l.mu.Lock()
		first := l.checks == 0 && l.running == 0
		l.mu.Unlock()
		if first {
			return l.enter(firstCheck)
		}
		return l.enter(0)
	}
	file := customersync.ObjectRef{Key: "opportunity-outbound/1.json", ETag: `"e1"`, Size: 10}
	env.OnActivity(act.Check, anyCtx, anyArg).AfterFn(checkDelay).Return(
		func(_ context.Context, in customersync.CheckInput) (customersync.CheckReport, error) {
			l.leave(seenConfig{activity: "Check", bucket: in.Target.Bucket, crm: in.CRM})
			return customersync.CheckReport{}, nil
		})
	env.OnActivity(act.Poll, anyCtx, anyArg).AfterFn(func() time.Duration { return l.enter(0) }).Return(
		func(_ context.Context, in customersync.PollInput) (customersync.PollResult, error) {
			l.leave(seenConfig{activity: "Poll", bucket: in.List.Target.Bucket, crm: in.Inbound.CRM,
				results: in.Inbound.Folders[string(ace.ObjectOpportunity)]})
			return customersync.PollResult{ListResult: customersync.ListResult{Objects: []customersync.ObjectRef{file}},
				Changes: true, Results: true}, nil
		})
	env.OnActivity(act.SyncBatch, anyCtx, anyArg).AfterFn(func() time.Duration { return l.enter(0) }).Return(
		func(_ context.Context, in customersync.SyncBatchInput) (customersync.SyncBatchResult, error) {
			l.leave(seenConfig{activity: "SyncBatch", bucket: in.Target.Bucket, crm: in.CRM, ack: in.Ack})
			return customersync.SyncBatchResult{Files: 1, Records: 1, Inserted: 1}, nil
		})
	env.OnActivity(act.SendChanges, anyCtx, anyArg).AfterFn(func() time.Duration { return l.enter(0) }).Return(
		func(_ context.Context, in customersync.SendInput) (customersync.SendResult, error) {
			l.leave(seenConfig{activity: "SendChanges", bucket: in.Target.Bucket, crm: in.CRM})
			return customersync.SendResult{}, nil
		})
	env.OnActivity(act.CollectResults, anyCtx, anyArg).AfterFn(func() time.Duration { return l.enter(0) }).Return(
		func(_ context.Context, in customersync.ResultsInput) (customersync.ResultsOutput, error) {
			l.leave(seenConfig{activity: "CollectResults", bucket: in.Target.Bucket, crm: in.CRM,
				results: in.Folders[string(ace.ObjectOpportunity)]})
			return customersync.ResultsOutput{}, nil
		})
	env.OnActivity(act.MarkNoAnswer, anyCtx, anyArg).AfterFn(func() time.Duration { return l.enter(0) }).Return(
		func(_ context.Context, in customersync.NoAnswerInput) (int, error) {
			l.leave(seenConfig{activity: "MarkNoAnswer", bucket: in.Target.Bucket, crm: in.CRM})
			return 0, nil
		})
}

// completion records an update's outcome.
type completion struct {
	rejected, err error
	done          bool
	result        any
}

func (c *completion) Accept()                   {}
func (c *completion) Reject(err error)          { c.rejected = err }
func (c *completion) Complete(r any, err error) { c.done, c.result, c.err = true, r, err }

// A configuration that lands while a cycle runs (during its access check here) changes
// nothing of that cycle: every activity of it gets the configuration the cycle started
// with (bucket, CRM, ack mode, results folders), and the next cycle checks access again
// and runs on the new one. Before the snapshot, the cycle switched configurations halfway
// (listing one bucket, writing another CRM) and took the old configuration's check for the
// new one's.
func TestConfigureMidCycleLeavesTheCycleOnItsConfiguration(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	env.RegisterActivity(act)
	l := &activityLog{}
	mockCycle(env, l, 30*time.Second)

	old := validConfig()
	old.SpmsID = "12345"
	old.PollInterval = time.Hour
	next := old
	next.Bucket = "ace-apn-67890-prod-us-west-2"
	next.CRM = "sqlite:///var/lib/oppsync/acme-new.db"
	next.AckMode = customersync.AckTag
	next.OpportunityResults = ace.ResultsFolders(ace.ObjectOpportunity)[1]
	if next.OpportunityResults == old.OpportunityResults {
		t.Fatalf("results folder %s is the default: pick the other one", next.OpportunityResults)
	}
	configured := &completion{}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(customersync.UpdateConfigure, "configure", configured, next)
	}, 10*time.Second) // while the first cycle's access check runs
	env.ExecuteWorkflow(CustomerSync, customersync.SyncInput{Config: old, CyclesPerRun: 2})

	if configured.rejected != nil || !configured.done || configured.err != nil {
		t.Fatalf("configure: rejected %v, done %v, error %v", configured.rejected, configured.done, configured.err)
	}
	want := map[int]customersync.CustomerConfig{1: old, 2: next}
	checked := map[int]bool{}
	for _, c := range l.calls {
		cfg, ok := want[c.cycle]
		if !ok {
			t.Errorf("%s ran in cycle %d; want 2 cycles", c.activity, c.cycle)
			continue
		}
		if c.bucket != cfg.Bucket || c.crm != cfg.CRM {
			t.Errorf("cycle %d: %s got bucket %s and CRM %s, want %s and %s", c.cycle, c.activity, c.bucket, c.crm, cfg.Bucket, cfg.CRM)
		}
		if c.activity == "SyncBatch" && c.ack != cfg.AckMode {
			t.Errorf("cycle %d: SyncBatch got ack mode %s, want %s", c.cycle, c.ack, cfg.AckMode)
		}
		if (c.activity == "Poll" || c.activity == "CollectResults") && c.results != cfg.OpportunityResults {
			t.Errorf("cycle %d: %s got results folder %s, want %s", c.cycle, c.activity, c.results, cfg.OpportunityResults)
		}
		if c.activity == "Check" {
			checked[c.cycle] = true
		}
	}
	if !checked[2] {
		t.Errorf("the new configuration's access was never checked (the first cycle's check of the old one counted for it); calls: %+v", l.calls)
	}
	if l.polls != 2 {
		t.Errorf("%d cycles polled, want 2", l.polls)
	}
}

// A check sent while a cycle runs waits for the cycle: its activity never runs beside the
// cycle's, and it still answers.
func TestCheckMidCycleRunsAfterTheCycle(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	env.RegisterActivity(act)
	l := &activityLog{}
	mockCycle(env, l, 30*time.Second)

	cfg := validConfig()
	cfg.SpmsID = "12345"
	cfg.PollInterval = time.Hour
	checked := &completion{}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(customersync.UpdateCheck, "check", checked)
	}, 10*time.Second) // while the cycle's own access check runs
	env.ExecuteWorkflow(CustomerSync, customersync.SyncInput{Config: cfg, CyclesPerRun: 1})

	if checked.rejected != nil || !checked.done || checked.err != nil {
		t.Fatalf("check: rejected %v, answered %v, error %v", checked.rejected, checked.done, checked.err)
	}
	if rep, ok := checked.result.(customersync.CheckReport); ok && !rep.OK() {
		t.Errorf("check answered %+v, want a working chain", rep)
	}
	if l.maxAtOnce != 1 {
		t.Errorf("%d activities ran at once: the check ran beside the cycle; calls in order of completion: %+v", l.maxAtOnce, l.calls)
	}
	if l.checks != 2 || l.calls[len(l.calls)-1].activity != "Check" {
		t.Errorf("calls in order of completion: %+v; want the cycle's, then the operator's check", l.calls)
	}
}

// Runs started before versionCycleSnapshot keep what their histories recorded: the check
// runs at once, beside the cycle, and the cycle reads the configuration live.
func TestBeforeCycleSnapshotCheckRunsBesideTheCycle(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	env.RegisterActivity(act)
	env.OnGetVersion(versionCycleSnapshot, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	l := &activityLog{}
	mockCycle(env, l, 30*time.Second)
	cfg := validConfig()
	cfg.SpmsID = "12345"
	next := cfg
	next.Bucket = "ace-apn-67890-prod-us-west-2"
	checked, configured := &completion{}, &completion{}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(customersync.UpdateCheck, "check", checked)
		env.UpdateWorkflow(customersync.UpdateConfigure, "configure", configured, next)
	}, 10*time.Second)
	env.ExecuteWorkflow(CustomerSync, customersync.SyncInput{Config: cfg, CyclesPerRun: 1})
	if !checked.done || !configured.done {
		t.Fatalf("check answered %v, configure %v", checked.done, configured.done)
	}
	if l.maxAtOnce != 2 {
		t.Errorf("%d activities at once on the old version, want the check beside the cycle's", l.maxAtOnce)
	}
	if i := slices.IndexFunc(l.calls, func(c seenConfig) bool { return c.activity == "Poll" }); i < 0 || l.calls[i].bucket != next.Bucket {
		t.Errorf("old version: the cycle's poll got %+v, want the configuration read live (%s)", l.calls, next.Bucket)
	}
}
