package integration

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/rules/rulestest"
	"github.com/oppsync/oppsync/acesim"
	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/crm"
	crmsqlite "github.com/oppsync/oppsync/crm/sqlite"
	"github.com/oppsync/oppsync/customersync"
)

// validOpportunity is a partner-created opportunity that passes ACE's rules, as the sales
// team would enter it in the CRM (no ACE id yet).
func validOpportunity(t *testing.T, partnerID string) json.RawMessage {
	t.Helper()
	rec, err := rulestest.OpportunityJSON(partnerID, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// salesTeam opens the customer's CRM as its users would (the SQLite store's CRM-side API).
func (c *customer) salesTeam(t *testing.T) *crmsqlite.Store {
	t.Helper()
	u, err := url.Parse(c.crmURL)
	if err != nil {
		t.Fatal(err)
	}
	store, err := crmsqlite.Open(context.Background(), u.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

func (c *customer) record(t *testing.T, object, partnerID string) crm.Record {
	t.Helper()
	for _, r := range c.records(t, object) {
		if r.PartnerID == partnerID {
			return r
		}
	}
	t.Fatalf("no %s with partner id %s in the CRM", object, partnerID)
	return crm.Record{}
}

func (c *customer) inboundConfig() customersync.CustomerConfig {
	cfg := c.config()
	cfg.SpmsID = "12345"
	cfg.ResultPollInterval = customersync.MinPollInterval
	return cfg
}

// A partner-created opportunity and a lead update go CRM → validation → upload → ACE →
// result → CRM; a second edit goes as an update with the ACE id; a record failing
// validation is never uploaded and shows its problems; only inbound folders are written,
// each with the ACL and SSE-KMS headers ACE requires.
func TestInboundRoundTrip(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "inbound")
	startWorker(t, c.taskQueue)
	sim := acesim.New(env.stack.RootS3(context.Background()), c.Bucket, acesim.Options{Interval: 200 * time.Millisecond})
	stop := sim.Start(context.Background())
	defer stop()
	c.enroll(t, c.inboundConfig())
	crmStore := c.salesTeam(t)
	ctx := context.Background()

	// An AWS lead referral arrives outbound and lands in the CRM.
	leadID, _, err := sim.EmitReferral(ctx, ace.ObjectLead, map[string]any{"company": "Lead Co", "status": "Open"})
	if err != nil {
		t.Fatal(err)
	}
	c.syncNow(t)

	// The sales team creates an opportunity, creates an invalid one, and updates the lead.
	if _, err := crmStore.Create(ctx, ace.ObjectOpportunity, "CRM-OPP-1", validOpportunity(t, "CRM-OPP-1")); err != nil {
		t.Fatal(err)
	}
	bad := validOpportunity(t, "CRM-OPP-BAD")
	bad = []byte(strings.Replace(string(bad), `"industry":"Software \u0026 Internet"`, `"industry":"Space Tourism"`, 1))
	if !strings.Contains(string(bad), "Space Tourism") {
		t.Fatalf("test setup: could not break the industry in %s", bad)
	}
	if _, err := crmStore.Create(ctx, ace.ObjectOpportunity, "CRM-OPP-BAD", bad); err != nil {
		t.Fatal(err)
	}
	// The sales team accepts the AWS lead (an answer: it goes alone, as AWS's lead testing
	// scenarios send one) and goes on editing it; the rest goes as an update of its own.
	if _, err := crmStore.Edit(ctx, ace.ObjectLead, leadID, json.RawMessage(`{"status":"Qualified","currentLeadStage":"Accepted","leadStatusReason":"Customer engaged","industry":"Software & Internet","country":"United States","state":"Washington","postalCode":"98101"}`)); err != nil {
		t.Fatal(err)
	}

	sum := c.syncNow(t)
	if sum.Counts.Invalid != 1 || sum.Counts.Sent < 1 {
		for _, o := range []string{"opportunity", "lead"} {
			for _, r := range c.records(t, o) {
				t.Logf("%s %s: %s %v", o, r.PartnerID, r.SyncStatus, r.SyncErrors)
			}
		}
		t.Fatalf("cycle counts %+v: want the invalid opportunity refused and the others sent", sum.Counts)
	}
	eventually(t, time.Minute, "ACE's result written back to the opportunity", func() bool {
		r := c.record(t, "opportunity", "CRM-OPP-1")
		return strings.HasPrefix(r.ACEID, "O") && r.SyncStatus == crm.SyncAccepted
	})
	aceID := c.record(t, "opportunity", "CRM-OPP-1").ACEID

	// The invalid record was never uploaded and shows every problem, naming field and rule.
	badRec := c.record(t, "opportunity", "CRM-OPP-BAD")
	if badRec.SyncStatus != crm.SyncInvalid || len(badRec.SyncErrors) == 0 ||
		!strings.Contains(strings.Join(badRec.SyncErrors, "\n"), "industry") {
		t.Fatalf("invalid record: status %s, errors %v", badRec.SyncStatus, badRec.SyncErrors)
	}
	for _, p := range putsTo(c.Bucket) {
		if strings.Contains(string(p.Body), "CRM-OPP-BAD") {
			t.Fatalf("the invalid record was uploaded in %s", p.Path)
		}
	}
	var leadAnswer *s3Put
	for _, p := range putsTo(c.Bucket) {
		if strings.Contains(p.Path, ace.FolderLeadInbound) && p.Status == 200 {
			leadAnswer = &p
		}
	}
	if leadAnswer == nil {
		t.Fatal("no lead file uploaded")
	}
	var leadFile struct {
		Leads []map[string]any `json:"leads"`
	}
	if err := json.Unmarshal(leadAnswer.Body, &leadFile); err != nil || len(leadFile.Leads) != 1 {
		t.Fatalf("lead file %s: %v", leadAnswer.Body, err)
	}
	if got := slices.Sorted(maps.Keys(leadFile.Leads[0])); !slices.Equal(got, []string{"apnCrmUniqueIdentifier", "currentLeadStage", "partnerCrmLeadId"}) {
		t.Fatalf("the lead acceptance carried %v, want only its ids and currentLeadStage", got)
	}
	eventually(t, time.Minute, "the lead acceptance taken, its other edits pending", func() bool {
		r := c.record(t, "lead", c.leadPartnerID(t, leadID))
		return r.SyncStatus == crm.SyncPending && len(r.SyncErrors) == 0 && !r.LastSentAt.IsZero()
	})

	// A second edit of the opportunity goes as an update carrying the ACE id (forced: it was
	// sent less than an hour ago).
	if _, err := crmStore.Edit(ctx, ace.ObjectOpportunity, "CRM-OPP-1", json.RawMessage(`{"nextStep":"Pricing call","stage":"Qualified"}`)); err != nil {
		t.Fatal(err)
	}
	if s := c.syncNow(t); s.Counts.Sent != 0 {
		t.Fatalf("an edit within the hour was sent without force: %+v", s.Counts)
	}
	if s := c.forceSend(t); s.Counts.Sent != 2 {
		r := c.record(t, "opportunity", "CRM-OPP-1")
		t.Fatalf("forced send: %+v, want 2 sent (the opportunity and the lead's other edits); record %s %v", s.Counts, r.SyncStatus, r.SyncErrors)
	}
	var update *s3Put
	for _, p := range putsTo(c.Bucket) {
		if strings.Contains(string(p.Body), "Pricing call") {
			update = &p
		}
	}
	if update == nil || !strings.Contains(string(update.Body), aceID) {
		t.Fatalf("the second edit was not sent as an update with ACE id %s", aceID)
	}
	eventually(t, time.Minute, "the updates accepted", func() bool {
		return c.record(t, "opportunity", "CRM-OPP-1").SyncStatus == crm.SyncAccepted &&
			c.record(t, "lead", c.leadPartnerID(t, leadID)).SyncStatus == crm.SyncAccepted
	})
	if n := len(c.records(t, "opportunity")); n != 2 {
		t.Fatalf("CRM holds %d opportunities, want 2 (no duplicate)", n)
	}

	// Every write went to an inbound folder (or acknowledged nothing else), with ACE's ACL,
	// SSE-KMS under ACE's key, and If-None-Match.
	objects := 0
	for _, p := range putsTo(c.Bucket) {
		key := strings.TrimPrefix(p.Path, "/"+c.Bucket+"/")
		if p.Tagging {
			continue
		}
		objects++
		if !strings.HasPrefix(key, ace.FolderOpportunityInbound) && !strings.HasPrefix(key, ace.FolderLeadInbound) {
			t.Errorf("OppSync wrote %s, outside the inbound folders", key)
		}
		if got := p.Header.Get("X-Amz-Acl"); got != "bucket-owner-full-control" {
			t.Errorf("%s written with ACL %q", key, got)
		}
		if got := p.Header.Get("X-Amz-Server-Side-Encryption"); got != "aws:kms" {
			t.Errorf("%s written with SSE %q", key, got)
		}
		if got := p.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"); got != c.KMSKeyARN {
			t.Errorf("%s written with KMS key %q, want ACE's %s", key, got, c.KMSKeyARN)
		}
		if p.Header.Get("If-None-Match") != "*" {
			t.Errorf("%s written without If-None-Match: a retry could make a second file", key)
		}
	}
	if objects < 3 {
		t.Fatalf("only %d inbound files written", objects)
	}
	// The bucket policy that denies other writes is still in place.
	user := c.userS3(t)
	_, err = user.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String("opportunity-outbound/x.json"),
		Body: strings.NewReader("{}"), ACL: "bucket-owner-full-control"})
	if err == nil {
		t.Fatal("the customer's role may write into opportunity-outbound/: the ACE-like policy is gone")
	}
	recordHistory(t, c.workflowID(), "inbound-round-trip.json")
}

