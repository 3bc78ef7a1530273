package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/time/rate"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/apimapping"
	"github.com/oppsync/oppsync/ace/rules/rulestest"
	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/crm"
	crmsqlite "github.com/oppsync/oppsync/crm/sqlite"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack/sellingcontract"
	"github.com/oppsync/oppsync/sellingapi"
)

// staticClients gives every customer fixed credentials: the contract server maps any key
// to its default partner account.
type staticClients struct{}

func (staticClients) For(_ context.Context, t customersync.Target) (activities.CustomerClients, error) {
	return activities.CustomerClients{Config: aws.Config{Region: t.Region, Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}}, nil
}

// sellingWorld is an API customer's world in process: the Selling API contract server, the
// SQLite CRM in t.TempDir, and the real activities registered in the SDK's test workflow
// environment.
type sellingWorld struct {
	srv   *sellingcontract.Server
	acts  *activities.Activities
	store *crmsqlite.Store
	cfg   customersync.CustomerConfig
}

func newSellingWorld(t *testing.T) *sellingWorld {
	t.Helper()
	srv, err := sellingcontract.New(sellingcontract.WithQuotas(rate.Inf, rate.Inf))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	acts := activities.NewWithClients(staticClients{}, zerolog.New(io.Discard))
	activities.SetSellingLimits(acts, 0, 0, hs.URL, sellingapi.WithThrottleRetries(2, 10*time.Millisecond, 20*time.Millisecond))
	t.Cleanup(func() { _ = acts.Close() })
	path := filepath.Join(t.TempDir(), "crm.db")
	store, err := crmsqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	cfg := validConfig()
	cfg.Transport, cfg.CRM, cfg.SpmsID, cfg.PollInterval = customersync.TransportAPI, "sqlite://"+path, "12345", time.Hour
	cfg.RoleARN = "arn:aws:iam::" + sellingcontract.DefaultAccountID + ":role/oppsync"
	return &sellingWorld{srv: srv, acts: acts, store: store, cfg: cfg}
}

// run runs the workflow for cycles cycles from state and returns the state it continues
// as new with; during, when given, is called with the environment before the run (to
// register delayed callbacks).
func (w *sellingWorld) run(t *testing.T, state customersync.State, cycles int, during ...func(*testsuite.TestWorkflowEnvironment)) customersync.State {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	for _, f := range during {
		f(env)
	}
	env.SetTestTimeout(2 * time.Minute) // the activities are real: a throttled partner account takes seconds
	env.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	env.RegisterActivity(w.acts)
	env.ExecuteWorkflow(CustomerSync, customersync.SyncInput{Config: w.cfg, State: state, CyclesPerRun: cycles})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next customersync.SyncInput
	if err := converterFor(t).FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	return next.State
}

