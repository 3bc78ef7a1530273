package activities

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
)

const (
	opp1  = ace.FolderOpportunityOutbound + "2026-11-27T10-00-00Z.json"
	opp2  = ace.FolderOpportunityOutbound + "2026-11-27T11-00-00Z.json"
	opp3  = ace.FolderOpportunityOutbound + "2026-11-27T12-00-00Z.json"
	opp4  = ace.FolderOpportunityOutbound + "2026-11-27T13-00-00Z.json"
	lead1 = ace.FolderLeadOutbound + "2026-11-27T10-00-00Z.json"
)

// Across the files of a batch each record is written once, in one Upsert per object, with
// its newest copy: the latest lastModifiedDate wins, a tie goes to the later file (or the
// later record of one file), and a copy without lastModifiedDate loses to one with it.
func TestSyncBatchMergesEachRecordsNewestCopy(t *testing.T) {
	f := newFixture(t)
	f.bucket.write(opp1, outboundFile(t, ace.ObjectOpportunity,
		rec{"O1", "one, older", "2026-11-27T10:00:00.000Z"},
		rec{"O2", "two, newer", "2026-11-27T12:00:00.000Z"},
		rec{"O3", "three, undated", ""},
		rec{"O5", "five, first of the file", "2026-11-27T10:00:00.000Z"},
		rec{"O5", "five, second of the file", "2026-11-27T10:00:00.000Z"}))
	f.bucket.write(opp2, outboundFile(t, ace.ObjectOpportunity,
		rec{"O1", "one, newer", "2026-11-27T11:00:00.000Z"},
		rec{"O2", "two, older", "2026-11-27T11:00:00.000Z"},
		rec{"O3", "three, dated", "2026-11-27T09:00:00.000Z"},
		rec{"O4", "four, earlier file", "2026-11-27T10:00:00.000Z"}))
	f.bucket.write(opp3, outboundFile(t, ace.ObjectOpportunity,
		rec{"O4", "four, later file", "2026-11-27T10:00:00.000Z"}))
	f.bucket.write(lead1, outboundFile(t, ace.ObjectLead, rec{"L1", "lead one", "2026-11-27T10:00:00.000Z"}))

	var res customersync.SyncBatchResult
	if err := f.run(f.acts.SyncBatch, customersync.SyncBatchInput{Target: f.target, CRM: f.crmURL,
		Objects: f.refs(lead1, opp1, opp2, opp3), Ack: customersync.AckDelete}, &res); err != nil {
		t.Fatal(err)
	}

	want := map[string]struct{ name, file string }{
		"O1": {"one, newer", opp2},
		"O2": {"two, newer", opp1},
		"O3": {"three, dated", opp2},
		"O4": {"four, later file", opp3},
		"O5": {"five, second of the file", opp1},
	}
	got := f.records(ace.ObjectOpportunity)
	for id, w := range want {
		if got[id].Name != w.name || got[id].SourceKey != w.file {
			t.Errorf("%s in the CRM is %q from %s, want %q from %s", id, got[id].Name, got[id].SourceKey, w.name, w.file)
		}
	}
	if len(got) != len(want) {
		t.Errorf("the CRM holds %d opportunities, want %d", len(got), len(want))
	}
	if leads := f.records(ace.ObjectLead); leads["L1"].Name != "lead one" {
		t.Errorf("lead L1 = %+v", leads["L1"])
	}

	calls := f.crm.calls()
	if len(calls) != 2 {
		t.Fatalf("%d Upsert calls (%+v), want one per object", len(calls), calls)
	}
	for _, c := range calls {
		ids := slices.Clone(c.ids)
		slices.Sort(ids)
		if len(slices.Compact(ids)) != len(c.ids) {
			t.Errorf("the %s Upsert carries a record twice: %v", c.object, c.ids)
		}
	}
	// 11 records in the files: 6 kept and written, 5 superseded copies counted stale.
	if res.Files != 4 || res.Inserted != 6 || res.Stale != 5 || res.Records != 11 || len(res.Quarantined) != 0 {
		t.Errorf("result %+v, want 4 files, 6 inserted, 5 stale, 11 records", res)
	}
	if left := f.bucket.keys(""); len(left) != 0 {
		t.Errorf("files left in the bucket after they synced: %v", left)
	}
}

