package integration

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/apimapping"
	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/sellingapi"
)

var roleAccount = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role/`)

// A customer synced over S3 moves to the Selling API and back with the starter CLI, on the
// worker binary and the local stack (the contract server calling as the role's account):
// the S3-synced record stays linked (its apnCrmUniqueIdentifier is the API's Id), a CRM
// edit goes as an update, a new CRM opportunity is created in ACE once, an AWS-side edit
// reaches the CRM, and after the switch back to S3 the CRM holds each record once.
func TestSellingAPIMigrationS3ToAPIAndBack(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "sellmig")
	c.taskQueue = customersync.TaskQueue + "-sellmig"
	worker := startWorkerProcess(t, c.taskQueue)
	defer worker.stop(t)
	ctx := context.Background()
	account := roleAccount.FindStringSubmatch(c.RoleARN)[1]
	// The stack's contract server serves every test of the run: count this test's calls.
	createsBefore, updatesBefore := env.stack.SellingAPI.Calls()["CreateOpportunity"], env.stack.SellingAPI.Calls()["UpdateOpportunity"]

	// The opportunity as ACE holds it, in the partner's Sandbox catalog (beta), made with
	// the role's credentials as the partner's own system once did.
	api := sellingapi.New(aws.Config{Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")},
		sellingapi.WithEndpoint(env.stack.SellingAPIEndpoint))
	var rec map[string]any
	if err := json.Unmarshal(validOpportunity(t, "CRM-MIG"), &rec); err != nil {
		t.Fatal(err)
	}
	rec["stage"] = "Prospect"
	body, _ := apimapping.ToAPI(rec)
	raw, _ := json.Marshal(body)
	var in sellingapi.CreateOpportunityInput
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	in.Catalog, in.ClientToken = aws.String("Sandbox"), aws.String("seed-"+c.Name)
	created, err := api.CreateOpportunity(ctx, &in)
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(created.Id)
	if _, err := api.AssociateOpportunity(ctx, &sellingapi.AssociateOpportunityInput{Catalog: aws.String("Sandbox"), OpportunityIdentifier: &id,
		RelatedEntityType: sellingapi.RelatedEntityTypeSolutions, RelatedEntityIdentifier: aws.String("S-0001234")}); err != nil {
		t.Fatal(err)
	}

	// Over S3: ACE's export brings it into the CRM.
	rec["apnCrmUniqueIdentifier"], rec["lastModifiedDate"] = id, "2020-01-01T00:00:00.000Z"
	file, _ := json.Marshal(map[string]any{"version": "2.0", "spmsId": "12345", "opportunities": []any{rec}})
	c.putAsACE(t, ace.FolderOpportunityOutbound+"export-1.json", file)
	cfg := c.inboundConfig()
	c.enroll(t, cfg)
	if sum := c.syncNow(t); !sum.OK() {
		t.Fatalf("S3 cycle: %v", sum.Errors)
	}
	if recs := c.records(t, "opportunity"); len(recs) != 1 || recs[0].ACEID != id {
		t.Fatalf("CRM after the S3 sync: %+v", recs)
	}

	// To the API, as an operator would.
	if out, err := run(t, "starter", "configure", "--customer", c.Name, "--env", "beta", "--transport", "api"); err != nil {
		t.Fatalf("configure --transport api: %v\n%s", err, out)
	}
	sum := c.syncNow(t)
	if !sum.OK() {
		t.Fatalf("first API cycle: %v", sum.Errors)
	}
	st := c.status(t)
	if st.Config.Transport != customersync.TransportAPI || !st.State.API.Seeded {
		t.Fatalf("status after the switch: transport %s, API state %+v", st.Config.Transport, st.State.API)
	}
	recs := c.records(t, "opportunity")
	if len(recs) != 1 || recs[0].ACEID != id {
		t.Fatalf("CRM after the first API cycle: %+v, want the S3 record, still %s", recs, id)
	}

	// The sales team edits it and creates another: an update and one create.
	store := c.salesTeam(t)
	if _, err := store.Edit(ctx, ace.ObjectOpportunity, "CRM-MIG", json.RawMessage(`{"nextStep":"Workshop booked"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, ace.ObjectOpportunity, "CRM-NEW", validOpportunity(t, "CRM-NEW")); err != nil {
		t.Fatal(err)
	}
	if sum := c.syncNow(t); !sum.OK() || sum.Counts.Accepted != 2 {
		t.Fatalf("API cycle with two CRM changes: %+v", sum)
	}
	calls := env.stack.SellingAPI.Calls()
	if calls["UpdateOpportunity"]-updatesBefore < 1 {
		t.Errorf("calls %v: want the edit as an UpdateOpportunity", calls)
	}
	newID := c.record(t, "opportunity", "CRM-NEW").ACEID
	if newID == "" || newID == id {
		t.Fatalf("the CRM's new opportunity has ACE id %q", newID)
	}

	// AWS edits the migrated opportunity: the next cycle brings it.
	if err := env.stack.SellingAPI.UpdateOpportunityAsAWS(account, "Sandbox", id, map[string]any{"Project": map[string]any{"AdditionalComments": "Reviewed by AWS"}}); err != nil {
		t.Fatal(err)
	}
	if sum := c.syncNow(t); !sum.OK() {
		t.Fatalf("API cycle after AWS's edit: %v", sum.Errors)
	}
	var fields map[string]any
	_ = json.Unmarshal(c.record(t, "opportunity", "CRM-MIG").Fields, &fields)
	if fields["additionalComments"] != "Reviewed by AWS" || fields["nextStep"] != "Workshop booked" {
		t.Errorf("CRM after AWS's edit: additionalComments %v, nextStep %v", fields["additionalComments"], fields["nextStep"])
	}

	// And back to S3: the bucket was kept; each record is in the CRM once.
	if out, err := run(t, "starter", "configure", "--customer", c.Name, "--env", "beta", "--transport", "s3"); err != nil {
		t.Fatalf("configure --transport s3: %v\n%s", err, out)
	}
	if sum := c.syncNow(t); !sum.OK() {
		t.Fatalf("S3 cycle after switching back: %v", sum.Errors)
	}
	recs = c.records(t, "opportunity")
	if len(recs) != 2 {
		t.Errorf("CRM holds %d opportunities, want 2 (no duplicate)", len(recs))
	}
	for _, r := range recs {
		if r.SyncStatus != crm.SyncAccepted && r.SyncStatus != crm.SyncUpToDate {
			t.Errorf("%s: status %s %v", r.PartnerID, r.SyncStatus, r.SyncErrors)
		}
	}
	if n := env.stack.SellingAPI.Calls()["CreateOpportunity"] - createsBefore; n != 2 {
		t.Errorf("CreateOpportunity called %d times, want 2 (the seed and the CRM's new one)", n)
	}
	recordHistory(t, c.workflowID(), "selling-api-migration.json")
	if b, _ := readLog(worker); strings.Contains(b, "Workshop booked") || strings.Contains(b, "jane.doe@example.com") {
		t.Error("the worker's log carries record text")
	}
}

