package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/apimapping"
	"github.com/oppsync/oppsync/crm"
	crmsqlite "github.com/oppsync/oppsync/crm/sqlite"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack/sellingcontract"
	"github.com/oppsync/oppsync/sellingapi"
)

// sellingFixture runs the API transport's activities against the Selling API contract
// server (in process, over HTTP) and the SQLite CRM in t.TempDir.
type sellingFixture struct {
	*fixture
	srv   *sellingcontract.Server
	store *flakyCRM
}

// flakyCRM is the SQLite CRM whose outcome writes fail (transiently, before writing) while
// failRecord says so: a worker dying between an API call and the CRM write-back.
type flakyCRM struct {
	*crmsqlite.Store
	mu         sync.Mutex
	failRecord func(o crm.Outcome) bool
	refuse     string // an ACE id Upsert refuses
}

var errCRMDown = errors.New("CRM unreachable (test)")

// Upsert refuses the record whose ACE id is refuse, as a CRM's validation rule would, and
// writes the others.
func (c *flakyCRM) Upsert(ctx context.Context, src crm.Source, records []ace.Record) (crm.UpsertResult, error) {
	c.mu.Lock()
	refuse := c.refuse
	c.mu.Unlock()
	var keep []ace.Record
	var refused []crm.RefusedRecord
	for _, r := range records {
		if r.ACEID == refuse {
			refused = append(refused, crm.RefusedRecord{ACEID: r.ACEID, Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Fields: []string{"stage"}})
			continue
		}
		keep = append(keep, r)
	}
	res, err := c.Store.Upsert(ctx, src, keep)
	if err == nil && len(refused) > 0 {
		err = &crm.BatchError{CRM: "test CRM", Source: src.Key, Records: refused}
	}
	return res, err
}

func (c *flakyCRM) Record(ctx context.Context, o crm.Outcome) error {
	c.mu.Lock()
	fail := c.failRecord != nil && c.failRecord(o)
	c.mu.Unlock()
	if fail {
		return errCRMDown
	}
	return c.Store.Record(ctx, o)
}

