package salesforce_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/salesforce"
	"github.com/oppsync/oppsync/crm/salesforce/sfcontract"
)

// The sales team's edits that ACE has not confirmed survive ACE's newer versions, as on
// SQLite and HubSpot: until ACE accepts the change that carries them, whether it was sent
// yet or not.

// salesRep is a Salesforce user other than the integration user.
const salesRep = "005000000000USER"

// editsOrg is a fake org with one ACE opportunity (O1, Prospect) and a clock that moves one
// second per write, as Salesforce's SystemModstamp does between two people's saves.
func editsOrg(t *testing.T) (*sfcontract.Server, *salesforce.Store, string) {
	t.Helper()
	srv, s, _ := setup(t, "")
	clock := time.Now().UTC().Truncate(time.Second) // also the token endpoint's clock
	srv.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	upsertOK(t, s, opp("O1", "Prospect", t0))
	return srv, s, srv.Find("Opportunity", "ACE_Opportunity_Id__c", "O1")["Id"].(string)
}

func upsertOK(t *testing.T, s *salesforce.Store, recs ...ace.Record) crm.UpsertResult {
	t.Helper()
	res, err := s.Upsert(context.Background(), src("x.json"), recs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func changesOf(t *testing.T, s *salesforce.Store, after crm.Watermark) []crm.Change {
	t.Helper()
	c, err := s.Changes(context.Background(), ace.ObjectOpportunity, after, 100)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func record(t *testing.T, s *salesforce.Store, o crm.Outcome) {
	t.Helper()
	o.Object = ace.ObjectOpportunity
	if err := s.Record(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

func aceField(t *testing.T, fields json.RawMessage, key string) string {
	t.Helper()
	var f map[string]json.RawMessage
	if err := json.Unmarshal(fields, &f); err != nil {
		t.Fatal(err)
	}
	return string(f[key])
}

// A rep's edit not sent yet: ACE's newer version fills the other fields, the edited one
// keeps the rep's value, and the change is still returned by Changes, above the watermark
// the workflow holds, so it is still sent.
func TestCRMEditsSurviveACEUpdate(t *testing.T) {
	srv, s, id := editsOrg(t)
	held := crm.Watermark(0) // the workflow has seen no CRM change yet
	srv.Edit("Opportunity", id, salesRep, map[string]any{"StageName": "Qualification"})

	// ACE's hourly export (or a Selling API pull) brings its newer version first.
	if res := upsertOK(t, s, opp("O1", "Prospect", t0.Add(time.Hour), "customerCompanyName", "Acme Corp")); res != (crm.UpsertResult{Updated: 1}) {
		t.Fatalf("ACE's update = %+v, want 1 updated", res)
	}
	r := srv.Records("Opportunity")[id]
	if r["StageName"] != "Qualification" || r["ACE_Customer_Company_Name__c"] != "Acme Corp" {
		t.Errorf("after ACE's update: stage %v, company %v; want the rep's stage and ACE's company", r["StageName"], r["ACE_Customer_Company_Name__c"])
	}
	if r["ACE_Sync_Status__c"] != string(crm.SyncPending) {
		t.Errorf("sync status %v, want pending", r["ACE_Sync_Status__c"])
	}
	got := changesOf(t, s, held)
	if len(got) != 1 || got[0].PartnerID != id || got[0].Watermark <= held {
		t.Fatalf("changes after ACE's update = %+v, want the rep's pending edit", got)
	}
	if st, co := aceField(t, got[0].Fields, "stage"), aceField(t, got[0].Fields, "customerCompanyName"); st != `"Qualified"` || co != `"Acme Corp"` {
		t.Errorf("the change carries stage %s, company %s; want the rep's stage on ACE's new version", st, co)
	}
	if prev := aceField(t, got[0].Previous, "customerCompanyName"); prev != `"Acme Corp"` {
		t.Errorf("Previous carries company %s, want ACE's new version", prev)
	}

	// Sent: the status moves on and the change is not offered again.
	record(t, s, crm.Outcome{PartnerID: id, ACEID: "O1", Status: crm.SyncSent, File: "opportunity-inbound/a.json", Watermark: got[0].Watermark})
	if again := changesOf(t, s, got[0].Watermark); len(again) != 0 {
		t.Errorf("a sent change is offered again: %+v", again)
	}
}

// An edit sent but not accepted yet survives ACE's export that predates ACE's processing
// of it, and waits for ACE's answer (sent, not offered again).
func TestSentEditSurvivesOlderExport(t *testing.T) {
	srv, s, id := editsOrg(t)
	srv.Edit("Opportunity", id, salesRep, map[string]any{"StageName": "Qualification"})
	ch := changesOf(t, s, 0)
	if len(ch) != 1 {
		t.Fatalf("changes = %+v, want the rep's edit", ch)
	}
	record(t, s, crm.Outcome{PartnerID: id, ACEID: "O1", Status: crm.SyncSent, File: "opportunity-inbound/a.json", Watermark: ch[0].Watermark})

	upsertOK(t, s, opp("O1", "Prospect", t0.Add(time.Hour), "customerCompanyName", "Acme Corp"))
	r := srv.Records("Opportunity")[id]
	if r["StageName"] != "Qualification" || r["ACE_Customer_Company_Name__c"] != "Acme Corp" {
		t.Errorf("after ACE's older export: stage %v, company %v; want the rep's stage and ACE's company", r["StageName"], r["ACE_Customer_Company_Name__c"])
	}
	if r["ACE_Sync_Status__c"] != string(crm.SyncSent) {
		t.Errorf("sync status %v, want sent (awaiting ACE's answer)", r["ACE_Sync_Status__c"])
	}
	if got := changesOf(t, s, ch[0].Watermark); len(got) != 0 {
		t.Errorf("the sent change is offered again: %+v", got)
	}
	if aw, err := s.Awaiting(context.Background(), ace.ObjectOpportunity, 0); err != nil || len(aw) != 1 || aw[0].PartnerID != id {
		t.Errorf("Awaiting = %+v, %v; want the sent record", aw, err)
	}
	// The same export again changes nothing.
	if res := upsertOK(t, s, opp("O1", "Prospect", t0.Add(time.Hour), "customerCompanyName", "Acme Corp")); res != (crm.UpsertResult{Unchanged: 1}) {
		t.Errorf("the same export again = %+v, want unchanged", res)
	}
}

// Once ACE accepted the change, its edits are ACE's: ACE's later update applies in full
// (AWS moved the stage on) and the record shows synced.
func TestACEUpdateAfterAcceptanceAppliesInFull(t *testing.T) {
	srv, s, id := editsOrg(t)
	srv.Edit("Opportunity", id, salesRep, map[string]any{"StageName": "Qualification", "NextStep": "Pricing call"})
	ch := changesOf(t, s, 0)
	if len(ch) != 1 {
		t.Fatalf("changes = %+v, want the rep's edit", ch)
	}
	record(t, s, crm.Outcome{PartnerID: id, ACEID: "O1", Status: crm.SyncSent, File: "opportunity-inbound/a.json", Watermark: ch[0].Watermark})
	upsertOK(t, s, opp("O1", "Prospect", t0.Add(time.Hour))) // the export older than ACE's processing
	record(t, s, crm.Outcome{PartnerID: id, ACEID: "O1", Status: crm.SyncAccepted, File: "opportunity-inbound/a.json", Watermark: ch[0].Watermark})
	r := srv.Records("Opportunity")[id]
	if r["ACE_Sync_Status__c"] != string(crm.SyncAccepted) || !strings.Contains(r["ACE_Raw__c"].(string), `"stage":"Qualified"`) {
		t.Fatalf("after ACE's acceptance: status %v, raw %v; want accepted with the rep's stage in ACE's version", r["ACE_Sync_Status__c"], r["ACE_Raw__c"])
	}

	upsertOK(t, s, opp("O1", "Committed", t0.Add(2*time.Hour), "nextStep", "Contract review"))
	r = srv.Records("Opportunity")[id]
	if r["StageName"] != "Negotiation/Review" || r["NextStep"] != "Contract review" {
		t.Errorf("after ACE's later update: stage %v, next step %v; want ACE's values", r["StageName"], r["NextStep"])
	}
	if r["ACE_Sync_Status__c"] != string(crm.SyncUpToDate) {
		t.Errorf("sync status %v, want synced", r["ACE_Sync_Status__c"])
	}
	if got := changesOf(t, s, 0); len(got) != 0 {
		t.Errorf("ACE's update is echoed as a change: %+v", got)
	}
}

// An edit ACE rejected stays on top of ACE's updates until the sales team corrects it, and
// is not sent again before that.
func TestRejectedEditStaysUntilCorrected(t *testing.T) {
	srv, s, id := editsOrg(t)
	srv.Edit("Opportunity", id, salesRep, map[string]any{"StageName": "Closed Won"})
	ch := changesOf(t, s, 0)
	record(t, s, crm.Outcome{PartnerID: id, ACEID: "O1", Status: crm.SyncSent, File: "opportunity-inbound/a.json", Watermark: ch[0].Watermark})
	record(t, s, crm.Outcome{PartnerID: id, ACEID: "O1", Status: crm.SyncRejected, Errors: []string{"stage: cannot move to Launched"}, File: "opportunity-inbound/a.json", Watermark: ch[0].Watermark})

	upsertOK(t, s, opp("O1", "Prospect", t0.Add(time.Hour), "customerCompanyName", "Acme Corp"))
	r := srv.Records("Opportunity")[id]
	if r["StageName"] != "Closed Won" || r["ACE_Customer_Company_Name__c"] != "Acme Corp" || r["ACE_Sync_Status__c"] != string(crm.SyncRejected) {
		t.Errorf("after ACE's update: stage %v, company %v, status %v; want the rejected edit kept, ACE's company, rejected",
			r["StageName"], r["ACE_Customer_Company_Name__c"], r["ACE_Sync_Status__c"])
	}
	if got := changesOf(t, s, ch[0].Watermark); len(got) != 0 {
		t.Errorf("the rejected change is offered again without a new edit: %+v", got)
	}
	srv.Edit("Opportunity", id, salesRep, map[string]any{"StageName": "Qualification"})
	if got := changesOf(t, s, ch[0].Watermark); len(got) != 1 || aceField(t, got[0].Fields, "stage") != `"Qualified"` {
		t.Errorf("the correction is not a change: %+v", got)
	}
}

// ACE's acceptance of an answer to an AWS referral (the file carried just the answer)
// confirms only that: the rep's other edit stays pending, is returned by Changes as a
// change of its own, and survives ACE's next update.
func TestPartialAcceptanceLeavesOtherEditsPending(t *testing.T) {
	srv, s, id := editsOrg(t)
	srv.Edit("Opportunity", id, salesRep, map[string]any{"ACE_Partner_Acceptance_Status__c": "Accepted", "NextStep": "Call Pat"})
	ch := changesOf(t, s, 0)
	answer := []string{"partnerAcceptanceStatus"}
	record(t, s, crm.Outcome{PartnerID: id, ACEID: "O1", Status: crm.SyncSent, File: "opportunity-inbound/a.json", Watermark: ch[0].Watermark})
	record(t, s, crm.Outcome{PartnerID: id, ACEID: "O1", Status: crm.SyncAccepted, File: "opportunity-inbound/a.json", Watermark: ch[0].Watermark, Fields: answer})
	r := srv.Records("Opportunity")[id]
	raw, _ := r["ACE_Raw__c"].(string)
	if r["ACE_Sync_Status__c"] != string(crm.SyncPending) || !strings.Contains(raw, `"partnerAcceptanceStatus":"Accepted"`) || strings.Contains(raw, "Call Pat") {
		t.Fatalf("after the answer's acceptance: status %v, raw %s; want pending, the answer in ACE's version and not the other edit", r["ACE_Sync_Status__c"], raw)
	}
	got := changesOf(t, s, ch[0].Watermark)
	if len(got) != 1 || aceField(t, got[0].Fields, "nextStep") != `"Call Pat"` {
		t.Fatalf("changes after the answer = %+v, want the other edit", got)
	}
	upsertOK(t, s, opp("O1", "Qualified", t0.Add(time.Hour), "partnerAcceptanceStatus", "Accepted"))
	if r := srv.Records("Opportunity")[id]; r["NextStep"] != "Call Pat" || r["StageName"] != "Qualification" {
		t.Errorf("after ACE's update: next step %v, stage %v; want the rep's next step and ACE's stage", r["NextStep"], r["StageName"])
	}
	if again := changesOf(t, s, got[0].Watermark-1); len(again) != 1 {
		t.Errorf("the other edit is no longer a change after ACE's update: %+v", again)
	}
}
