package activities

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/rules/rulestest"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
)

// validOpportunity is a partner-created opportunity that passes ACE's rules, as the sales
// team enters it in the CRM (no ACE id yet); without drops fields from it.
func validOpportunity(t *testing.T, partnerID string, without ...string) json.RawMessage {
	t.Helper()
	rec, err := rulestest.OpportunityJSON(partnerID, nil, without...)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// create adds a partner-created opportunity to the CRM and returns its change's watermark.
func (f *fixture) create(partnerID string, fields json.RawMessage) int64 {
	f.t.Helper()
	w, err := f.crm.Create(context.Background(), ace.ObjectOpportunity, partnerID, fields)
	if err != nil {
		f.t.Fatal(err)
	}
	return int64(w)
}

func (f *fixture) status(partnerID string) crm.SyncStatus {
	f.t.Helper()
	list, err := f.crm.List(context.Background(), ace.ObjectOpportunity)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, r := range list {
		if r.PartnerID == partnerID {
			return r.SyncStatus
		}
	}
	f.t.Fatalf("no opportunity %s in the CRM", partnerID)
	return ""
}

func (f *fixture) send(in customersync.SendInput) customersync.SendResult {
	f.t.Helper()
	var res customersync.SendResult
	if err := f.run(f.acts.SendChanges, in, &res); err != nil {
		f.t.Fatal(err)
	}
	return res
}

// SendChanges moves an object's watermark over every change it handled, sent or refused by
// pre-flight validation, and stops it before the first change it held back (sent less than
// an hour ago), so the next cycles offer that change again until it is due or forced.
func TestSendChangesWatermark(t *testing.T) {
	f := newFixture(t)
	const opp = string(ace.ObjectOpportunity)
	f.create("P-A", validOpportunity(t, "P-A"))
	f.create("P-BAD", validOpportunity(t, "P-BAD", "customerCompanyName"))
	wB := f.create("P-B", validOpportunity(t, "P-B"))
	in := customersync.SendInput{Target: f.target, CRM: f.crmURL, SpmsID: "S-0001", KMSKeyARN: testKMSKey,
		After: map[string]int64{}, Limit: 100, RecordsPerFile: 1}

	res := f.send(in)
	if len(res.Sent) != 2 || res.Invalid != 1 || res.HeldBack != 0 || res.After[opp] != wB {
		t.Fatalf("first send: %+v; want 2 files, 1 invalid, watermark %d (past the invalid record)", res, wB)
	}
	if f.status("P-A") != crm.SyncSent || f.status("P-B") != crm.SyncSent || f.status("P-BAD") != crm.SyncInvalid {
		t.Errorf("statuses A %s, B %s, BAD %s; want sent, sent, validation-failed", f.status("P-A"), f.status("P-B"), f.status("P-BAD"))
	}
	for _, s := range res.Sent {
		o := f.bucket.object(s.Key)
		if o == nil {
			t.Fatalf("sent file %s not in the bucket", s.Key)
		}
		if o.sse != s3types.ServerSideEncryptionAwsKms || o.kmsKey != testKMSKey || o.acl != s3types.ObjectCannedACLBucketOwnerFullControl {
			t.Errorf("%s written with SSE %q key %q ACL %q; want SSE-KMS under ACE's key, bucket-owner-full-control", s.Key, o.sse, o.kmsKey, o.acl)
		}
	}

	// A is edited again within the hour: held back, and the watermark stops before it
	// while C, changed after it, goes.
	if _, err := f.crm.Edit(context.Background(), ace.ObjectOpportunity, "P-A", json.RawMessage(`{"nextStep":"call again"}`)); err != nil {
		t.Fatal(err)
	}
	f.create("P-C", validOpportunity(t, "P-C"))
	in.After = res.After
	res = f.send(in)
	if res.HeldBack != 1 || len(res.Sent) != 1 || res.Sent[0].Records[0].PartnerID != "P-C" || res.After[opp] != wB {
		t.Fatalf("second send: %+v; want A held back, C sent, the watermark kept at %d", res, wB)
	}
	in.After = res.After
	if res = f.send(in); res.HeldBack != 1 || len(res.Sent) != 0 || res.After[opp] != wB {
		t.Fatalf("third send: %+v; want A held back again, nothing sent, the watermark kept", res)
	}

	// Forced, A goes and the watermark moves over it.
	in.Force = true
	res = f.send(in)
	if res.HeldBack != 0 || len(res.Sent) != 1 || res.Sent[0].Records[0].PartnerID != "P-A" || res.After[opp] <= wB {
		t.Fatalf("forced send: %+v; want A sent and the watermark past %d", res, wB)
	}
	if got := len(f.bucket.keys(ace.FolderOpportunityInbound)); got != 4 {
		t.Errorf("%d inbound files, want 4 (A, B, C, A again)", got)
	}
}

// A retried SendChanges whose earlier attempt uploaded a file but lost S3's answer finds
// the file by its deterministic name (If-None-Match: * answers 412) and makes no second
// one; the records are then marked sent.
func TestSendChangesRetryAfterLostUploadMakesNoSecondFile(t *testing.T) {
	f := newFixture(t)
	f.create("P-A", validOpportunity(t, "P-A"))
	in := customersync.SendInput{Target: f.target, CRM: f.crmURL, SpmsID: "S-0001", KMSKeyARN: testKMSKey,
		After: map[string]int64{}, Limit: 100, RecordsPerFile: 1}
	f.bucket.after = func(op, _ string) error {
		if op == "PutObject" {
			return errors.New("read tcp: connection reset by peer")
		}
		return nil
	}
	var res customersync.SendResult
	if err := f.run(f.acts.SendChanges, in, &res); err == nil {
		t.Fatal("the lost upload did not fail the attempt")
	}
	if f.status("P-A") == crm.SyncSent {
		t.Fatal("marked sent although the upload's outcome was unknown")
	}
	f.bucket.after = nil

	res = f.send(in)
	if files := f.bucket.keys(ace.FolderOpportunityInbound); len(files) != 1 || len(res.Sent) != 1 || res.Sent[0].Key != files[0] {
		t.Fatalf("after the retry the bucket holds %v and the result names %+v; want the one file", files, res.Sent)
	}
	if f.status("P-A") != crm.SyncSent {
		t.Errorf("P-A is %s after the retry, want sent", f.status("P-A"))
	}
	if n := f.bucket.count("PutObject"); n != 2 {
		t.Errorf("%d uploads, want 2 (the lost one, the retry's)", n)
	}
	if n := f.bucket.putsOf(res.Sent[0].Key); n != 1 {
		t.Errorf("%s stored %d times: the retry overwrote a file ACE may have read already", res.Sent[0].Key, n)
	}
}

// With Limit changes or more, SendChanges says there are more and moves the watermark only
// over what it read.
func TestSendChangesLimit(t *testing.T) {
	f := newFixture(t)
	wA := f.create("P-A", validOpportunity(t, "P-A"))
	f.create("P-B", validOpportunity(t, "P-B"))
	res := f.send(customersync.SendInput{Target: f.target, CRM: f.crmURL, SpmsID: "S-0001", After: map[string]int64{}, Limit: 1, RecordsPerFile: 1})
	if !res.More || len(res.Sent) != 1 || res.After[string(ace.ObjectOpportunity)] != wA {
		t.Fatalf("result %+v; want More, one file, watermark %d", res, wA)
	}
}

// CollectResults writes ACE's answers to the pending files onto their records (a result's
// ACE id and acceptance; an error file's reason as a rejection) and deletes those answers;
// an object in the results folder answering no pending file is left in place and counted.
func TestCollectResults(t *testing.T) {
	f := newFixture(t)
	f.create("P-A", validOpportunity(t, "P-A"))
	f.create("P-B", validOpportunity(t, "P-B"))
	sent := f.send(customersync.SendInput{Target: f.target, CRM: f.crmURL, SpmsID: "S-0001", After: map[string]int64{}, Limit: 100, RecordsPerFile: 1})
	keyOf := map[string]string{}
	for _, s := range sent.Sent {
		keyOf[s.Records[0].PartnerID] = s.Key
	}
	result, err := json.Marshal(map[string]any{"success": "ALL", "spmsId": "S-0001", "isApiError": false, "fileName": keyOf["P-A"],
		"inboundApiResults": []map[string]any{{"partnerCrmUniqueIdentifier": "P-A", "apnCrmUniqueIdentifier": "O9001", "isSuccess": true}}})
	if err != nil {
		t.Fatal(err)
	}
	answerA := ace.ResultKeyFor(keyOf["P-A"], ace.FolderOpportunityResults)
	answerB := ace.FolderOpportunityResults + inboundName(keyOf["P-B"]) + ".error.json"
	stranger := ace.FolderOpportunityResults + "someone-else_2026-11-27T10-00-00Z_result.json"
	f.bucket.write(answerA, result)
	f.bucket.write(answerB, []byte(`{"error": "Invalid JSON"}`))
	f.bucket.write(stranger, result)

	var out customersync.ResultsOutput
	if err := f.run(f.acts.CollectResults, customersync.ResultsInput{Target: f.target, CRM: f.crmURL, Pending: sent.Sent,
		Folders: map[string]string{string(ace.ObjectOpportunity): ace.FolderOpportunityResults}}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Accepted != 1 || out.Rejected != 1 || out.Unknown != 1 || len(out.Resolved) != 2 {
		t.Errorf("result %+v; want 1 accepted, 1 rejected, 1 unknown, 2 files resolved", out)
	}
	if left := f.bucket.keys(ace.FolderOpportunityResults); len(left) != 1 || left[0] != stranger {
		t.Errorf("the results folder holds %v, want only the answer to no pending file", left)
	}
	list, err := f.crm.List(context.Background(), ace.ObjectOpportunity)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list {
		switch r.PartnerID {
		case "P-A":
			if r.SyncStatus != crm.SyncAccepted || r.ACEID != "O9001" {
				t.Errorf("P-A is %s with ACE id %q, want accepted as O9001", r.SyncStatus, r.ACEID)
			}
		case "P-B":
			if r.SyncStatus != crm.SyncRejected || len(r.SyncErrors) == 0 || !strings.Contains(r.SyncErrors[0], "Invalid JSON") {
				t.Errorf("P-B is %s with errors %q, want rejected with the error file's reason", r.SyncStatus, r.SyncErrors)
			}
		}
	}
}

// A results pass that wrote ACE's answer and deleted the result, then died before the
// workflow learned of it, is retried with the same Pending: the answered file is resolved
// from the CRM's bookkeeping (its record is no longer sent), the unanswered one stays.
func TestCollectResultsResolvesFilesAnsweredBeforeACrash(t *testing.T) {
	f := newFixture(t)
	f.create("P-A", validOpportunity(t, "P-A"))
	f.create("P-B", validOpportunity(t, "P-B"))
	sent := f.send(customersync.SendInput{Target: f.target, CRM: f.crmURL, SpmsID: "S-0001", After: map[string]int64{}, Limit: 100, RecordsPerFile: 1})
	keyOf := map[string]string{}
	for _, s := range sent.Sent {
		keyOf[s.Records[0].PartnerID] = s.Key
	}
	result, err := json.Marshal(map[string]any{"success": "ALL", "spmsId": "S-0001", "isApiError": false, "fileName": keyOf["P-A"],
		"inboundApiResults": []map[string]any{{"partnerCrmUniqueIdentifier": "P-A", "apnCrmUniqueIdentifier": "O9001", "isSuccess": true}}})
	if err != nil {
		t.Fatal(err)
	}
	f.bucket.write(ace.ResultKeyFor(keyOf["P-A"], ace.FolderOpportunityResults), result)
	in := customersync.ResultsInput{Target: f.target, CRM: f.crmURL, Pending: sent.Sent, FromCRM: true,
		Folders: map[string]string{string(ace.ObjectOpportunity): ace.FolderOpportunityResults}}

	var first, retry customersync.ResultsOutput
	if err := f.run(f.acts.CollectResults, in, &first); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.Resolved, []string{keyOf["P-A"]}) {
		t.Fatalf("first pass resolved %v, want %s", first.Resolved, keyOf["P-A"])
	}
	// The activity's result is lost: the retry gets the same Pending, and the result is gone.
	if err := f.run(f.acts.CollectResults, in, &retry); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(retry.Resolved, []string{keyOf["P-A"]}) || retry.Accepted != 0 {
		t.Errorf("retry resolved %v with %d accepted, want %s resolved from the CRM and nothing applied again", retry.Resolved, retry.Accepted, keyOf["P-A"])
	}
}