// A retry of a batch skips the files its earlier attempt acknowledged (its heartbeat
// details), reads the rest again, and does not touch the skipped ones.
func TestSyncBatchRetrySkipsAcknowledgedFiles(t *testing.T) {
	f := newFixture(t)
	f.bucket.write(opp1, outboundFile(t, ace.ObjectOpportunity, rec{"O1", "one", "2026-11-27T10:00:00.000Z"}))
	f.bucket.write(opp2, outboundFile(t, ace.ObjectOpportunity, rec{"O2", "two", "2026-11-27T10:00:00.000Z"}))
	f.bucket.write(opp3, outboundFile(t, ace.ObjectOpportunity, rec{"O3", "three", "2026-11-27T10:00:00.000Z"}))
	// opp1 is still in the bucket here only so that the test sees whether it is touched: it
	// was acknowledged, so the retry must neither read nor delete it.
	in := customersync.SyncBatchInput{Target: f.target, CRM: f.crmURL, Objects: f.refs(opp1, opp2, opp3), Ack: customersync.AckDelete}

	var res customersync.SyncBatchResult
	if err := f.run(f.acts.SyncBatch, in, &res, batchProgress{Done: []string{opp1}, Read: true}); err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 1 || res.Files != 2 || res.Reread != 2 {
		t.Errorf("result %+v, want 1 resumed, 2 files synced, 2 read again", res)
	}
	if n := f.bucket.getsOf(opp1); n != 0 {
		t.Errorf("the acknowledged %s was read %d times", opp1, n)
	}
	if f.bucket.object(opp1) == nil {
		t.Errorf("the acknowledged %s was deleted again", opp1)
	}
	if got := f.records(ace.ObjectOpportunity); len(got) != 2 || got["O1"].ACEID != "" {
		t.Errorf("the CRM holds %v, want O2 and O3 only", slices.Collect(mapsKeysOf(got)))
	}
}

// A file ACE rewrote after it was read (its ETag changed) is not deleted: the delete
// carries If-Match with the ETag read, S3 answers 412, and the new version is synced by the
// next batch.
func TestSyncBatchLeavesAFileRewrittenSinceRead(t *testing.T) {
	f := newFixture(t)
	f.bucket.write(opp1, outboundFile(t, ace.ObjectOpportunity, rec{"O1", "one", "2026-11-27T10:00:00.000Z"}))
	f.bucket.write(opp2, outboundFile(t, ace.ObjectOpportunity, rec{"O2", "two, first version", "2026-11-27T10:00:00.000Z"}))
	in := customersync.SyncBatchInput{Target: f.target, CRM: f.crmURL, Objects: f.refs(opp1, opp2), Ack: customersync.AckDelete}
	rewritten := outboundFile(t, ace.ObjectOpportunity, rec{"O2", "two, rewritten", "2026-11-27T11:00:00.000Z"})
	f.bucket.before = func(op, key string) error {
		if op == "DeleteObject" && key == opp2 {
			f.bucket.write(opp2, rewritten)
		}
		return nil
	}
	var res customersync.SyncBatchResult
	if err := f.run(f.acts.SyncBatch, in, &res); err != nil {
		t.Fatal(err)
	}
	if f.bucket.object(opp1) != nil {
		t.Errorf("%s, unchanged since read, was not deleted", opp1)
	}
	left := f.bucket.object(opp2)
	if left == nil || left.etag != etagOf(rewritten) {
		t.Fatalf("the rewritten %s was deleted: its new version is lost", opp2)
	}
	f.bucket.before = nil

	if err := f.run(f.acts.SyncBatch, customersync.SyncBatchInput{Target: f.target, CRM: f.crmURL, Objects: f.refs(opp2), Ack: customersync.AckDelete}, &res); err != nil {
		t.Fatal(err)
	}
	if got := f.records(ace.ObjectOpportunity)["O2"].Name; got != "two, rewritten" {
		t.Errorf("O2 = %q after the next batch, want the rewritten version", got)
	}
	if f.bucket.object(opp2) != nil {
		t.Errorf("%s not deleted once its new version synced", opp2)
	}
}

// In tag mode a synced file is tagged and left in place, and the result names it with the
// ETag read; a file ACE removed between the read and the tagging is no failure.
func TestSyncBatchTagMode(t *testing.T) {
	f := newFixture(t)
	f.bucket.write(opp1, outboundFile(t, ace.ObjectOpportunity, rec{"O1", "one", "2026-11-27T10:00:00.000Z"}))
	f.bucket.write(opp2, outboundFile(t, ace.ObjectOpportunity, rec{"O2", "two", "2026-11-27T10:00:00.000Z"}))
	refs := f.refs(opp1, opp2)
	f.bucket.before = func(op, key string) error {
		if op == "PutObjectTagging" && key == opp2 {
			f.bucket.remove(opp2) // ACE moved it to its archive meanwhile
		}
		return nil
	}
	var res customersync.SyncBatchResult
	if err := f.run(f.acts.SyncBatch, customersync.SyncBatchInput{Target: f.target, CRM: f.crmURL, Objects: refs, Ack: customersync.AckTag}, &res); err != nil {
		t.Fatalf("a file removed before its tagging failed the batch: %v", err)
	}
	o := f.bucket.object(opp1)
	if o == nil || o.tags[ace.ProcessedTagKey] != ace.ProcessedTagValue {
		t.Fatalf("%s not tagged %s=%s and left in place: %+v", opp1, ace.ProcessedTagKey, ace.ProcessedTagValue, o)
	}
	if f.bucket.count("DeleteObject") != 0 {
		t.Errorf("tag mode deleted files")
	}
	if len(res.Tagged) == 0 || res.Tagged[0] != refs[0] {
		t.Errorf("Tagged = %+v, want %s with the ETag read first", res.Tagged, opp1)
	}
	if len(f.records(ace.ObjectOpportunity)) != 2 {
		t.Errorf("records not synced in tag mode")
	}
}