// leadPartnerID is the CRM's partner id of the lead ACE referred (the CRM gives AWS
// referrals an id of its own when they arrive).
func (c *customer) leadPartnerID(t *testing.T, aceID string) string {
	t.Helper()
	for _, r := range c.records(t, "lead") {
		if r.ACEID == aceID {
			return r.PartnerID
		}
	}
	t.Fatalf("lead %s is not in the CRM", aceID)
	return ""
}

// A crash between the upload and the bookkeeping (here: the CRM fails the first time it is
// told the record was sent) does not send the file twice: the retry finds its file.
func TestCrashBetweenUploadAndBookkeepingSendsOnce(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "oncesend")
	flakyFailures.Store(1)
	c.crmURL = "flaky-sqlite://" + filepath.Join(t.TempDir(), "crm.db")
	startWorker(t, c.taskQueue)
	c.enroll(t, c.inboundConfig())
	store := c.salesTeam(t)
	if _, err := store.Create(context.Background(), ace.ObjectOpportunity, "CRM-OPP-7", validOpportunity(t, "CRM-OPP-7")); err != nil {
		t.Fatal(err)
	}
	sum := c.syncNow(t)
	if sum.Counts.Sent != 1 || !sum.OK() {
		t.Fatalf("cycle %+v: want 1 sent after a retry", sum)
	}
	if flakyFailures.Load() > 0 {
		t.Fatal("the injected crash did not happen")
	}
	created := 0
	for _, p := range putsTo(c.Bucket) {
		if strings.Contains(p.Path, "opportunity-inbound/") && p.Status == 200 {
			created++
		}
	}
	if keys := c.keys(t, ace.FolderOpportunityInbound); len(keys) != 1 || created != 1 {
		t.Fatalf("inbound folder holds %v after %d successful uploads: want exactly one file", keys, created)
	}
}