// testOpportunity is a partner-created opportunity that passes ACE's rules, with the stage
// updates require.
func testOpportunity(t *testing.T, partnerID string) json.RawMessage {
	t.Helper()
	rec, err := rulestest.OpportunityJSON(partnerID, map[string]any{"stage": "Prospect"})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// An API customer's cycles: the CRM's new opportunity is created in ACE once and linked,
// the next cycle pulls it back into the same CRM record, the watermark is carried across
// continue-as-new, and an AWS-side update reaches the CRM.
func TestSellingCycles(t *testing.T) {
	w := newSellingWorld(t)
	ctx := context.Background()
	if _, err := w.store.Create(ctx, ace.ObjectOpportunity, "CRM-1", testOpportunity(t, "CRM-1")); err != nil {
		t.Fatal(err)
	}
	state := w.run(t, customersync.State{}, 2)
	if !state.API.Seeded || state.API.Watermark.IsZero() || len(state.API.AtWatermark) != 1 {
		t.Fatalf("API state %+v: want a watermark at the created opportunity", state.API)
	}
	if state.Totals.Sent != 1 || state.Totals.Accepted != 1 || state.LastCycle == nil || !state.LastCycle.OK() {
		t.Fatalf("totals %+v, last cycle %+v", state.Totals, state.LastCycle)
	}
	recs, _ := w.store.List(ctx, ace.ObjectOpportunity)
	if len(recs) != 1 || recs[0].ACEID == "" || (recs[0].SyncStatus != crm.SyncAccepted && recs[0].SyncStatus != crm.SyncUpToDate) {
		t.Fatalf("CRM: %+v, want one linked record, accepted (or synced since)", recs)
	}
	id := recs[0].ACEID
	if n := w.srv.Calls()["CreateOpportunity"]; n != 1 {
		t.Errorf("CreateOpportunity called %d times, want 1", n)
	}
	t.Logf("API calls for one CRM opportunity over two cycles (create, associate ×3, submit, then one pull): %v", w.srv.Calls())

	if err := w.srv.ApproveOpportunity("", "AWS", id); err != nil {
		t.Fatal(err)
	}
	if err := w.srv.UpdateOpportunityAsAWS("", "AWS", id, map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS review done"}}); err != nil {
		t.Fatal(err)
	}
	state = w.run(t, state, 1)
	recs, _ = w.store.List(ctx, ace.ObjectOpportunity)
	var fields map[string]any
	_ = json.Unmarshal(recs[0].Fields, &fields)
	if len(recs) != 1 || fields["nextStep"] != "AWS review done" || fields["aWSStage"] != "Prospect" {
		t.Errorf("CRM after AWS's update: %d records, nextStep %v, aWSStage %v", len(recs), fields["nextStep"], fields["aWSStage"])
	}
	if state.Totals.Updated < 1 {
		t.Errorf("totals %+v: want the update counted", state.Totals)
	}
}

// A customer moving from S3 to the API keeps its CRM records linked: the S3 record's
// apnCrmUniqueIdentifier is the opportunity's Id, so the pull updates the same record and
// the CRM's edit goes as an update, never a create; the watermark starts before the last
// S3 sync.
func TestSellingMigrationFromS3(t *testing.T) {
	w := newSellingWorld(t)
	ctx := context.Background()
	// The opportunity ACE has (created over S3 once; here through the API, for its id).
	var rec map[string]any
	if err := json.Unmarshal(testOpportunity(t, "CRM-9"), &rec); err != nil {
		t.Fatal(err)
	}
	body, _ := apimapping.ToAPI(rec)
	body["Catalog"], body["ClientToken"] = "AWS", "seed"
	id := createRaw(t, w, body)
	c := sellingapi.New(aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}, sellingapi.WithEndpoint(serverURL(t, w)))
	if _, err := c.AssociateOpportunity(ctx, &sellingapi.AssociateOpportunityInput{Catalog: aws.String("AWS"), OpportunityIdentifier: &id,
		RelatedEntityType: sellingapi.RelatedEntityTypeSolutions, RelatedEntityIdentifier: aws.String("S-0001234")}); err != nil {
		t.Fatal(err)
	}
	// What the S3 transport left in the CRM: ACE's record under that id, from an S3 export
	// older than the API's version.
	rec["apnCrmUniqueIdentifier"], rec["lastModifiedDate"] = id, "2020-01-01T00:00:00.000Z"
	s3rec, _ := json.Marshal(rec)
	file, err := ace.ParseOutbound("opportunity-outbound/s3-export.json", []byte(`{"version":"2.0","opportunities":[`+string(s3rec)+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.Upsert(ctx, crm.Source{Key: "opportunity-outbound/s3-export.json"}, file.Records); err != nil {
		t.Fatal(err)
	}
	state := customersync.State{Cycles: 10, LastSuccessAt: time.Now().Add(-time.Hour)}
	state = w.run(t, state, 1)
	if want := state.LastSuccessAt; state.API.Watermark.IsZero() || !state.API.Seeded || want.IsZero() {
		t.Fatalf("API state %+v", state.API)
	}
	recs, _ := w.store.List(ctx, ace.ObjectOpportunity)
	if len(recs) != 1 || recs[0].ACEID != id {
		t.Fatalf("CRM after the first API cycle: %+v, want the S3 record, still %s", recs, id)
	}
	if _, err := w.store.Edit(ctx, ace.ObjectOpportunity, "CRM-9", json.RawMessage(`{"nextStep":"Workshop booked"}`)); err != nil {
		t.Fatal(err)
	}
	state = w.run(t, state, 1)
	calls := w.srv.Calls()
	if calls["CreateOpportunity"] != 1 || calls["UpdateOpportunity"] != 1 {
		t.Errorf("calls %v: want the seed's one create and the CRM edit as one update", calls)
	}
	recs, _ = w.store.List(ctx, ace.ObjectOpportunity)
	if len(recs) != 1 || recs[0].SyncStatus != crm.SyncAccepted {
		t.Errorf("CRM: %d records, status %s %v", len(recs), recs[0].SyncStatus, recs[0].SyncErrors)
	}
	// And back to S3: the bucket is still configured, and the API state is kept for a
	// later switch.
	w.cfg.Transport = customersync.TransportS3
	if err := w.cfg.Validate(); err != nil {
		t.Errorf("switching back to S3: %v", err)
	}
}

func serverURL(t *testing.T, w *sellingWorld) string {
	t.Helper()
	hs := httptest.NewServer(w.srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

func createRaw(t *testing.T, w *sellingWorld, opp map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(opp)
	var in sellingapi.CreateOpportunityInput
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	c := sellingapi.New(aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}, sellingapi.WithEndpoint(serverURL(t, w)))
	out, err := c.CreateOpportunity(context.Background(), &in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Id)
}

// A partner account over its quota: the contract server answers ThrottlingException, the
// client backs off, and the cycle ends well, with every write done once.
func TestSellingCycleSurvivesThrottling(t *testing.T) {
	w := newSellingWorld(t)
	ctx := context.Background()
	w.srv.SetQuotas(5, 1) // reads and writes a second, below what the worker would send unlimited
	hs := httptest.NewServer(w.srv.Handler())
	t.Cleanup(hs.Close)
	activities.SetSellingLimits(w.acts, 0, 0, hs.URL, sellingapi.WithThrottleRetries(10, 200*time.Millisecond, time.Second))
	if _, err := w.store.Create(ctx, ace.ObjectOpportunity, "CRM-T", testOpportunity(t, "CRM-T")); err != nil {
		t.Fatal(err)
	}
	state := w.run(t, customersync.State{}, 1)
	if state.LastCycle == nil || !state.LastCycle.OK() || state.Totals.Accepted != 1 {
		t.Fatalf("last cycle %+v, totals %+v: want the create through", state.LastCycle, state.Totals)
	}
	calls := w.srv.Calls()
	writes := calls["CreateOpportunity"] + calls["AssociateOpportunity"] + calls["StartEngagementFromOpportunityTask"]
	if writes <= 5 {
		t.Errorf("%d write calls for 5 writes: the quota never throttled (calls %v)", writes, calls)
	}
	t.Logf("calls under a 1-write/s quota, the worker unlimited: %v", calls)
	if opps, _ := w.store.List(ctx, ace.ObjectOpportunity); len(opps) != 1 {
		t.Errorf("CRM holds %d records", len(opps))
	}
}

// The lifecycle commands work on an API customer: a CRM edit within the hour of the last
// send waits (AWS's one-document-an-hour rule, as on S3), force-send sends it at once.
func TestSellingForceSend(t *testing.T) {
	w := newSellingWorld(t)
	ctx := context.Background()
	if _, err := w.store.Create(ctx, ace.ObjectOpportunity, "CRM-F", testOpportunity(t, "CRM-F")); err != nil {
		t.Fatal(err)
	}
	state := w.run(t, customersync.State{}, 1)
	if state.Totals.Accepted != 1 {
		t.Fatalf("totals after the create: %+v", state.Totals)
	}
	recs, _ := w.store.List(ctx, ace.ObjectOpportunity)
	if err := w.srv.ApproveOpportunity("", "AWS", recs[0].ACEID); err != nil { // out of AWS's review: editable again
		t.Fatal(err)
	}
	if _, err := w.store.Edit(ctx, ace.ObjectOpportunity, "CRM-F", json.RawMessage(`{"nextStep":"Workshop booked"}`)); err != nil {
		t.Fatal(err)
	}
	// A plain cycle: the edit waits (sent minutes ago). Then force-send.
	state = w.run(t, state, 1)
	if n := w.srv.Calls()["UpdateOpportunity"]; n != 0 || state.Totals.Accepted != 1 {
		t.Fatalf("a plain cycle sent the edit made within the hour: %d updates, totals %+v", n, state.Totals)
	}
	state = w.run(t, state, 2, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(customersync.UpdateForceSend, "force", &updateCallbacks{t})
		}, time.Minute)
	})
	if n := w.srv.Calls()["UpdateOpportunity"]; n != 1 || state.Totals.Accepted != 2 {
		t.Fatalf("force-send: %d updates, totals %+v; want the edit sent once", n, state.Totals)
	}
}
