package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
)

func (f *fixture) poll(in customersync.PollInput) customersync.PollResult {
	f.t.Helper()
	var res customersync.PollResult
	if err := f.run(f.acts.Poll, in, &res); err != nil {
		f.t.Fatal(err)
	}
	return res
}

func keysOf(refs []customersync.ObjectRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.Key)
	}
	return out
}

// ListOutbound pages through each folder in key order (one LIST per page, nothing else),
// skips folder markers and the files to skip unless they changed, starts after each
// folder's StartAfter, HEADs the included files before it, and reports the skipped files
// that are gone.
func TestListOutbound(t *testing.T) {
	f := newFixture(t)
	f.bucket.pageSize = 2
	f.bucket.write(ace.FolderOpportunityOutbound, nil) // the folder marker a console makes
	var opps []string
	for i := range 5 {
		key := fmt.Sprintf("%s2026-11-27T1%d-00-00Z.json", ace.FolderOpportunityOutbound, i)
		f.bucket.write(key, outboundFile(t, ace.ObjectOpportunity, rec{fmt.Sprintf("O%d", i), "x", ""}))
		opps = append(opps, key)
	}
	f.bucket.write(lead1, outboundFile(t, ace.ObjectLead, rec{"L1", "x", ""}))
	folders := []string{ace.FolderOpportunityOutbound, ace.FolderLeadOutbound}

	var res customersync.ListResult
	if err := f.run(f.acts.ListOutbound, customersync.ListInput{Target: f.target, Folders: folders}, &res); err != nil {
		t.Fatal(err)
	}
	if want := append(slices.Clone(opps), lead1); !slices.Equal(keysOf(res.Objects), want) {
		t.Fatalf("listed %v, want %v", keysOf(res.Objects), want)
	}
	if res.Objects[0].ETag != f.bucket.object(opps[0]).etag || res.Objects[0].Size == 0 {
		t.Errorf("listed %+v without the object's ETag and size", res.Objects[0])
	}
	// 6 keys in the opportunity folder (the marker included), 2 a page: 3 pages; 1 lead page.
	if n := f.bucket.count("ListObjectsV2"); n != 4 || f.bucket.count("GetObject")+f.bucket.count("HeadObject") != 0 {
		t.Errorf("%d LIST requests and %d other reads, want 4 LISTs only", n, f.bucket.count("GetObject")+f.bucket.count("HeadObject"))
	}

	// Skip: an unchanged file is left out, a rewritten one listed, a gone one reported.
	// StartAfter: only later keys are listed, and an included earlier one is HEADed.
	skip := map[string]string{opps[3]: f.bucket.object(opps[3]).etag, opps[4]: `"old"`, ace.FolderOpportunityOutbound + "2026-11-27T19-00-00Z.json": `"gone"`}
	in := customersync.ListInput{Target: f.target, Folders: folders, Skip: skip,
		StartAfter: map[string]string{ace.FolderOpportunityOutbound: opps[2]},
		Include:    []string{opps[1], ace.FolderOpportunityOutbound + "2026-11-27T00-00-00Z.json"}}
	if err := f.run(f.acts.ListOutbound, in, &res); err != nil {
		t.Fatal(err)
	}
	if want := []string{opps[1], opps[4], lead1}; !slices.Equal(keysOf(res.Objects), want) {
		t.Errorf("listed %v, want %v", keysOf(res.Objects), want)
	}
	if want := []string{ace.FolderOpportunityOutbound + "2026-11-27T19-00-00Z.json"}; !slices.Equal(res.Missing, want) {
		t.Errorf("Missing = %v, want %v", res.Missing, want)
	}
	if res.Last[ace.FolderOpportunityOutbound] != opps[4] {
		t.Errorf("Last = %v, want %s for the opportunity folder", res.Last, opps[4])
	}
	if n := f.bucket.count("HeadObject"); n != 2 {
		t.Errorf("%d HEADs, want one per included key", n)
	}

	// MaxObjects truncates.
	if err := f.run(f.acts.ListOutbound, customersync.ListInput{Target: f.target, Folders: folders, MaxObjects: 2}, &res); err != nil {
		t.Fatal(err)
	}
	if !res.Truncated || len(res.Objects) != 2 {
		t.Errorf("MaxObjects 2: %d objects, truncated %v", len(res.Objects), res.Truncated)
	}
}

