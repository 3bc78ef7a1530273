package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/customersync"
)

// Continue-as-new hands every piece of state to the next run: configuration, totals, the
// quarantine list, tag acknowledgements, pause, diagnosis and the cycle counter.
func TestContinueAsNewKeepsEveryPieceOfState(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	env.RegisterActivity(act)
	env.OnActivity(act.Check, anyCtx, anyArg).Return(customersync.CheckReport{}, nil)
	env.OnActivity(act.ListOutbound, anyCtx, anyArg).Return(customersync.ListResult{}, nil)
	env.OnActivity(act.Poll, anyCtx, anyArg).Return(customersync.PollResult{}, nil)

	cfg := validConfig()
	cfg.PollInterval = time.Minute
	state := customersync.State{
		Cycles: 41,
		Totals: customersync.Counts{Files: 7, Records: 70, Inserted: 60, Updated: 10, Quarantined: 1},
		Quarantine: []customersync.QuarantinedFile{{Key: "opportunity-outbound/bad.json", ETag: `"e1"`, Reason: "invalid JSON",
			At: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}},
		Acked:         map[string]string{"lead-outbound/a.json": `"e2"`},
		LastSuccessAt: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),
	}
	env.ExecuteWorkflow(CustomerSync, customersync.SyncInput{Config: cfg, State: state, CyclesPerRun: 2})

	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next customersync.SyncInput
	if err := converterFor(t).FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.Config != cfg {
		t.Errorf("config not carried over:\n got %+v\nwant %+v", next.Config, cfg)
	}
	if next.CyclesPerRun != 2 {
		t.Errorf("CyclesPerRun = %d", next.CyclesPerRun)
	}
	if next.State.Cycles != 43 || next.State.Totals != state.Totals {
		t.Errorf("cycles %d totals %+v, want 43 cycles and unchanged totals", next.State.Cycles, next.State.Totals)
	}
	if len(next.State.Quarantine) != 1 || next.State.Quarantine[0] != state.Quarantine[0] {
		t.Errorf("quarantine not carried over: %+v", next.State.Quarantine)
	}
	if next.State.Acked["lead-outbound/a.json"] != `"e2"` {
		t.Errorf("tag acknowledgements not carried over: %+v", next.State.Acked)
	}
	if next.State.LastSuccessAt.IsZero() || !next.State.LastSuccessAt.After(state.LastSuccessAt) {
		t.Errorf("last success %s not carried over", next.State.LastSuccessAt)
	}
}

// A paused customer runs no cycle, keeps its pause reason, and can still be offboarded.
func TestPausedCustomerRunsNoCycleUntilOffboarded(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	env.RegisterActivity(act)
	env.OnActivity(act.Check, anyCtx, anyArg).Return(customersync.CheckReport{}, nil)
	env.OnActivity(act.ListOutbound, anyCtx, anyArg).Return(customersync.ListResult{}, nil)
	state := customersync.State{Paused: true, PauseReason: "migration", PausedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		AccessBroken: true, Diagnosis: "sts:AssumeRole is broken"}
	// While paused no cycle runs; the test offboards after an hour of workflow time.
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(customersync.UpdateOffboard, "1", &updateCallbacks{t: t})
	}, time.Hour)
	env.ExecuteWorkflow(CustomerSync, customersync.SyncInput{Config: validConfig(), State: state})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("offboarded workflow ended with %v", err)
	}
	v, err := env.QueryWorkflow(customersync.QueryStatus)
	if err != nil {
		t.Fatal(err)
	}
	var st customersync.Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	if !st.State.Paused || st.State.PauseReason != "migration" || st.State.Cycles != 0 {
		t.Errorf("paused state = %+v, want still paused with no cycle run", st.State)
	}
}

var anyCtx, anyArg = mock.Anything, mock.Anything

type updateCallbacks struct{ t *testing.T }

func (u *updateCallbacks) Accept()             {}
func (u *updateCallbacks) Reject(err error)    { u.t.Errorf("update rejected: %v", err) }
func (u *updateCallbacks) Complete(any, error) {}

func converterFor(t *testing.T) interface {
	FromPayloads(*commonpb.Payloads, ...any) error
} {
	t.Helper()
	return converter.GetDefaultDataConverter()
}

// rejectCallbacks records whether an update was rejected, and why.
type rejectCallbacks struct {
	rejected error
	accepted bool
}

func (u *rejectCallbacks) Accept()             { u.accepted = true }
func (u *rejectCallbacks) Reject(err error)    { u.rejected = err }
func (u *rejectCallbacks) Complete(any, error) {}

// The configure update's validator refuses a CRM URL with an inline credential, so the
// credential never reaches history; a well-formed new configuration is accepted.
func TestConfigureRefusesInlineCRMCredential(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	env.RegisterActivity(act)
	env.OnActivity(act.Check, anyCtx, anyArg).Return(customersync.CheckReport{}, nil)
	env.OnActivity(act.ListOutbound, anyCtx, anyArg).Return(customersync.ListResult{}, nil)
	bad := map[string]*rejectCallbacks{
		"hubspot://api.hubapi.com?token=pat-na1-11111111-2222":                          {},
		"salesforce://login.salesforce.com?client_id=abc&refresh_token=5Aep861secretRT": {},
	}
	good := &rejectCallbacks{}
	env.RegisterDelayedCallback(func() {
		for u, cb := range bad {
			cfg := validConfig()
			cfg.CRM = u
			env.UpdateWorkflow(customersync.UpdateConfigure, u, cb, cfg)
		}
		cfg := validConfig()
		cfg.CRM = "hubspot://api.hubapi.com?token_env=HUBSPOT_TOKEN"
		env.UpdateWorkflow(customersync.UpdateConfigure, "good", good, cfg)
	}, time.Minute)
	env.RegisterDelayedCallback(func() { env.UpdateWorkflow(customersync.UpdateOffboard, "offboard", &updateCallbacks{t: t}) }, time.Hour)
	env.ExecuteWorkflow(CustomerSync, customersync.SyncInput{Config: validConfig()})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow ended with %v", err)
	}
	for u, cb := range bad {
		if cb.accepted || cb.rejected == nil {
			t.Errorf("configure with CRM %s was accepted", u)
			continue
		}
		for _, secret := range []string{"pat-na1", "5Aep861secretRT"} {
			if strings.Contains(cb.rejected.Error(), secret) {
				t.Errorf("the refusal repeats the credential: %v", cb.rejected)
			}
		}
	}
	if !good.accepted || good.rejected != nil {
		t.Errorf("configure with a referenced token: accepted %v, rejected %v", good.accepted, good.rejected)
	}
}
