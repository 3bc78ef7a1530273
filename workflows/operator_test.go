package workflows

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/customersync"
)

// upserts records every operator search attribute the workflow publishes (nil: removed).
type upserts struct {
	names  []string
	values []any
}

func (u *upserts) count(name string) int {
	n := 0
	for _, k := range u.names {
		if k == name {
			n++
		}
	}
	return n
}

// last returns the attribute's last published value (nil: removed), and whether any was.
func (u *upserts) last(name string) (any, bool) {
	var v any
	found := false
	for i, k := range u.names {
		if k == name {
			v, found = u.values[i], true
		}
	}
	return v, found
}

func newOperatorEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *upserts) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	env.RegisterActivity(act)
	u := &upserts{}
	traceUpsert = func(name string, v any) { u.names, u.values = append(u.names, name), append(u.values, v) }
	t.Cleanup(func() { traceUpsert = func(string, any) {} })
	return env, u
}

// A broken role: SyncState and BrokenLink say so, published once however many cycles
// re-check; once fixed, BrokenLink is removed.
func TestBrokenLinkPublishedOnceAndRemovedWhenFixed(t *testing.T) {
	env, u := newOperatorEnv(t)
	fixed := false
	env.OnActivity(act.Check, anyCtx, anyArg).Return(func(context.Context, customersync.CheckInput) (customersync.CheckReport, error) {
		if fixed {
			return customersync.CheckReport{}, nil
		}
		return customersync.CheckReport{Broken: customersync.StepAssumeRole, Link: customersync.BrokenLinkAssumeRole,
			Diagnosis: "sts:AssumeRole is broken: refused"}, nil
	})
	env.OnActivity(act.ListOutbound, anyCtx, anyArg).Return(customersync.ListResult{}, nil)
	var broken customersync.Status
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(customersync.QueryStatus)
		if err == nil {
			err = v.Get(&broken)
		}
		if err != nil {
			t.Error(err)
		}
		fixed = true
		env.SignalWorkflow(customersync.SignalSyncNow, nil)
	}, 3*time.Hour) // several back-off cycles
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(customersync.UpdateOffboard, "1", &updateCallbacks{t: t})
	}, 4*time.Hour)
	cfg := validConfig()
	cfg.PollInterval = time.Minute
	env.ExecuteWorkflow(CustomerSync, customersync.SyncInput{Config: cfg})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if broken.Health != customersync.HealthNeedsAttention || broken.State.BrokenLink != customersync.BrokenLinkAssumeRole || broken.State.Cycles < 3 {
		t.Fatalf("while broken: health %s, link %q after %d cycles; want needs-attention, %s, several cycles",
			broken.Health, broken.State.BrokenLink, broken.State.Cycles, customersync.BrokenLinkAssumeRole)
	}
	if n := u.count(customersync.SearchBrokenLink.GetName()); n != 2 {
		t.Errorf("BrokenLink upserted %d times over %d broken cycles and one fix; want 2 (set, then removed)", n, broken.State.Cycles)
	}
	if v, _ := u.last(customersync.SearchBrokenLink.GetName()); v != nil {
		t.Errorf("BrokenLink is %v after the fix; want it removed", v)
	}
}

// A quarantined file and an inbound file awaiting ACE show as counts, published when they
// change only, and removed when back to zero.
func TestQuarantineAndAwaitingCountsPublishedOnChange(t *testing.T) {
	env, u := newOperatorEnv(t)
	bad := customersync.ObjectRef{Key: "opportunity-outbound/bad.json", ETag: `"e1"`}
	lists := 0
	env.OnActivity(act.Check, anyCtx, anyArg).Return(customersync.CheckReport{}, nil)
	env.OnActivity(act.Poll, anyCtx, anyArg).Return(func(_ context.Context, in customersync.PollInput) (customersync.PollResult, error) {
		lists++
		res := customersync.PollResult{Changes: lists == 1, Results: in.Inbound != nil && len(in.Inbound.Pending) > 0}
		if lists == 1 {
			res.Objects = []customersync.ObjectRef{bad}
		}
		return res, nil
	})
	env.OnActivity(act.SyncBatch, anyCtx, anyArg).Return(customersync.SyncBatchResult{
		Quarantined: []customersync.BadFile{{Key: bad.Key, ETag: bad.ETag, Reason: "invalid JSON at byte 3"}}}, nil)
	sends := 0
	env.OnActivity(act.SendChanges, anyCtx, anyArg).Return(func(_ context.Context, in customersync.SendInput) (customersync.SendResult, error) {
		sends++
		if sends == 1 {
			return customersync.SendResult{After: in.After, Sent: []customersync.SentFile{{Key: "opportunity-inbound/p1.json"}}}, nil
		}
		return customersync.SendResult{After: in.After}, nil
	})
	results := 0
	env.OnActivity(act.CollectResults, anyCtx, anyArg).Return(func(context.Context, customersync.ResultsInput) (customersync.ResultsOutput, error) {
		results++
		if results < 3 {
			return customersync.ResultsOutput{}, nil // ACE has not answered yet
		}
		return customersync.ResultsOutput{Resolved: []string{"opportunity-inbound/p1.json"}, Accepted: 1}, nil
	})
	var during customersync.Status
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(customersync.QueryStatus)
		if err == nil {
			err = v.Get(&during)
		}
		if err != nil {
			t.Error(err)
		}
		env.UpdateWorkflow(customersync.UpdateRedrive, "r", &updateCallbacks{t: t}, customersync.RedriveRequest{})
	}, 30*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(customersync.UpdateOffboard, "o", &updateCallbacks{t: t})
	}, 2*time.Hour)
	cfg := validConfig()
	cfg.PollInterval = 10 * time.Minute
	cfg.SpmsID = "demo"
	env.ExecuteWorkflow(CustomerSync, customersync.SyncInput{Config: cfg})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if during.State.Cycles < 3 || len(during.State.Quarantine) != 1 {
		t.Fatalf("after %d cycles quarantine is %+v; want several cycles with one file", during.State.Cycles, during.State.Quarantine)
	}
	if n := u.count(customersync.SearchQuarantined.GetName()); n != 2 {
		t.Errorf("QuarantinedFiles upserted %d times; want 2 (1, then removed by the redrive)", n)
	}
	if n := u.count(customersync.SearchAwaitingACE.GetName()); n != 2 {
		t.Errorf("AwaitingAceResults upserted %d times; want 2 (1, then removed once ACE answered)", n)
	}
	if v, ok := u.last(customersync.SearchQuarantined.GetName()); !ok || v != nil {
		t.Errorf("QuarantinedFiles is %v (set: %v) at the end; want removed", v, ok)
	}
	if n := u.count(customersync.SearchBrokenLink.GetName()); n != 0 {
		t.Errorf("BrokenLink upserted %d times for a customer whose access never broke", n)
	}
}