// A result with per-record errors marks exactly those records; the others are accepted.
func TestResultWithRecordErrorsMarksExactlyThoseRecords(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "partial")
	startWorker(t, c.taskQueue)
	sim := acesim.New(env.stack.RootS3(context.Background()), c.Bucket, acesim.Options{Interval: 200 * time.Millisecond})
	defer sim.Start(context.Background())()
	cfg := c.inboundConfig()
	cfg.RecordsPerFile = 2
	c.enroll(t, cfg)
	store := c.salesTeam(t)
	ctx := context.Background()
	withStage := strings.Replace(string(validOpportunity(t, "CRM-SAME")), "{", `{"stage":"Prospect",`, 1)
	if _, err := store.Create(ctx, ace.ObjectOpportunity, "CRM-SAME", json.RawMessage(withStage)); err != nil {
		t.Fatal(err)
	}
	c.syncNow(t)
	eventually(t, time.Minute, "the first record accepted", func() bool {
		return c.record(t, "opportunity", "CRM-SAME").SyncStatus == crm.SyncAccepted
	})
	// An edit undone before it was sent: the record goes again, identical to what ACE holds,
	// which ACE answers with an error for that record only ("No new update identified").
	for _, next := range []string{`{"nextStep":"changed"}`, `{"nextStep":"Architecture review with the customer"}`} {
		if _, err := store.Edit(ctx, ace.ObjectOpportunity, "CRM-SAME", json.RawMessage(next)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Create(ctx, ace.ObjectOpportunity, "CRM-NEW", validOpportunity(t, "CRM-NEW")); err != nil {
		t.Fatal(err)
	}
	if s := c.forceSend(t); s.Counts.Sent != 2 {
		t.Fatalf("forced cycle %+v: want 2 records sent in one file", s.Counts)
	}
	eventually(t, time.Minute, "the result written back", func() bool {
		return c.record(t, "opportunity", "CRM-NEW").SyncStatus == crm.SyncAccepted
	})
	same := c.record(t, "opportunity", "CRM-SAME")
	if same.SyncStatus != crm.SyncRejected || len(same.SyncErrors) == 0 {
		t.Fatalf("unchanged record: status %s, errors %v; want rejected with ACE's error", same.SyncStatus, same.SyncErrors)
	}
	if fresh := c.record(t, "opportunity", "CRM-NEW"); len(fresh.SyncErrors) != 0 || !strings.HasPrefix(fresh.ACEID, "O") {
		t.Fatalf("new record: ACE id %q, errors %v", fresh.ACEID, fresh.SyncErrors)
	}
}

// Files ACE never answers mark their records "no answer from ACE" after the timeout.
func TestNoAnswerFromACE(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "noanswer")
	startWorker(t, c.taskQueue)
	cfg := c.inboundConfig()
	cfg.ResultTimeout = time.Minute
	c.enroll(t, cfg) // no simulator: nobody answers
	store := c.salesTeam(t)
	if _, err := store.Create(context.Background(), ace.ObjectOpportunity, "CRM-LOST", validOpportunity(t, "CRM-LOST")); err != nil {
		t.Fatal(err)
	}
	c.syncNow(t)
	eventually(t, 2*time.Minute, "the record marked no-answer", func() bool {
		return c.record(t, "opportunity", "CRM-LOST").SyncStatus == crm.SyncNoAnswer
	})
	if st := c.status(t); len(st.State.NoAnswer) != 1 || len(st.State.Pending) != 0 {
		t.Fatalf("status: %d no-answer files, %d pending", len(st.State.NoAnswer), len(st.State.Pending))
	}
}