func newSellingFixture(t *testing.T, opts ...sellingcontract.Option) *sellingFixture {
	t.Helper()
	f := newFixture(t)
	srv, err := sellingcontract.New(append([]sellingcontract.Option{sellingcontract.WithQuotas(rate.Inf, rate.Inf)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	// Unlimited on the worker's side too, unless a test sets quotas: the tests count calls.
	SetSellingLimits(f.acts, 0, 0, hs.URL, sellingapi.WithThrottleRetries(3, 10*time.Millisecond, 50*time.Millisecond))
	store := &flakyCRM{Store: f.crm.Store}
	f.acts.stores[f.crmURL] = store
	f.target.RoleARN = "arn:aws:iam::" + sellingcontract.DefaultAccountID + ":role/oppsync"
	return &sellingFixture{fixture: f, srv: srv, store: store}
}

// apiOpportunity is validOpportunity (sendchanges_test.go) with a stage, which ACE's rules
// require on updates, and edit applied.
func apiOpportunity(t *testing.T, partnerID string, edit func(map[string]any)) json.RawMessage {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal(validOpportunity(t, partnerID), &rec); err != nil {
		t.Fatal(err)
	}
	rec["stage"] = "Prospect"
	if edit != nil {
		edit(rec)
	}
	out, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *sellingFixture) push(t *testing.T, after map[string]int64, force ...bool) (customersync.PushResult, error) {
	t.Helper()
	var res customersync.PushResult
	err := f.run(f.acts.PushChanges, customersync.PushInput{Target: f.target, CRM: f.crmURL, After: after, Limit: 200, Force: len(force) > 0}, &res)
	return res, err
}

func (f *sellingFixture) pull(t *testing.T, in customersync.PullInput) customersync.PullResult {
	t.Helper()
	in.Target, in.CRM = f.target, f.crmURL
	var res customersync.PullResult
	if err := f.run(f.acts.PullOpportunities, in, &res); err != nil {
		t.Fatalf("PullOpportunities: %v", err)
	}
	return res
}

func (f *sellingFixture) record(t *testing.T, partnerID string) crm.Record {
	t.Helper()
	recs, err := f.store.List(context.Background(), ace.ObjectOpportunity)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.PartnerID == partnerID {
			return r
		}
	}
	t.Fatalf("no opportunity with partner id %s in the CRM (%d records)", partnerID, len(recs))
	return crm.Record{}
}

func (f *sellingFixture) opportunities(t *testing.T) []sellingapi.OpportunitySummary {
	t.Helper()
	acts, _ := f.acts.sellingClient(context.Background(), f.target)
	out, err := acts.ListOpportunities(context.Background(), &sellingapi.ListOpportunitiesInput{Catalog: catalog(f.target)})
	if err != nil {
		t.Fatal(err)
	}
	return out.OpportunitySummaries
}

// A partner opportunity created in the CRM reaches ACE once, even when the worker dies
// after CreateOpportunity and before the CRM write-back: the retry's CreateOpportunity
// carries the same ClientToken, gets the same opportunity back and links it.
func TestPushCreatesOnceAcrossACrash(t *testing.T) {
	f := newSellingFixture(t)
	ctx := context.Background()
	if _, err := f.store.Create(ctx, ace.ObjectOpportunity, "CRM-1", apiOpportunity(t, "CRM-1", nil)); err != nil {
		t.Fatal(err)
	}
	f.store.failRecord = func(crm.Outcome) bool { return true } // the attempt dies before its write-back
	if _, err := f.push(t, nil); !errors.Is(err, errCRMDown) && (err == nil || !strings.Contains(err.Error(), errCRMDown.Error())) {
		t.Fatalf("first attempt: %v, want the CRM's failure", err)
	}
	f.store.failRecord = nil
	res, err := f.push(t, nil)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	calls := f.srv.Calls()
	if calls["CreateOpportunity"] != 2 || res.Created != 1 {
		t.Errorf("CreateOpportunity called %d times (want 2: the attempt and its retry), created %d", calls["CreateOpportunity"], res.Created)
	}
	if opps := f.opportunities(t); len(opps) != 1 {
		t.Fatalf("ACE holds %d opportunities, want 1", len(opps))
	}
	rec := f.record(t, "CRM-1")
	if !opportunityIDPattern.MatchString(rec.ACEID) || rec.SyncStatus != crm.SyncAccepted {
		t.Errorf("CRM record: ACE id %q status %s (errors %v), want an O… id and accepted", rec.ACEID, rec.SyncStatus, rec.SyncErrors)
	}
	if res.Submitted != 1 || calls["AssociateOpportunity"] != 2*3 {
		t.Errorf("submitted %d, AssociateOpportunity calls %d (3 entities, twice)", res.Submitted, calls["AssociateOpportunity"])
	}
	t.Logf("API calls for one created record across a crash and a retry: %v", calls)

	// Nothing is pending any more: another push calls nothing.
	before := f.srv.Calls()
	if res, err := f.push(t, res.After); err != nil || res.Created+res.Updated != 0 {
		t.Fatalf("third push: %+v, %v", res, err)
	}
	if after := f.srv.Calls(); after["CreateOpportunity"] != before["CreateOpportunity"] || after["UpdateOpportunity"] != before["UpdateOpportunity"] {
		t.Errorf("a push with nothing pending wrote to ACE: %v → %v", before, after)
	}
}

// A crash between the two CRM writes (sent, then accepted) is finished by the next attempt
// from the CRM's sent record, without calling the API again.
func TestPushRecoversAWriteBackCutShort(t *testing.T) {
	f := newSellingFixture(t)
	ctx := context.Background()
	if _, err := f.store.Create(ctx, ace.ObjectOpportunity, "CRM-2", apiOpportunity(t, "CRM-2", func(m map[string]any) { m["status"] = "Draft" })); err != nil {
		t.Fatal(err)
	}
	f.store.failRecord = func(o crm.Outcome) bool { return o.Status == crm.SyncAccepted }
	if _, err := f.push(t, nil); err == nil {
		t.Fatal("first attempt succeeded, want the CRM's failure")
	}
	if rec := f.record(t, "CRM-2"); rec.SyncStatus != crm.SyncSent || rec.ACEID == "" {
		t.Fatalf("after the cut: status %s ACE id %q, want sent with the ACE id", rec.SyncStatus, rec.ACEID)
	}
	f.store.failRecord = nil
	res, err := f.push(t, nil)
	if err != nil || res.Recovered != 1 {
		t.Fatalf("retry: %+v, %v; want 1 recovered", res, err)
	}
	if rec := f.record(t, "CRM-2"); rec.SyncStatus != crm.SyncAccepted {
		t.Errorf("status %s, want accepted", rec.SyncStatus)
	}
	if n := f.srv.Calls()["CreateOpportunity"]; n != 1 {
		t.Errorf("CreateOpportunity called %d times, want 1", n)
	}
}

// An AWS-side update reaches the CRM; a concurrent edit on both sides of the same field
// ends in a rejection naming the conflict, not in a lost update; an edit of another field
// merges onto AWS's version.
func TestPullAndConcurrentEdits(t *testing.T) {
	f := newSellingFixture(t)
	ctx := context.Background()
	if _, err := f.store.Create(ctx, ace.ObjectOpportunity, "CRM-3", apiOpportunity(t, "CRM-3", func(m map[string]any) { m["status"] = "Draft" })); err != nil {
		t.Fatal(err)
	}
	push, err := f.push(t, nil)
	if err != nil || push.Created != 1 {
		t.Fatalf("push: %+v, %v", push, err)
	}
	id := f.record(t, "CRM-3").ACEID
	pull := f.pull(t, customersync.PullInput{})
	if pull.Records != 1 || len(pull.Quarantined) != 0 {
		t.Fatalf("first pull: %+v", pull)
	}

	// AWS edits the next step; the pull brings it.
	if err := f.srv.UpdateOpportunityAsAWS("", "AWS", id, map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS review scheduled"}}); err != nil {
		t.Fatal(err)
	}
	pull = f.pull(t, customersync.PullInput{After: pull.Watermark, AtWatermark: pull.AtWatermark})
	if pull.Updated != 1 {
		t.Fatalf("pull after AWS's edit: %+v, want 1 updated", pull)
	}
	if got := field(t, f.record(t, "CRM-3"), "nextStep"); got != "AWS review scheduled" {
		t.Errorf("CRM nextStep %q, want AWS's", got)
	}
	// Pulled again: nothing new (the watermark's ids are skipped).
	if again := f.pull(t, customersync.PullInput{After: pull.Watermark, AtWatermark: pull.AtWatermark}); again.Records != 0 {
		t.Errorf("pull at the watermark read %d records again, want 0", again.Records)
	}

	// Both sides edit nextStep: a conflict, surfaced on the record.
	if err := f.srv.UpdateOpportunityAsAWS("", "AWS", id, map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS: call the customer"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Edit(ctx, ace.ObjectOpportunity, "CRM-3", json.RawMessage(`{"nextStep":"Partner: send the proposal"}`)); err != nil {
		t.Fatal(err)
	}
	push, err = f.push(t, push.After, true)
	if err != nil || push.Conflicts != 1 {
		t.Fatalf("push of the conflicting edit: %+v, %v (record: %s %v)", push, err, f.record(t, "CRM-3").SyncStatus, f.record(t, "CRM-3").SyncErrors)
	}
	rec := f.record(t, "CRM-3")
	if rec.SyncStatus != crm.SyncRejected || len(rec.SyncErrors) == 0 || !strings.Contains(rec.SyncErrors[0], "nextStep") {
		t.Errorf("CRM record: %s %v, want rejected naming nextStep", rec.SyncStatus, rec.SyncErrors)
	}
	if got := awsNextSteps(t, f, id); got != "AWS: call the customer" {
		t.Errorf("AWS's nextStep %q: overwritten", got)
	}

	// The next pull brings AWS's value; the sales team takes it and edits another field
	// while AWS edits nextStep again: merged, nothing lost.
	pull = f.pull(t, customersync.PullInput{After: pull.Watermark, AtWatermark: pull.AtWatermark})
	if pull.Updated != 1 {
		t.Fatalf("pull after the conflict: %+v", pull)
	}
	if err := f.srv.UpdateOpportunityAsAWS("", "AWS", id, map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS: workshop"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Edit(ctx, ace.ObjectOpportunity, "CRM-3", json.RawMessage(`{"nextStep":"AWS: call the customer","targetCloseDate":"2027-04-30"}`)); err != nil {
		t.Fatal(err)
	}
	push, err = f.push(t, push.After, true)
	if err != nil || push.Updated != 1 {
		t.Fatalf("push of a non-conflicting edit: %+v, %v (%v)", push, err, f.record(t, "CRM-3").SyncErrors)
	}
	if got := awsNextSteps(t, f, id); got != "AWS: workshop" {
		t.Errorf("AWS's nextStep %q after the merge, want AWS's newer value kept", got)
	}
}

// The cycle's order: the pull comes first and makes AWS's new version the record's last
// ACE version, so the edits both sides made since must be compared before it is applied.
// Different fields: the CRM keeps its edit and the push merges it onto AWS's version. The
// same field: the pull rejects the CRM's change with the conflict, the push sends nothing,
// AWS's value stays; the sales team's next edit goes.
func TestPullThenPushNeverOverwritesAWSConcurrentEdit(t *testing.T) {
	f := newSellingFixture(t)
	ctx := context.Background()
	if _, err := f.store.Create(ctx, ace.ObjectOpportunity, "CRM-4", apiOpportunity(t, "CRM-4", func(m map[string]any) { m["status"] = "Draft" })); err != nil {
		t.Fatal(err)
	}
	push, err := f.push(t, nil)
	if err != nil || push.Created != 1 {
		t.Fatalf("push: %+v, %v", push, err)
	}
	id := f.record(t, "CRM-4").ACEID
	cycle := func(what string) (customersync.PullResult, customersync.PushResult) {
		t.Helper()
		pull := f.pull(t, customersync.PullInput{Inbound: &customersync.PullInbound{After: push.After, Force: true}})
		if pull.Changes {
			if push, err = f.push(t, push.After, true); err != nil {
				t.Fatalf("%s: push: %v", what, err)
			}
		} else {
			push.Created, push.Updated, push.Conflicts, push.Rejected = 0, 0, 0, 0
		}
		return pull, push
	}
	cycle("after the create")

	// Different fields: both edits on both sides.
	if err := f.srv.UpdateOpportunityAsAWS("", "AWS", id, map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS: workshop booked"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Edit(ctx, ace.ObjectOpportunity, "CRM-4", json.RawMessage(`{"targetCloseDate":"2027-04-30"}`)); err != nil {
		t.Fatal(err)
	}
	pull, pushed := cycle("edits of different fields")
	if pull.Conflicts != 0 || pushed.Updated != 1 {
		t.Fatalf("edits of different fields: pull %+v, push %+v (record %s %v)", pull, pushed, f.record(t, "CRM-4").SyncStatus, f.record(t, "CRM-4").SyncErrors)
	}
	if got := awsNextSteps(t, f, id); got != "AWS: workshop booked" {
		t.Errorf("AWS's nextStep %q after the merge, want AWS's edit kept", got)
	}
	if rec := f.record(t, "CRM-4"); field(t, rec, "targetCloseDate") != "2027-04-30" || field(t, rec, "nextStep") != "AWS: workshop booked" {
		t.Errorf("CRM record: targetCloseDate %q nextStep %q, want both edits", field(t, rec, "targetCloseDate"), field(t, rec, "nextStep"))
	}
	cycle("AWS's version of the merge")

	// The same field: a conflict, AWS's value kept.
	if err := f.srv.UpdateOpportunityAsAWS("", "AWS", id, map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS: call the customer"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Edit(ctx, ace.ObjectOpportunity, "CRM-4", json.RawMessage(`{"nextStep":"Partner: send the proposal"}`)); err != nil {
		t.Fatal(err)
	}
	pull, pushed = cycle("edits of the same field")
	rec := f.record(t, "CRM-4")
	if pull.Conflicts != 1 || pushed.Updated != 0 {
		t.Errorf("edits of the same field: pull %+v, push %+v, want the pull's conflict and no update", pull, pushed)
	}
	if got := awsNextSteps(t, f, id); got != "AWS: call the customer" {
		t.Errorf("AWS's nextStep %q: AWS's concurrent edit was overwritten", got)
	}
	if rec.SyncStatus != crm.SyncRejected || len(rec.SyncErrors) == 0 || !strings.Contains(rec.SyncErrors[0], "conflict: nextStep") {
		t.Errorf("CRM record: %s %v, want rejected with a conflict naming nextStep", rec.SyncStatus, rec.SyncErrors)
	}

	// The sales team's next edit goes.
	if _, err := f.store.Edit(ctx, ace.ObjectOpportunity, "CRM-4", json.RawMessage(`{"nextStep":"Partner: proposal sent"}`)); err != nil {
		t.Fatal(err)
	}
	if pull, pushed = cycle("the edit after the conflict"); pushed.Updated != 1 {
		t.Errorf("the edit after the conflict: pull %+v, push %+v, want it sent", pull, pushed)
	}
	if got := awsNextSteps(t, f, id); got != "Partner: proposal sent" {
		t.Errorf("AWS's nextStep %q, want the sales team's edit after the conflict", got)
	}
}

func awsNextSteps(t *testing.T, f *sellingFixture, id string) string {
	t.Helper()
	c, _ := f.acts.sellingClient(context.Background(), f.target)
	o, err := c.GetOpportunity(context.Background(), &sellingapi.GetOpportunityInput{Catalog: catalog(f.target), Identifier: &id})
	if err != nil {
		t.Fatal(err)
	}
	if o.LifeCycle == nil || o.LifeCycle.NextSteps == nil {
		return ""
	}
	return *o.LifeCycle.NextSteps
}

func field(t *testing.T, r crm.Record, k string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Fields, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[k].(string)
	return s
}

// An AWS referral arrives masked, is accepted from the CRM, and the accepted opportunity
// then replaces the referral's record (no duplicate), unmasked.
func TestReferralAcceptedFromTheCRM(t *testing.T) {
	f := newSellingFixture(t)
	ctx := context.Background()
	// AWS's opportunity, complete: the S3 test record as the API holds it.
	var s3 map[string]any
	if err := json.Unmarshal(apiOpportunity(t, "ignored", func(m map[string]any) {
		delete(m, "partnerCrmUniqueIdentifier")
		m["customerCompanyName"], m["customerEmail"] = "Referred Corp", "ann@referred.example"
	}), &s3); err != nil {
		t.Fatal(err)
	}
	opp, _, issues := apimapping.ToAPIOutputs(s3)
	for _, k := range []string{"OpportunityTeam"} {
		delete(opp, k)
	}
	t.Logf("mapping issues of the referral's fixture: %v", issues)
	inv, err := f.srv.CreateReferral(sellingcontract.Referral{Opportunity: opp})
	if err != nil {
		t.Fatal(err)
	}
	pull := f.pull(t, customersync.PullInput{Referrals: true})
	if pull.Referrals != 1 || pull.Inserted != 1 {
		t.Fatalf("pull: %+v, want the referral inserted", pull)
	}
	recs, _ := f.store.List(ctx, ace.ObjectOpportunity)
	if len(recs) != 1 || recs[0].ACEID != inv || field(t, recs[0], "customerEmail") != ace.MaskedValue || field(t, recs[0], "opportunityOwnership") != "AWS Referral" {
		t.Fatalf("CRM after the pull: %+v", recs)
	}
	if _, err := f.store.Edit(ctx, ace.ObjectOpportunity, inv, json.RawMessage(`{"partnerAcceptanceStatus":"Accepted"}`)); err != nil {
		t.Fatal(err)
	}
	push, err := f.push(t, nil)
	if err != nil || push.Answered != 1 {
		t.Fatalf("push of the acceptance: %+v, %v", push, err)
	}
	// The record says where the accepted opportunity is.
	if accepted, _ := f.store.List(ctx, ace.ObjectOpportunity); len(accepted) != 1 || len(f.opportunities(t)) != 1 ||
		!slices.ContainsFunc(accepted[0].SyncWarnings, func(w string) bool { return strings.Contains(w, aws.ToString(f.opportunities(t)[0].Id)) }) {
		t.Errorf("after the acceptance the CRM holds %+v, want the record's warnings to name the opportunity", accepted)
	}
	pull = f.pull(t, customersync.PullInput{After: pull.Watermark, AtWatermark: pull.AtWatermark, Referrals: true})
	recs, _ = f.store.List(ctx, ace.ObjectOpportunity)
	if len(recs) != 1 {
		t.Fatalf("CRM holds %d opportunities after the acceptance, want 1 (the referral's record, now the opportunity): %+v", len(recs), recs)
	}
	// The record keeps the invitation's id as its key (an ACE id never changes in the
	// CRM); it now holds the accepted opportunity, unmasked.
	if recs[0].ACEID != inv || field(t, recs[0], "customerEmail") != "ann@referred.example" || field(t, recs[0], "partnerAcceptanceStatus") != "Accepted" {
		t.Errorf("record after acceptance: ACE id %q, customerEmail %q, acceptance %q; want %s, unmasked, accepted",
			recs[0].ACEID, field(t, recs[0], "customerEmail"), field(t, recs[0], "partnerAcceptanceStatus"), inv)
	}
	opps := f.opportunities(t)
	if len(opps) != 1 {
		t.Fatalf("ACE holds %d opportunities, want the accepted one", len(opps))
	}
	// The sales team edits it: the change goes to the accepted opportunity.
	if _, err := f.store.Edit(ctx, ace.ObjectOpportunity, inv, json.RawMessage(`{"nextStep":"Kick-off call booked"}`)); err != nil {
		t.Fatal(err)
	}
	if push, err = f.push(t, push.After, true); err != nil || push.Updated != 1 {
		t.Fatalf("push of an edit of the accepted referral: %+v, %v (%v)", push, err, f.record(t, recs[0].PartnerID).SyncErrors)
	}
	if got := awsNextSteps(t, f, *opps[0].Id); got != "Kick-off call booked" {
		t.Errorf("the accepted opportunity's next step is %q, want the CRM's", got)
	}
	t.Logf("API calls for a referral pulled, accepted and pulled again: %v", f.srv.Calls())
}

// Throttling past the client's backoff fails the activity with a retryable error, and a
// retry once the quota allows it succeeds.
func TestThrottlingIsRetryable(t *testing.T) {
	f := newSellingFixture(t)
	ctx := context.Background()
	if _, err := f.store.Create(ctx, ace.ObjectOpportunity, "CRM-4", apiOpportunity(t, "CRM-4", func(m map[string]any) { m["status"] = "Draft" })); err != nil {
		t.Fatal(err)
	}
	f.srv.SetQuotas(rate.Inf, rate.Every(time.Hour)) // one write, then nothing for an hour
	_, err := f.push(t, nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != customersync.ErrThrottled || appErr.NonRetryable() {
		t.Fatalf("push under an exhausted quota: %v, want a retryable %s error", err, customersync.ErrThrottled)
	}
	f.srv.SetQuotas(rate.Inf, rate.Inf)
	res, err := f.push(t, nil)
	if err != nil || res.Created != 1 {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	if opps := f.opportunities(t); len(opps) != 1 {
		t.Errorf("ACE holds %d opportunities, want 1", len(opps))
	}
}

// Check names partnercentral:ListOpportunities when the Selling API refuses the role.
func TestCheckAPITransport(t *testing.T) {
	f := newSellingFixture(t)
	var rep customersync.CheckReport
	if err := f.run(f.acts.Check, customersync.CheckInput{Target: f.target, Transport: customersync.TransportAPI, CRM: f.crmURL}, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Steps) != 3 || rep.Steps[1].Name != customersync.StepListOpportunities {
		t.Fatalf("report: %+v", rep)
	}
	// A key the API does not know.
	g := newSellingFixture(t, sellingcontract.WithResolver(func(string) (sellingcontract.Principal, bool) { return sellingcontract.Principal{}, false }))
	if err := g.run(g.acts.Check, customersync.CheckInput{Target: g.target, Transport: customersync.TransportAPI, CRM: g.crmURL}, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.LinkOf() != customersync.BrokenLinkListOpportunities {
		t.Errorf("broken link %q (%s), want %s", rep.LinkOf(), rep.Diagnosis, customersync.BrokenLinkListOpportunities)
	}
}

// The Selling API calls per record, counted by the contract server: a create, a pull of
// what changed, an update, an idle pull.
func TestAPICallsPerRecord(t *testing.T) {
	f := newSellingFixture(t)
	ctx := context.Background()
	const n = 5
	for i := range n {
		id := "CRM-" + string(rune('A'+i))
		if _, err := f.store.Create(ctx, ace.ObjectOpportunity, id, apiOpportunity(t, id, nil)); err != nil {
			t.Fatal(err)
		}
	}
	diff := func(before map[string]int) map[string]float64 {
		out := map[string]float64{}
		for op, c := range f.srv.Calls() {
			if d := c - before[op]; d > 0 {
				out[op] = float64(d) / n
			}
		}
		return out
	}
	before := f.srv.Calls()
	push, err := f.push(t, nil)
	if err != nil || push.Created != n || push.Submitted != n {
		t.Fatalf("push: %+v, %v", push, err)
	}
	create := diff(before)
	before = f.srv.Calls()
	pull := f.pull(t, customersync.PullInput{})
	if pull.Records != n {
		t.Fatalf("pull: %+v", pull)
	}
	pulled := diff(before)
	for i := range n {
		if err := f.srv.ApproveOpportunity("", "AWS", f.record(t, "CRM-"+string(rune('A'+i))).ACEID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.Edit(ctx, ace.ObjectOpportunity, "CRM-"+string(rune('A'+i)), json.RawMessage(`{"nextStep":"Workshop booked"}`)); err != nil {
			t.Fatal(err)
		}
	}
	before = f.srv.Calls()
	push, err = f.push(t, push.After, true)
	if err != nil || push.Updated != n {
		t.Fatalf("update push: %+v, %v (%v)", push, err, f.record(t, "CRM-A").SyncErrors)
	}
	update := diff(before)
	before = f.srv.Calls()
	pull = f.pull(t, customersync.PullInput{After: pull.Watermark, AtWatermark: pull.AtWatermark})
	repull := diff(before)
	before = f.srv.Calls()
	f.pull(t, customersync.PullInput{After: pull.Watermark, AtWatermark: pull.AtWatermark})
	idle := f.srv.Calls()
	t.Logf("calls per record, %d records (each naming 1 solution and 2 AWS products):\n create: %v\n pull: %v\n update: %v\n pull of the updates (AWS's approval, the edit): %v\n idle pull (total calls): ListOpportunities %d",
		n, create, pulled, update, repull, idle["ListOpportunities"]-before["ListOpportunities"])
	if create["CreateOpportunity"] != 1 || create["AssociateOpportunity"] != 3 || create["StartEngagementFromOpportunityTask"] != 1 {
		t.Errorf("create: %v", create)
	}
	if update["GetOpportunity"] != 1 || update["UpdateOpportunity"] != 1 || update["AssociateOpportunity"] != 0 {
		t.Errorf("update: %v", update)
	}
	if pulled["GetOpportunity"] != 1 || pulled["GetAwsOpportunitySummary"] != 1 {
		t.Errorf("pull: %v", pulled)
	}
}

// tiedLister serves ListOpportunities over fixed summaries as the API does: on or after
// the filter's instant, sorted by LastModifiedDate then id, in pages. The contract server
// cannot make ties (every change moves LastModifiedDate by a millisecond at least); AWS's
// service can.
type tiedLister struct {
	SellingAPI
	opps []sellingapi.OpportunitySummary
}

func (l tiedLister) ListOpportunities(_ context.Context, in *sellingapi.ListOpportunitiesInput) (*sellingapi.ListOpportunitiesOutput, error) {
	var after time.Time
	if in.LastModifiedDate != nil {
		after = *in.LastModifiedDate.AfterLastModifiedDate
	}
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	var match []sellingapi.OpportunitySummary
	for _, o := range l.opps {
		if !o.LastModifiedDate.Before(after) {
			match = append(match, o)
		}
	}
	end := min(start+int(*in.MaxResults), len(match))
	out := &sellingapi.ListOpportunitiesOutput{OpportunitySummaries: match[start:end]}
	if end < len(match) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

// Opportunities sharing the watermark's instant are each read once, however the pulls'
// bound cuts them: the ids at the watermark are skipped, the rest taken.
func TestWatermarkTies(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var opps []sellingapi.OpportunitySummary
	for i, at := range []time.Time{t0, t0, t0, t0, t0, t0.Add(time.Millisecond), t0.Add(time.Millisecond)} {
		opps = append(opps, sellingapi.OpportunitySummary{Id: aws.String(fmt.Sprintf("O%d", 100+i)), LastModifiedDate: aws.Time(at)})
	}
	client := tiedLister{opps: opps}
	target := customersync.Target{Customer: "acme", Env: "prod"}
	var res customersync.PullResult
	seen := map[string]int{}
	for range 10 {
		ids, more, err := listChanged(context.Background(), client, target, res.Watermark, res.AtWatermark, 2)
		if err != nil {
			t.Fatal(err)
		}
		var recs []*apiRecord
		for _, s := range ids {
			seen[s.id]++
			recs = append(recs, &apiRecord{id: s.id, modified: s.modified, listed: true})
		}
		advanceWatermark(&res, recs)
		if !more {
			break
		}
	}
	if len(seen) != len(opps) {
		t.Fatalf("read %d of %d opportunities: %v", len(seen), len(opps), seen)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s read %d times", id, n)
		}
	}
	if !res.Watermark.Equal(t0.Add(time.Millisecond)) || len(res.AtWatermark) != 2 {
		t.Errorf("watermark %s with %v", res.Watermark, res.AtWatermark)
	}
}

// An opportunity the CRM refuses is quarantined (api/opportunity/<Id>, its LastModifiedDate
// as ETag) without holding back the others or the watermark; a re-drive after the fix
// reads it again although the watermark is past it.
func TestPullQuarantinesAndRedrives(t *testing.T) {
	f := newSellingFixture(t)
	ctx := context.Background()
	for _, id := range []string{"CRM-Q1", "CRM-Q2"} {
		if _, err := f.store.Create(ctx, ace.ObjectOpportunity, id, apiOpportunity(t, id, func(m map[string]any) { m["status"] = "Draft" })); err != nil {
			t.Fatal(err)
		}
	}
	if push, err := f.push(t, nil); err != nil || push.Created != 2 {
		t.Fatalf("push: %+v, %v", push, err)
	}
	bad := f.record(t, "CRM-Q1").ACEID
	if err := f.srv.UpdateOpportunityAsAWS("", "AWS", bad, map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS: refused by the CRM"}}); err != nil {
		t.Fatal(err)
	}
	f.store.refuse = bad
	pull := f.pull(t, customersync.PullInput{})
	key := customersync.APIQuarantineKey(bad)
	if len(pull.Quarantined) != 1 || pull.Quarantined[0].Key != key || pull.Quarantined[0].ETag == "" || pull.Records != 1 {
		t.Fatalf("pull: %+v, want %s quarantined and the other record written", pull, key)
	}
	if pull.Watermark.IsZero() || pull.More {
		t.Fatalf("watermark %s, more %v: want it past the quarantined record", pull.Watermark, pull.More)
	}
	f.store.refuse = ""
	again := f.pull(t, customersync.PullInput{After: pull.Watermark, AtWatermark: pull.AtWatermark, Redrive: []string{key}})
	if len(again.Quarantined) != 0 || len(again.Handled) != 1 || again.Handled[0] != key || again.Updated != 1 {
		t.Fatalf("re-drive: %+v", again)
	}
	if got := field(t, f.record(t, "CRM-Q1"), "nextStep"); got != "AWS: refused by the CRM" {
		t.Errorf("CRM nextStep %q after the re-drive", got)
	}
}

// An AWS referral rejected from the CRM: RejectEngagementInvitation with the reason; the
// answer is accepted and the invitation is no longer pending.
func TestReferralRejectedFromTheCRM(t *testing.T) {
	f := newSellingFixture(t)
	ctx := context.Background()
	var s3 map[string]any
	if err := json.Unmarshal(apiOpportunity(t, "ignored", func(m map[string]any) { delete(m, "partnerCrmUniqueIdentifier") }), &s3); err != nil {
		t.Fatal(err)
	}
	opp, _, _ := apimapping.ToAPIOutputs(s3)
	delete(opp, "OpportunityTeam")
	inv, err := f.srv.CreateReferral(sellingcontract.Referral{Opportunity: opp})
	if err != nil {
		t.Fatal(err)
	}
	pull := f.pull(t, customersync.PullInput{Referrals: true})
	if pull.Referrals != 1 {
		t.Fatalf("pull: %+v", pull)
	}
	if _, err := f.store.Edit(ctx, ace.ObjectOpportunity, inv, json.RawMessage(`{"partnerAcceptanceStatus":"Rejected","rejectionReason":"Customer problem unclear"}`)); err != nil {
		t.Fatal(err)
	}
	push, err := f.push(t, nil)
	if err != nil || push.Answered != 1 {
		t.Fatalf("push: %+v, %v (%v)", push, err, f.record(t, "oppsync-opportunity-1").SyncErrors)
	}
	if n := f.srv.Calls()["RejectEngagementInvitation"]; n != 1 {
		t.Errorf("RejectEngagementInvitation called %d times", n)
	}
	if again := f.pull(t, customersync.PullInput{After: pull.Watermark, Referrals: true}); again.Referrals != 0 {
		t.Errorf("the rejected referral is still pending: %+v", again)
	}
}

// An attempt that created the CRM record's opportunity and died before any write-back,
// then an edit of the record in the CRM before the retry: the edit changes the create's
// body, but the ClientToken is the record's, so the API refuses the second create
// (ConflictException) and the retry adopts the first opportunity by partner id; ACE never
// holds two. While AWS's version is still the one created, the edit goes to it; once it
// changed (here: the unfinished attempt's own associations and submission), nothing
// tells the sales team's edit from AWS's, and the record is linked and rejected with a
// conflict, AWS's value kept.
func TestPushAfterAnUnfinishedCreateCreatesNoSecond(t *testing.T) {
	for _, tc := range []struct {
		name     string
		edit     func(map[string]any)
		conflict bool
	}{
		{"AWS's version as created", func(m map[string]any) {
			m["status"], m["solutionOffered"], m["otherSolutionOffered"] = "Draft", []string{"Other"}, "A solution of its own"
			delete(m, "awsProducts")
			delete(m, "offers")
		}, false},
		{"changed since the create", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSellingFixture(t)
			ctx := context.Background()
			if _, err := f.store.Create(ctx, ace.ObjectOpportunity, "CRM-5", apiOpportunity(t, "CRM-5", tc.edit)); err != nil {
				t.Fatal(err)
			}
			var lost crm.Outcome
			f.store.failRecord = func(o crm.Outcome) bool { lost = o; return true } // the attempt dies before its write-back
			first, err := f.push(t, nil)
			if err == nil {
				t.Fatalf("first attempt succeeded (%+v), want the CRM's failure", first)
			}
			f.store.failRecord = nil
			opps := f.opportunities(t)
			if len(opps) != 1 {
				t.Fatalf("the unfinished attempt (%v, its write-back %+v) left %d opportunities, want 1", err, lost, len(opps))
			}
			id := aws.ToString(opps[0].Id)
			before := awsNextSteps(t, f, id)
			if _, err := f.store.Edit(ctx, ace.ObjectOpportunity, "CRM-5", json.RawMessage(`{"nextStep":"Partner: edited before the retry"}`)); err != nil {
				t.Fatal(err)
			}
			calls := f.srv.Calls()
			res, err := f.push(t, nil)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if n := len(f.opportunities(t)); n != 1 {
				t.Fatalf("ACE holds %d opportunities, want the unfinished attempt's only (push %+v)", n, res)
			}
			if n := f.srv.Calls()["CreateOpportunity"] - calls["CreateOpportunity"]; n != 1 {
				t.Errorf("the retry called CreateOpportunity %d times, want 1 (refused: the record's token, another body)", n)
			}
			rec := f.record(t, "CRM-5")
			if rec.ACEID != id {
				t.Fatalf("CRM record linked to %q, want the unfinished attempt's %s (status %s %v)", rec.ACEID, id, rec.SyncStatus, rec.SyncErrors)
			}
			got := awsNextSteps(t, f, id)
			if !tc.conflict {
				if rec.SyncStatus != crm.SyncAccepted || res.Created != 1 || got != "Partner: edited before the retry" {
					t.Errorf("record %s %v, push %+v, AWS's nextStep %q: want accepted, created 1 and the edit in ACE", rec.SyncStatus, rec.SyncErrors, res, got)
				}
				return
			}
			if rec.SyncStatus != crm.SyncRejected || res.Conflicts != 1 || len(rec.SyncErrors) == 0 ||
				!strings.Contains(rec.SyncErrors[0], "conflict:") || !strings.Contains(rec.SyncErrors[0], "nextStep") {
				t.Errorf("record %s %v, push %+v: want rejected with a conflict naming nextStep", rec.SyncStatus, rec.SyncErrors, res)
			}
			if got != before {
				t.Errorf("AWS's nextStep %q, want its own %q kept", got, before)
			}
			if n := f.srv.Calls()["UpdateOpportunity"] - calls["UpdateOpportunity"]; n != 0 {
				t.Errorf("%d UpdateOpportunity calls on a conflict, want none", n)
			}
		})
	}
}
