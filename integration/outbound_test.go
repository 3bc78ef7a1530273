package integration

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
)

// The AWS sample outbound files reach the CRM through the starter CLI and a worker process,
// exactly as an operator would run them.
func TestSampleFilesSyncThroughCLI(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "samples")
	c.taskQueue = customersync.TaskQueue
	worker := startWorkerProcess(t, customersync.TaskQueue)
	defer worker.stop(t)

	enroll := []string{"enroll", "--customer", c.Name, "--env", "beta", "--role-arn", c.RoleARN,
		"--external-id", c.ExternalID, "--bucket", c.Bucket, "--kms-key-arn", c.KMSKeyARN,
		"--crm", c.crmURL, "--poll-interval", "1h"}
	out, err := run(t, "starter", enroll...)
	if err != nil || !strings.Contains(out, "enrolled samples/beta") {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = terminate(c.workflowID()) })
	// Enrolling again updates the configuration; it does not fail or start a second workflow.
	out, err = run(t, "starter", append(enroll[:len(enroll)-1], "2h")...)
	if err != nil {
		t.Fatalf("enroll again: %v\n%s", err, out)
	}
	if got := c.status(t).Config.PollInterval; got != 2*time.Hour {
		t.Fatalf("poll interval after re-enroll = %s, want 2h", got)
	}
	c.awaitFirstCycle(t)
	c.syncNow(t) // the cycle the new configuration asked for is over: the CLI's cycle below is the one that sees the files
	c.putAsACE(t, "opportunity-outbound/2026-11-27T10-00-00.json", sample(t, "opportunity-outbound.json"))
	c.putAsACE(t, "lead-outbound/2026-11-27T10-00-00.json", sample(t, "lead-outbound.json"))

	out, err = run(t, "starter", "sync-now", "--customer", c.Name, "--env", "beta", "--wait")
	if err != nil {
		t.Fatalf("sync-now --wait: %v\n%s", err, out)
	}
	if !strings.Contains(out, "2 files, 2 records") {
		t.Fatalf("sync-now --wait printed %q, want the cycle's counts (2 files, 2 records)", out)
	}

	out, err = run(t, "starter", "crm", "export", "--crm", c.crmURL, "--object", "opportunity", "--json")
	if err != nil {
		t.Fatalf("crm export: %v\n%s", err, out)
	}
	var opps []crm.Record
	if err := json.Unmarshal([]byte(out), &opps); err != nil {
		t.Fatalf("crm export --json: %v\n%s", err, out)
	}
	if len(opps) != 1 || opps[0].ACEID != "OXXXXXX" || opps[0].PartnerID != "TestIdentifier" || opps[0].Name != "Test LLC" {
		t.Fatalf("exported opportunities = %+v, want the sample's OXXXXXX of Test LLC", opps)
	}
	// Every ACE field is kept, including ones OppSync does not map.
	for _, field := range []string{`"offers"`, `"engagementScore"`, `"aWSStage"`, `"IsOppFromMarketingActivity"`} {
		if !bytes.Contains(opps[0].Fields, []byte(field)) {
			t.Errorf("exported opportunity lost field %s", field)
		}
	}
	leads := c.records(t, "lead")
	if len(leads) != 1 || leads[0].ACEID != "LXXXXXX" {
		t.Fatalf("leads in CRM = %+v, want the sample's LXXXXXX", leads)
	}
	// Synced files are acknowledged by deletion (ACE keeps an archive copy).
	if keys := c.keys(t, "opportunity-outbound/"); len(keys) != 0 {
		t.Errorf("opportunity-outbound still holds %v after sync", keys)
	}

	out, err = run(t, "starter", "status", "--customer", c.Name, "--env", "beta")
	if err != nil || !strings.Contains(out, "totals") || !strings.Contains(out, "2 files, 2 records") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if strings.Contains(out, c.ExternalID) {
		t.Fatalf("status printed the External ID")
	}
	out, err = run(t, "starter", "list")
	if err != nil || !strings.Contains(out, "samples") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = run(t, "starter", "status", "--customer", "nobody", "--env", "beta")
	if err == nil || !strings.Contains(out, "not enrolled") {
		t.Fatalf("status of an unknown customer: err=%v\n%s", err, out)
	}
}