// flakyFailures is how many times the flaky CRM fails to record a "sent" outcome.
var flakyFailures atomic.Int32

// flakyStore is the SQLite CRM, failing the bookkeeping after an upload as a crash would.
type flakyStore struct{ *crmsqlite.Store }

func (f flakyStore) Record(ctx context.Context, o crm.Outcome) error {
	if o.Status == crm.SyncSent && flakyFailures.Add(-1) >= 0 {
		return errors.New("injected crash between upload and bookkeeping")
	}
	return f.Store.Record(ctx, o)
}

func init() {
	crm.Register("flaky-sqlite", func(ctx context.Context, u *url.URL) (crm.Store, error) {
		s, err := crmsqlite.Open(ctx, u.Host+u.Path)
		if err != nil {
			return nil, err
		}
		return flakyStore{s}, nil
	})
}

// An AWS referral arrives masked; the sales team accepts it in the CRM (and edits another
// field meanwhile); the acceptance goes to ACE as just an answer; ACE's next outbound file
// brings the unmasked data, which fills the masked fields without undoing the CRM's edit.
func TestReferralAcceptedThenUnmasked(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "referral")
	startWorker(t, c.taskQueue)
	sim := acesim.New(env.stack.RootS3(context.Background()), c.Bucket, acesim.Options{Interval: 200 * time.Millisecond, UnmaskOnAccept: true})
	defer sim.Start(context.Background())()
	c.enroll(t, c.inboundConfig())
	ctx := context.Background()

	aceID, _, err := sim.EmitReferral(ctx, ace.ObjectOpportunity, map[string]any{
		"customerCompanyName": "Northwind Health", "customerFirstName": "Pat", "customerLastName": "Lee",
		"customerEmail": "pat.lee@northwind.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	c.syncNow(t)
	masked := c.recordByACEID(t, aceID)
	if !strings.Contains(string(masked.Fields), `"customerEmail":"Accept To View"`) {
		t.Fatalf("the referral should arrive masked: %s", masked.Fields)
	}

	store := c.salesTeam(t)
	if _, err := store.Edit(ctx, ace.ObjectOpportunity, aceID, json.RawMessage(`{"partnerAcceptanceStatus":"Accepted","nextStep":"Call Pat on Monday"}`)); err != nil {
		t.Fatal(err)
	}
	if s := c.syncNow(t); s.Counts.Sent != 1 || s.Counts.Invalid != 0 {
		t.Fatalf("acceptance cycle %+v: want the answer sent", s.Counts)
	}
	// The upload was only the answer: ids and the acceptance, nothing masked sent back.
	var answer *s3Put
	for _, p := range putsTo(c.Bucket) {
		if strings.Contains(string(p.Body), aceID) && strings.Contains(string(p.Body), "partnerAcceptanceStatus") {
			answer = &p
		}
	}
	if answer == nil || strings.Contains(string(answer.Body), "Accept To View") || strings.Contains(string(answer.Body), "nextStep") {
		t.Fatalf("the acceptance was not sent as a bare answer: %s", answer.Body)
	}
	eventually(t, time.Minute, "the unmasked referral in the CRM", func() bool {
		_ = c.syncNow(t)
		return strings.Contains(string(c.recordByACEID(t, aceID).Fields), "pat.lee@northwind.example")
	})
	got := string(c.recordByACEID(t, aceID).Fields)
	if !strings.Contains(got, `"nextStep":"Call Pat on Monday"`) || strings.Contains(got, "Accept To View") {
		t.Fatalf("after unmasking, the CRM record lost the sales team's edit or kept a mask: %s", got)
	}
}

func (c *customer) recordByACEID(t *testing.T, aceID string) crm.Record {
	t.Helper()
	for _, r := range c.records(t, "opportunity") {
		if r.ACEID == aceID {
			return r
		}
	}
	t.Fatalf("opportunity %s is not in the CRM", aceID)
	return crm.Record{}
}

// resultFile is ACE's success result for one record of the inbound file inboundKey.
func resultFile(inboundKey, partnerID, aceID string) []byte {
	return []byte(`{"success":"ALL","spmsId":"12345","isApiError":false,"apiErrors":null,"fileName":"` + inboundKey +
		`","fileApnProcessedDT":"2026-11-27T15:21:22.331Z","inboundApiResults":[{"partnerCrmUniqueIdentifier":"` + partnerID +
		`","apnCrmUniqueIdentifier":"` + aceID + `","isSuccess":true,"errors":null,"warnings":null}]}`)
}

// The results pass deletes only the result of a file it sent; every other object in the
// results folder (another system's result, an error file for a file we never sent, a file
// that is no result at all, a subfolder) stays, and the cycle reports how many it left.
func TestResultsPassDeletesOnlyOwnResults(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "ownresults")
	startWorker(t, c.taskQueue)
	c.enroll(t, c.inboundConfig()) // no simulator: the test answers as ACE
	folder := ace.FolderOpportunityResults
	strays := []string{
		folder + "another-system-file_result.json",
		folder + "another-system-file.error.json",
		folder + "notes.txt",
		folder + "archive/CRM-OWN-1-old_result.json",
	}
	c.putAsACE(t, strays[0], resultFile("opportunity-inbound/another-system-file.json", "THEIRS-1", "O7654321"))
	for _, k := range strays[1:] {
		c.putAsACE(t, k, []byte(`{"error":"not ours"}`))
	}

	store := c.salesTeam(t)
	if _, err := store.Create(context.Background(), ace.ObjectOpportunity, "CRM-OWN-1", validOpportunity(t, "CRM-OWN-1")); err != nil {
		t.Fatal(err)
	}
	// The send cycle does not read the results folders: its poll ran before anything was
	// sent, and a cycle lists them only while something awaits an answer.
	if s := c.syncNow(t); s.Counts.Sent != 1 {
		t.Fatalf("send cycle %+v: want 1 sent", s)
	}
	pending := c.status(t).State.Pending
	if len(pending) != 1 {
		t.Fatalf("%d files pending, want 1", len(pending))
	}
	own := ace.ResultKeyFor(pending[0].Key, folder)
	c.putAsACE(t, own, resultFile(pending[0].Key, "CRM-OWN-1", "O1234567"))

	sum := c.syncNow(t)
	if sum.Counts.Accepted != 1 || sum.UnmatchedResults != len(strays) {
		t.Fatalf("results cycle %+v: want 1 accepted and %d objects left", sum, len(strays))
	}
	if r := c.record(t, "opportunity", "CRM-OWN-1"); r.ACEID != "O1234567" || r.SyncStatus != crm.SyncAccepted {
		t.Fatalf("record after the result: ACE id %q, status %s", r.ACEID, r.SyncStatus)
	}
	got := c.keys(t, folder)
	slices.Sort(got)
	want := slices.Sorted(slices.Values(strays))
	if !slices.Equal(got, want) {
		t.Fatalf("results folder holds %v, want exactly the objects that are not ours %v (ours, %s, deleted)", got, want, own)
	}
}

