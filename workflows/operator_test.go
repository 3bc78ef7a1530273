package workflows

import (
	"context"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/activities"
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
	env.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: WorkflowName})
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
	env.OnActivity(act.Check, anyCtx, anyArg).Return(func(context.Context, activities.CheckInput) (activities.CheckReport, error) {
		if fixed {
			return activities.CheckReport{}, nil
		}
		return activities.CheckReport{Broken: activities.StepAssumeRole, Link: activities.LinkAssumeRole,
			Diagnosis: "sts:AssumeRole is broken: refused"}, nil
	})
	env.OnActivity(act.ListOutbound, anyCtx, anyArg).Return(activities.ListResult{}, nil)
	var broken Status
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryStatus)
		if err == nil {
			err = v.Get(&broken)
		}
		if err != nil {
			t.Error(err)
		}
		fixed = true
		env.SignalWorkflow(SignalSyncNow, nil)
	}, 3*time.Hour) // several back-off cycles
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateOffboard, "1", &updateCallbacks{t: t})
	}, 4*time.Hour)
	cfg := validConfig()
	cfg.PollInterval = time.Minute
	env.ExecuteWorkflow(CustomerSync, SyncInput{Config: cfg})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if broken.Health != HealthNeedsAttention || broken.State.BrokenLink != BrokenLinkAssumeRole || broken.State.Cycles < 3 {
		t.Fatalf("while broken: health %s, link %q after %d cycles; want needs-attention, %s, several cycles",
			broken.Health, broken.State.BrokenLink, broken.State.Cycles, BrokenLinkAssumeRole)
	}
	if n := u.count(SearchBrokenLink.GetName()); n != 2 {
		t.Errorf("BrokenLink upserted %d times over %d broken cycles and one fix; want 2 (set, then removed)", n, broken.State.Cycles)
	}
	if v, _ := u.last(SearchBrokenLink.GetName()); v != nil {
		t.Errorf("BrokenLink is %v after the fix; want it removed", v)
	}
}

// A quarantined file and an inbound file awaiting ACE show as counts, published when they
// change only, and removed when back to zero.
func TestQuarantineAndAwaitingCountsPublishedOnChange(t *testing.T) {
	env, u := newOperatorEnv(t)
	bad := activities.ObjectRef{Key: "opportunity-outbound/bad.json", ETag: `"e1"`}
	lists := 0
	env.OnActivity(act.Check, anyCtx, anyArg).Return(activities.CheckReport{}, nil)
	env.OnActivity(act.Poll, anyCtx, anyArg).Return(func(_ context.Context, in activities.PollInput) (activities.PollResult, error) {
		lists++
		res := activities.PollResult{Changes: lists == 1, Results: in.Inbound != nil && len(in.Inbound.Pending) > 0}
		if lists == 1 {
			res.Objects = []activities.ObjectRef{bad}
		}
		return res, nil
	})
	env.OnActivity(act.SyncBatch, anyCtx, anyArg).Return(activities.SyncBatchResult{
		Quarantined: []activities.BadFile{{Key: bad.Key, ETag: bad.ETag, Reason: "invalid JSON at byte 3"}}}, nil)
	sends := 0
	env.OnActivity(act.SendChanges, anyCtx, anyArg).Return(func(_ context.Context, in activities.SendInput) (activities.SendResult, error) {
		sends++
		if sends == 1 {
			return activities.SendResult{After: in.After, Sent: []activities.SentFile{{Key: "opportunity-inbound/p1.json"}}}, nil
		}
		return activities.SendResult{After: in.After}, nil
	})
	results := 0
	env.OnActivity(act.CollectResults, anyCtx, anyArg).Return(func(context.Context, activities.ResultsInput) (activities.ResultsOutput, error) {
		results++
		if results < 3 {
			return activities.ResultsOutput{}, nil // ACE has not answered yet
		}
		return activities.ResultsOutput{Resolved: []string{"opportunity-inbound/p1.json"}, Accepted: 1}, nil
	})
	var during Status
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryStatus)
		if err == nil {
			err = v.Get(&during)
		}
		if err != nil {
			t.Error(err)
		}
		env.UpdateWorkflow(UpdateRedrive, "r", &updateCallbacks{t: t}, RedriveRequest{})
	}, 30*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateOffboard, "o", &updateCallbacks{t: t})
	}, 2*time.Hour)
	cfg := validConfig()
	cfg.PollInterval = 10 * time.Minute
	cfg.SpmsID = "demo"
	env.ExecuteWorkflow(CustomerSync, SyncInput{Config: cfg})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if during.State.Cycles < 3 || len(during.State.Quarantine) != 1 {
		t.Fatalf("after %d cycles quarantine is %+v; want several cycles with one file", during.State.Cycles, during.State.Quarantine)
	}
	if n := u.count(SearchQuarantined.GetName()); n != 2 {
		t.Errorf("QuarantinedFiles upserted %d times; want 2 (1, then removed by the redrive)", n)
	}
	if n := u.count(SearchAwaitingACE.GetName()); n != 2 {
		t.Errorf("AwaitingAceResults upserted %d times; want 2 (1, then removed once ACE answered)", n)
	}
	if v, ok := u.last(SearchQuarantined.GetName()); !ok || v != nil {
		t.Errorf("QuarantinedFiles is %v (set: %v) at the end; want removed", v, ok)
	}
	if n := u.count(SearchBrokenLink.GetName()); n != 0 {
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
		state SyncState
		first string
		has   []string
	}{
		{"never synced", SyncState{}, "Waiting for the first cycle at 2026-12-01T10:00:00Z.", nil},
		{"healthy", SyncState{Cycles: 3, LastCycle: &CycleSummary{Number: 3, Counts: Counts{Files: 2, Records: 5}},
			Quarantine: []QuarantinedFile{{Key: "k"}}, Pending: []PendingFile{{}, {}}},
			"Healthy.", []string{"Last cycle #3 synced 2 files, 5 records.", "1 file quarantined", "2 inbound files await ACE's answer."}},
		{"broken role", SyncState{Cycles: 1, LastCycle: &CycleSummary{Number: 1, Errors: []string{diag}}, ConsecutiveFailures: 1,
			AccessBroken: true, Diagnosis: diag, BrokenLink: BrokenLinkAssumeRole, LastError: diag},
			"Needs attention: sts:AssumeRole is broken.", []string{"trust policy", "Re-checking at 2026-12-01T10:00:00Z"}},
		{"backing off", SyncState{Cycles: 2, LastCycle: &CycleSummary{Number: 2, Errors: []string{"x"}}, ConsecutiveFailures: 2,
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
	if want := SearchAttributeTypes(); !maps.Equal(got, want) {
		t.Errorf("make search-attributes registers %v, want %v", got, want)
	}
}

// The ready-made lists are valid list URLs with the query URL-encoded.
func TestOperatorViewsURLs(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	views := OperatorViews(now)
	if len(views) < 5 || views[0].Query != `ExecutionStatus = "Running" AND SyncState = "needs-attention"` {
		t.Fatalf("views %+v", views)
	}
	if last := views[len(views)-1].Query; !strings.Contains(last, `LastSyncSuccess < "2026-11-30T09:30:00Z" OR LastSyncSuccess IS NULL`) {
		t.Errorf("not synced for a day: %s", last)
	}
	u, err := url.Parse(ListURL("http://127.0.0.1:8233/", "default", views[0].Query))
	if err != nil || u.Path != "/namespaces/default/workflows" || u.Query().Get("query") != views[0].Query || strings.Contains(u.RawQuery, " ") {
		t.Errorf("list URL %v (%v)", u, err)
	}
}