// The current details: the verdict first, short punctuated lines, the role ARN nowhere.
func TestWaitingDetailsVerdictFirstWithoutRoleARN(t *testing.T) {
	cfg := validConfig()
	next := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	diag := "sts:AssumeRole is broken: assume role " + cfg.RoleARN + " for customer acme/prod: AssumeRole on " + cfg.RoleARN + " was refused (AccessDenied)"
	tests := []struct {
		name  string
		state customersync.State
		first string
		has   []string
	}{
		{"never synced", customersync.State{}, "Waiting for the first cycle at 2026-12-01T10:00:00Z.", nil},
		{"healthy", customersync.State{Cycles: 3, LastCycle: &customersync.CycleSummary{Number: 3, Counts: customersync.Counts{Files: 2, Records: 5}},
			Quarantine: []customersync.QuarantinedFile{{Key: "k"}}, Pending: []customersync.PendingFile{{}, {}}},
			"Healthy.", []string{"Last cycle #3 synced 2 files, 5 records.", "1 file quarantined", "2 inbound files await ACE's answer."}},
		{"broken role", customersync.State{Cycles: 1, LastCycle: &customersync.CycleSummary{Number: 1, Errors: []string{diag}}, ConsecutiveFailures: 1,
			AccessBroken: true, Diagnosis: diag, BrokenLink: customersync.BrokenLinkAssumeRole, LastError: diag},
			"Needs attention: sts:AssumeRole is broken.", []string{"trust policy", "Re-checking at 2026-12-01T10:00:00Z"}},
		{"backing off", customersync.State{Cycles: 2, LastCycle: &customersync.CycleSummary{Number: 2, Errors: []string{"x"}}, ConsecutiveFailures: 2,
			LastError: "list opportunity-outbound/ for customer acme/prod as " + cfg.RoleARN + ": " + strings.Repeat("throttled ", 40)},
			"Backing off: 2 failed cycles in a row.", []string{"Last error: list opportunity-outbound/", "…", "Retrying at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &customerSync{cfg: cfg, state: tt.state, nextCycleAt: next}
			got := w.waitingDetails()
			lines := strings.Split(got, "\n\n")
			if lines[0] != tt.first {
				t.Errorf("first line %q, want %q (details:\n%s)", lines[0], tt.first, got)
			}
			for _, h := range tt.has {
				if !strings.Contains(got, h) {
					t.Errorf("details lack %q:\n%s", h, got)
				}
			}
			if strings.Contains(got, cfg.RoleARN) {
				t.Errorf("details repeat the role ARN:\n%s", got)
			}
			for _, l := range lines {
				if len([]rune(l)) > 200 || !strings.HasSuffix(l, ".") && !strings.HasSuffix(l, "…") && !strings.HasSuffix(l, "reasons.") {
					t.Errorf("line %q is too long or unpunctuated", l)
				}
			}
		})
	}
}

// `make search-attributes` registers exactly the attributes the workflow publishes (the
// dev stack registers SearchAttributeTypes itself).
func TestMakefileRegistersEverySearchAttribute(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`search-attribute create --name (\w+) --type (\w+)`).FindAllStringSubmatch(string(b), -1) {
		got[m[1]] = m[2]
	}
	if want := customersync.SearchAttributeTypes(); !maps.Equal(got, want) {
		t.Errorf("make search-attributes registers %v, want %v", got, want)
	}
}

// The ready-made lists are valid list URLs with the query URL-encoded.