// A file that cannot be synced as it is (bad JSON, a bad record, empty) is quarantined with
// its reason and left in place; the rest of the batch lands and is acknowledged, the good
// records of a file with a bad one included.
func TestSyncBatchQuarantinesBadFilesAndLandsTheRest(t *testing.T) {
	f := newFixture(t)
	f.bucket.write(opp1, outboundFile(t, ace.ObjectOpportunity, rec{"O1", "one", "2026-11-27T10:00:00.000Z"}))
	f.bucket.write(opp2, []byte(`{"version": "2.0", "opportunities": [`))
	f.bucket.write(opp3, outboundFile(t, ace.ObjectOpportunity, rec{"O3", "three", "2026-11-27T10:00:00.000Z"}, rec{"", "no id", ""}))
	f.bucket.write(opp4, nil)
	var res customersync.SyncBatchResult
	if err := f.run(f.acts.SyncBatch, customersync.SyncBatchInput{Target: f.target, CRM: f.crmURL,
		Objects: f.refs(opp1, opp2, opp3, opp4), Ack: customersync.AckDelete}, &res); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, q := range res.Quarantined {
		reasons[q.Key] = q.Reason
	}
	for key, want := range map[string]string{opp2: "JSON", opp3: "1 of 2 records rejected", opp4: "empty"} {
		if !strings.Contains(reasons[key], want) {
			t.Errorf("%s quarantined with %q, want a reason saying %q", key, reasons[key], want)
		}
		if f.bucket.object(key) == nil {
			t.Errorf("the quarantined %s was acknowledged", key)
		}
	}
	if len(res.Quarantined) != 3 || res.Files != 1 || res.Rejected != 1 {
		t.Errorf("result %+v, want 3 quarantined, 1 file synced, 1 record rejected", res)
	}
	if f.bucket.object(opp1) != nil {
		t.Errorf("the good %s was not acknowledged", opp1)
	}
	if got := f.records(ace.ObjectOpportunity); got["O1"].Name != "one" || got["O3"].Name != "three" {
		t.Errorf("the good records did not land: %v", slices.Collect(mapsKeysOf(got)))
	}
}

// When the CRM refuses some records for good, the files they came from are quarantined with
// the CRM's words and the other files are acknowledged. When a write fails transiently, the
// files of the objects that committed are acknowledged and the activity fails to be retried.
func TestSyncBatchCRMFailures(t *testing.T) {
	t.Run("refused records quarantine their files", func(t *testing.T) {
		f := newFixture(t)
		f.bucket.write(opp1, outboundFile(t, ace.ObjectOpportunity, rec{"O1", "one", "2026-11-27T10:00:00.000Z"}))
		f.bucket.write(opp2, outboundFile(t, ace.ObjectOpportunity, rec{"O2", "two", "2026-11-27T10:00:00.000Z"}))
		f.crm.failUpsert = func(ace.Object) error {
			return &crm.BatchError{CRM: "TestCRM", Records: []crm.RefusedRecord{{ACEID: "O2", Code: "PICKLIST", Message: "bad stage"}}}
		}
		var res customersync.SyncBatchResult
		if err := f.run(f.acts.SyncBatch, customersync.SyncBatchInput{Target: f.target, CRM: f.crmURL, Objects: f.refs(opp1, opp2), Ack: customersync.AckDelete}, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Quarantined) != 1 || res.Quarantined[0].Key != opp2 || !strings.Contains(res.Quarantined[0].Reason, "bad stage") {
			t.Errorf("quarantined %+v, want %s with the CRM's reason", res.Quarantined, opp2)
		}
		if f.bucket.object(opp1) != nil || f.bucket.object(opp2) == nil {
			t.Errorf("want %s acknowledged and %s left: bucket holds %v", opp1, opp2, f.bucket.keys(""))
		}
	})
	t.Run("a transient failure keeps that object's files", func(t *testing.T) {
		f := newFixture(t)
		f.bucket.write(opp1, outboundFile(t, ace.ObjectOpportunity, rec{"O1", "one", "2026-11-27T10:00:00.000Z"}))
		f.bucket.write(lead1, outboundFile(t, ace.ObjectLead, rec{"L1", "lead one", "2026-11-27T10:00:00.000Z"}))
		f.crm.failUpsert = func(obj ace.Object) error {
			if obj == ace.ObjectLead {
				return errors.New("connection reset by peer")
			}
			return nil
		}
		var res customersync.SyncBatchResult
		err := f.run(f.acts.SyncBatch, customersync.SyncBatchInput{Target: f.target, CRM: f.crmURL, Objects: f.refs(lead1, opp1), Ack: customersync.AckDelete}, &res)
		var appErr *temporal.ApplicationError
		if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
			t.Fatalf("a transient CRM failure returned %v, want a retryable error", err)
		}
		if f.bucket.object(opp1) != nil || f.bucket.object(lead1) == nil {
			t.Errorf("want the committed %s acknowledged and %s kept: bucket holds %v", opp1, lead1, f.bucket.keys(""))
		}
	})
}

// mapsKeysOf lists a map's keys, for messages.
func mapsKeysOf[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

var _ = fmt.Sprint