// Poll's decisions: outbound files always; CRM changes only when one is due (or forced);
// results only when a pending file, or one the CRM holds as sent, has its answer; expired
// when a record waited longer than the result timeout; an inbound failure reported without
// failing the outbound part.
func TestPollDecisions(t *testing.T) {
	f := newFixture(t)
	const opp = string(ace.ObjectOpportunity)
	f.bucket.write(opp1, outboundFile(t, ace.ObjectOpportunity, rec{"O1", "one", ""}))
	list := customersync.ListInput{Target: f.target, Folders: []string{ace.FolderOpportunityOutbound}}
	folders := map[string]string{opp: ace.FolderOpportunityResults, string(ace.ObjectLead): ace.FolderLeadResults}

	if res := f.poll(customersync.PollInput{List: list}); len(res.Objects) != 1 || res.Changes || res.Results {
		t.Fatalf("outbound only: %+v", res)
	}

	f.create("P-A", validOpportunity(t, "P-A"))
	wB := f.create("P-B", validOpportunity(t, "P-B"))
	inbound := customersync.PollInbound{CRM: f.crmURL, After: map[string]int64{}, Folders: folders}
	if res := f.poll(customersync.PollInput{List: list, Inbound: &inbound}); !res.Changes || len(res.Objects) != 1 {
		t.Fatalf("a new CRM record: %+v, want Changes and the outbound file", res)
	}
	if res := f.poll(customersync.PollInput{List: list, Inbound: &customersync.PollInbound{CRM: f.crmURL, After: map[string]int64{opp: wB}}}); res.Changes {
		t.Errorf("no change after the watermark, yet Changes")
	}

	sent := f.send(customersync.SendInput{Target: f.target, CRM: f.crmURL, SpmsID: "S-0001", After: map[string]int64{}, Limit: 100, RecordsPerFile: 1})
	sentKey := map[string]string{}
	for _, s := range sent.Sent {
		sentKey[s.Records[0].PartnerID] = s.Key
	}
	key := sentKey["P-A"]
	if _, err := f.crm.Edit(context.Background(), ace.ObjectOpportunity, "P-A", json.RawMessage(`{"nextStep":"call again"}`)); err != nil {
		t.Fatal(err)
	}
	inbound.After = sent.After
	if res := f.poll(customersync.PollInput{List: list, Inbound: &inbound}); res.Changes {
		t.Errorf("a record sent less than an hour ago counted as due")
	}
	forced := inbound
	forced.Force = true
	if res := f.poll(customersync.PollInput{List: list, Inbound: &forced}); !res.Changes {
		t.Errorf("forced, the held record is not due")
	}

	// Results: pending key without an answer, with another file's answer, with its own.
	inbound.Pending = []string{key}
	lists := f.bucket.count("ListObjectsV2")
	if res := f.poll(customersync.PollInput{List: list, Inbound: &inbound}); res.Results {
		t.Errorf("Results with no answer in the bucket")
	}
	if n := f.bucket.count("ListObjectsV2") - lists; n != 2 {
		t.Errorf("%d LISTs with a file pending, want 2 (outbound, results)", n)
	}
	f.bucket.write(ace.ResultKeyFor(ace.FolderOpportunityInbound+"other_2026-11-27T10-00-00Z.json", ace.FolderOpportunityResults), []byte(`{}`))
	if res := f.poll(customersync.PollInput{List: list, Inbound: &inbound}); res.Results {
		t.Errorf("Results for the answer to a file not pending")
	}
	f.bucket.write(ace.ResultKeyFor(key, ace.FolderOpportunityResults), []byte(`{}`))
	if res := f.poll(customersync.PollInput{List: list, Inbound: &inbound}); !res.Results {
		t.Errorf("no Results though the pending %s has its answer", key)
	}

	// From the CRM: the workflow knows of no pending file; the CRM holds P-B as sent (P-A,
	// edited since, is pending again).
	fromCRM := customersync.PollInbound{CRM: f.crmURL, After: sent.After, Folders: folders, FromCRM: true, ResultTimeout: time.Hour}
	res := f.poll(customersync.PollInput{List: list, Inbound: &fromCRM})
	if res.Awaiting != 1 || res.Results || res.Expired {
		t.Errorf("from the CRM: %+v; want 1 awaiting, no result yet, not expired", res)
	}
	f.bucket.write(ace.ResultKeyFor(sentKey["P-B"], ace.FolderOpportunityResults), []byte(`{}`))
	if res := f.poll(customersync.PollInput{List: list, Inbound: &fromCRM}); !res.Results {
		t.Errorf("from the CRM: the answer to %s not found", sentKey["P-B"])
	}
	if err := f.crm.Record(context.Background(), crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: "P-B", Status: crm.SyncSent,
		File: sentKey["P-B"], At: time.Now().UTC().Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if res := f.poll(customersync.PollInput{List: list, Inbound: &fromCRM}); !res.Expired {
		t.Errorf("a record sent two hours ago with a one-hour result timeout is not expired: %+v", res)
	}

	// An inbound failure: reported, typed, and the outbound files still listed.
	for name, crmURL := range map[string]string{"unknown scheme": "nope:///x", "outbound-only CRM": "outbound-only://"} {
		f.acts.stores["outbound-only://"] = outboundOnly{f.crm.Store}
		res := f.poll(customersync.PollInput{List: list, Inbound: &customersync.PollInbound{CRM: crmURL}})
		if res.InboundError == "" || res.InboundErrorType != customersync.ErrCRMConfig || len(res.Objects) != 1 {
			t.Errorf("%s: %+v; want the inbound error typed %s and the outbound file listed", name, res, customersync.ErrCRMConfig)
		}
		if name == "outbound-only CRM" && !strings.Contains(res.InboundError, "cannot send its changes") {
			t.Errorf("%s: InboundError %q does not say why", name, res.InboundError)
		}
	}
}

// outboundOnly is a CRM without change detection (no crm.Inbound).
type outboundOnly struct{ crm.Store }

// Close leaves the wrapped store to the fixture.
func (outboundOnly) Close() error { return nil }