// Malformed files are quarantined with a clear reason and left in place, while the good file
// of the same cycle syncs; the next cycle does not retry them.
func TestMalformedFilesQuarantinedGoodFilesSync(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "malformed")
	startWorker(t, c.taskQueue)

	good := opportunityFile(t, ids("O", 1, 3), time.Now(), "Prospect")
	mixed := []byte(`{"version":"2.0","spmsId":"1","opportunities":[{"apnCrmUniqueIdentifier":"O0000099","lastModifiedDate":"2026-01-01T00:00:00.000Z"},{"customerCompanyName":"no id"}]}`)
	bad := map[string]struct {
		body   []byte
		reason string
	}{
		"opportunity-outbound/invalid.json":    {[]byte(`{"version": "2.0", "opportunities": [`), "JSON"},
		"opportunity-outbound/array.json":      {[]byte(`[{"apnCrmUniqueIdentifier":"O1"}]`), "array"},
		"opportunity-outbound/wrongtypes.json": {[]byte(`{"version": {"v": 2}, "opportunities": {}}`), "version"},
		"opportunity-outbound/missingids.json": {mixed, "apnCrmUniqueIdentifier"},
		"opportunity-outbound/empty.json":      {[]byte{}, "empty"},
		"opportunity-outbound/notes.txt":       {[]byte(`hello`), ".json"},
		"lead-outbound/oversize.json":          {bytes.Repeat([]byte(" "), ace.MaxOutboundFileBytes+1), "MiB"},
	}
	c.enroll(t, c.config())
	for key, f := range bad {
		c.putAsACE(t, key, f.body)
	}
	c.putAsACE(t, "opportunity-outbound/good.json", good)

	sum := c.syncNow(t)
	if !sum.OK() {
		t.Fatalf("cycle errors: %v", sum.Errors)
	}
	if sum.Counts.Quarantined != len(bad) {
		t.Errorf("quarantined %d files, want %d", sum.Counts.Quarantined, len(bad))
	}
	recs := c.records(t, "opportunity")
	var got []string
	for _, r := range recs {
		got = append(got, r.ACEID)
	}
	// The good file's records and the readable record of the mixed file are synced.
	if want := append(ids("O", 1, 3), "O0000099"); !slices.Equal(got, want) {
		t.Fatalf("CRM holds %v, want %v", got, want)
	}
	st := c.status(t)
	reasons := map[string]string{}
	for _, q := range st.State.Quarantine {
		reasons[q.Key] = q.Reason
	}
	for key, f := range bad {
		reason, ok := reasons[key]
		if !ok {
			t.Errorf("%s is not in the quarantine list", key)
			continue
		}
		if !strings.Contains(reason, f.reason) {
			t.Errorf("quarantine reason of %s = %q, want it to mention %q", key, reason, f.reason)
		}
	}
	// Quarantined files stay in the bucket; the good one is gone.
	left := append(c.keys(t, "opportunity-outbound/"), c.keys(t, "lead-outbound/")...)
	if len(left) != len(bad) || slices.Contains(left, "opportunity-outbound/good.json") {
		t.Errorf("bucket holds %v, want only the %d quarantined files", left, len(bad))
	}
	// The next cycle does not retry them: an idle cycle.
	before := env.s3Calls.Load()
	next := c.syncNow(t)
	if next.Counts.Files != 0 || next.Counts.Quarantined != 0 || !next.OK() {
		t.Errorf("second cycle = %+v, want nothing done", next)
	}
	if calls := env.s3Calls.Load() - before; calls > 2 {
		t.Errorf("idle cycle with quarantined files made %d S3 requests, want ≤ 2", calls)
	}
	// A fixed file (new ETag) leaves quarantine and syncs.
	c.putAsACE(t, "opportunity-outbound/invalid.json", opportunityFile(t, ids("O", 50, 1), time.Now(), "Qualified"))
	fixed := c.syncNow(t)
	if fixed.Counts.Files != 1 || fixed.Counts.Records != 1 {
		t.Errorf("cycle after fixing a file = %+v, want 1 file, 1 record", fixed.Counts)
	}
	if n := len(c.status(t).State.Quarantine); n != len(bad)-1 {
		t.Errorf("quarantine holds %d files after a fix, want %d", n, len(bad)-1)
	}
	recordHistory(t, c.workflowID(), "quarantine-and-fix.json")
}

// An older update from ACE never overwrites newer data in the CRM.
func TestOlderUpdateNeverOverwritesNewer(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "ordering")
	startWorker(t, c.taskQueue)
	c.enroll(t, c.config())
	newer := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

	c.putAsACE(t, "opportunity-outbound/1.json", opportunityFile(t, []string{"O0000001"}, newer, "Committed"))
	if s := c.syncNow(t); s.Counts.Inserted != 1 {
		t.Fatalf("first cycle = %+v, want 1 inserted", s)
	}
	c.putAsACE(t, "opportunity-outbound/2.json", opportunityFile(t, []string{"O0000001"}, newer.Add(-time.Hour), "Prospect"))
	s := c.syncNow(t)
	if s.Counts.Stale != 1 || s.Counts.Updated != 0 {
		t.Fatalf("older update: counts = %+v, want 1 stale, 0 updated", s.Counts)
	}
	recs := c.records(t, "opportunity")
	if len(recs) != 1 || recs[0].Stage != "Committed" || !recs[0].LastModified.Equal(newer) {
		t.Fatalf("CRM = %+v, want stage Committed at %s", recs, newer)
	}
	c.putAsACE(t, "opportunity-outbound/3.json", opportunityFile(t, []string{"O0000001"}, newer.Add(time.Hour), "Launched"))
	if s := c.syncNow(t); s.Counts.Updated != 1 {
		t.Fatalf("newer update: counts = %+v, want 1 updated", s.Counts)
	}
	if recs := c.records(t, "opportunity"); recs[0].Stage != "Launched" {
		t.Fatalf("stage = %s after a newer update, want Launched", recs[0].Stage)
	}
}