func readLog(w *workerProcess) (string, error) {
	b, err := os.ReadFile(w.log)
	return string(b), err
}

// The worker binary killed after CreateOpportunity and before the CRM write-back: the
// restarted worker's retry sends CreateOpportunity again with the same ClientToken, gets
// the same opportunity back and links it: ACE holds it once.
func TestSellingAPICrashBeforeWriteBack(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "sellcrash")
	c.taskQueue = customersync.TaskQueue + "-sellcrash"
	pauses := t.TempDir()
	t.Setenv(activities.PauseBeforeWriteBackEnv, pauses) // the first worker inherits it
	first := startWorkerProcess(t, c.taskQueue)
	os.Unsetenv(activities.PauseBeforeWriteBackEnv)
	cfg := c.inboundConfig()
	cfg.Transport, cfg.Bucket = customersync.TransportAPI, ""
	c.enroll(t, cfg)
	store := c.salesTeam(t)
	rec := map[string]any{}
	_ = json.Unmarshal(validOpportunity(t, "CRM-CRASH"), &rec)
	rec["status"] = "Draft"
	body, _ := json.Marshal(rec)
	if _, err := store.Create(context.Background(), ace.ObjectOpportunity, "CRM-CRASH", body); err != nil {
		t.Fatal(err)
	}
	before := env.stack.SellingAPI.Calls()["CreateOpportunity"]
	if err := c.sync().RequestSync(context.Background(), c.Name, customersync.EnvBeta); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the worker paused before the write-back", func() bool {
		entries, _ := os.ReadDir(pauses)
		return len(entries) > 0
	})
	first.kill(t)
	if r := c.record(t, "opportunity", "CRM-CRASH"); r.ACEID != "" {
		t.Fatalf("the CRM has ACE id %q before the write-back", r.ACEID)
	}
	second := startWorkerProcess(t, c.taskQueue)
	defer second.stop(t)
	eventually(t, 2*time.Minute, "the retry linked the record", func() bool {
		r := c.record(t, "opportunity", "CRM-CRASH")
		return r.ACEID != "" && r.SyncStatus == crm.SyncAccepted
	})
	if n := env.stack.SellingAPI.Calls()["CreateOpportunity"] - before; n != 2 {
		t.Errorf("CreateOpportunity called %d times, want 2 (the killed attempt and its retry, one token)", n)
	}
	id := c.record(t, "opportunity", "CRM-CRASH").ACEID
	n := 0
	api := sellingapi.New(aws.Config{Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")},
		sellingapi.WithEndpoint(env.stack.SellingAPIEndpoint))
	out, err := api.ListOpportunities(context.Background(), &sellingapi.ListOpportunitiesInput{Catalog: aws.String("Sandbox")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.OpportunitySummaries {
		if aws.ToString(o.PartnerOpportunityIdentifier) == "CRM-CRASH" {
			n++
			if aws.ToString(o.Id) != id {
				t.Errorf("ACE's opportunity %s, the CRM's %s", aws.ToString(o.Id), id)
			}
		}
	}
	if n != 1 {
		t.Errorf("ACE holds %d opportunities for CRM-CRASH, want 1", n)
	}
}