// The real worker is killed with SIGKILL inside SendChanges' crash window: after it marked
// the record sent in the CRM (and uploaded its file), before the activity completed, so the
// workflow never hears of the file. Restarted, the retried SendChanges finds nothing to
// send (the record is sent), yet ACE's answer is matched from the CRM's own sent record and
// written back (ACE id, accepted), and ACE got exactly one inbound file for the change.
func TestInboundWorkerKilledAfterCRMWriteLosesNoResult(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "inbound-kill")
	pauses := t.TempDir()
	t.Setenv(activities.PauseAfterSentEnv, pauses) // the first worker waits in the window
	w := startWorkerProcess(t, c.taskQueue)
	ctx := context.Background()
	sim := acesim.New(env.stack.RootS3(ctx), c.Bucket, acesim.Options{}) // answers when told
	c.enroll(t, c.inboundConfig())
	crmStore := c.salesTeam(t)
	if _, err := crmStore.Create(ctx, ace.ObjectOpportunity, "CRM-KILL-1", validOpportunity(t, "CRM-KILL-1")); err != nil {
		t.Fatal(err)
	}
	if err := c.sync().RequestSync(ctx, c.Name, customersync.EnvBeta); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "SendChanges paused after its CRM write", func() bool {
		entries, _ := os.ReadDir(pauses)
		return len(entries) == 1
	})
	if r := c.record(t, "opportunity", "CRM-KILL-1"); r.SyncStatus != crm.SyncSent {
		t.Fatalf("in the window the record is %s, want sent", r.SyncStatus)
	}
	w.kill(t)
	if err := os.Unsetenv(activities.PauseAfterSentEnv); err != nil {
		t.Fatal(err)
	}
	startWorkerProcess(t, c.taskQueue)

	// ACE answers the file that was uploaded before the kill.
	total := acesim.Stats{}
	st, err := sim.ProcessOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total.Files, total.Repeats = st.Files, st.Repeats
	// The retried SendChanges (after the heartbeat timeout) sends nothing; a later cycle's
	// poll finds the answer through the CRM's sent record.
	eventually(t, 3*time.Minute, "ACE's answer written back to the record", func() bool {
		c.syncNow(t)
		r := c.record(t, "opportunity", "CRM-KILL-1")
		return strings.HasPrefix(r.ACEID, "O") && r.SyncStatus == crm.SyncAccepted
	})
	st, err = sim.ProcessOnce(ctx) // anything sent since: a second file for the change?
	if err != nil {
		t.Fatal(err)
	}
	total.Files, total.Repeats = total.Files+st.Files, total.Repeats+st.Repeats
	if total.Files != 1 || total.Repeats != 0 {
		t.Fatalf("ACE received %d inbound files (%d repeats) for one CRM change, want exactly 1", total.Files, total.Repeats)
	}
	n := 0
	for _, r := range sim.Records() {
		if r.PartnerID == "CRM-KILL-1" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("ACE holds the record %d times, want once", n)
	}
	if keys := c.keys(t, ace.FolderOpportunityResults); len(keys) != 0 {
		t.Fatalf("result files left: %v", keys)
	}
}