// A wrong External ID gives a clear error that status shows, without retrying AssumeRole in
// a loop; fixing the configuration heals the customer.
func TestWrongExternalIDIsReportedNotRetried(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "wrongid")
	startWorker(t, c.taskQueue)
	c.putAsACE(t, "opportunity-outbound/1.json", opportunityFile(t, ids("O", 1, 2), time.Now(), "Prospect"))
	cfg := c.config()
	cfg.ExternalID = "not-the-right-external-id-but-32-characters-long"
	c.enroll(t, cfg)

	before := env.stack.STS.Requests()
	sum := c.syncNow(t)
	if sum.OK() {
		t.Fatal("cycle with a wrong External ID succeeded")
	}
	st := c.status(t)
	if !strings.Contains(st.State.LastError, "External ID") || !strings.Contains(st.State.LastError, c.RoleARN) {
		t.Fatalf("status last error = %q, want it to name the role and the External ID", st.State.LastError)
	}
	if st.State.ConsecutiveFailures < 1 {
		t.Fatalf("status shows %d failures", st.State.ConsecutiveFailures)
	}
	if strings.Contains(st.State.LastError, cfg.ExternalID) {
		t.Fatalf("status shows the External ID")
	}
	// One AssumeRole per attempt of the SDK, one activity attempt: no retry loop.
	if n := env.stack.STS.Requests() - before; n > 3 {
		t.Fatalf("%d AssumeRole requests for one failing cycle: the error was retried", n)
	}
	// A new configuration starts a cycle at once.
	cfg.ExternalID = c.ExternalID
	c.enroll(t, cfg)
	eventually(t, time.Minute, "the records synced after the fix", func() bool { return len(c.records(t, "opportunity")) == 2 })
	eventually(t, time.Minute, "the customer healthy again", func() bool { return c.status(t).Health == customersync.HealthHealthy })
	if st := c.status(t); st.State.LastError != "" || st.State.Diagnosis != "" || st.State.ConsecutiveFailures != 0 {
		t.Fatalf("status after recovery: error %q, diagnosis %q, %d failures", st.State.LastError, st.State.Diagnosis, st.State.ConsecutiveFailures)
	}
	recordHistory(t, c.workflowID(), "access-denied-then-fixed.json")
}

// With ack=tag the file stays, tagged, and later cycles neither re-read it nor spend more
// than one LIST per folder.
func TestTagAckModeLeavesFilesAndSkipsThem(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "tagged")
	startWorker(t, c.taskQueue)
	cfg := c.config()
	cfg.AckMode = customersync.AckTag
	c.enroll(t, cfg)
	c.putAsACE(t, "lead-outbound/1.json", sample(t, "lead-outbound.json"))
	if s := c.syncNow(t); s.Counts.Files != 1 || s.Counts.Inserted != 1 {
		t.Fatalf("first cycle = %+v", s.Counts)
	}
	if keys := c.keys(t, "lead-outbound/"); len(keys) != 1 {
		t.Fatalf("lead-outbound holds %v, want the tagged file", keys)
	}
	before := env.s3Calls.Load()
	if s := c.syncNow(t); s.Counts.Files != 0 {
		t.Fatalf("second cycle re-synced a tagged file: %+v", s.Counts)
	}
	if calls := env.s3Calls.Load() - before; calls > 2 {
		t.Fatalf("idle cycle made %d S3 requests, want ≤ 2", calls)
	}
	recordHistory(t, c.workflowID(), "tag-ack.json")

	// A file quarantined, then files after it: the tag mark passes it (the state forgets
	// what it covers), and a re-drive after the fix still finds it behind the mark.
	const bad = "lead-outbound/2.json"
	c.putAsACE(t, bad, []byte(`{"version":"2.0","spmsId":"1","leads":[{"firstName":"no id"}]}`))
	c.putAsACE(t, "lead-outbound/3.json", sample(t, "lead-outbound.json"))
	if s := c.syncNow(t); s.Counts.Quarantined != 1 || s.Counts.Files != 2 {
		t.Fatalf("cycle with a bad file = %+v", s.Counts)
	}
	st := c.status(t)
	if mark := st.State.TagMarks["lead-outbound/"]; mark != "lead-outbound/3.json" || len(st.State.Acked) != 0 {
		t.Fatalf("tag mark %q and %d acknowledgements kept, want the mark at lead-outbound/3.json and none kept", mark, len(st.State.Acked))
	}
	c.putAsACE(t, bad, sample(t, "lead-outbound.json")) // fixed in place, under the mark
	if _, err := run(t, "starter", "redrive", "--customer", c.Name, "--env", "beta", "--file", bad); err != nil {
		t.Fatalf("redrive: %v", err)
	}
	if st := c.status(t); len(st.State.Quarantine) != 0 || st.State.LastCycle.Counts.Files != 1 {
		t.Fatalf("after the re-drive: quarantine %v, last cycle %+v; want the fixed file synced", st.State.Quarantine, st.State.LastCycle.Counts)
	}
}
