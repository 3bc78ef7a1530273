package salesforce_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

// lead makes an outbound lead record.
func lead(id string, lm time.Time, extra ...string) ace.Record {
	fields := map[string]any{"apnCrmUniqueIdentifier": id, "status": "Open", "currentLeadStage": "Open",
		"lastModifiedDate": lm.UTC().Format("2006-01-02T15:04:05.000Z")}
	for i := 0; i+1 < len(extra); i += 2 {
		fields[extra[i]] = extra[i+1]
	}
	raw, _ := json.Marshal(fields)
	return ace.Record{Object: ace.ObjectLead, ACEID: id, LastModified: lm.UTC(), Raw: raw, Lead: &ace.Lead{}}
}

// rawField reads one field of the raw ACE record a Salesforce record holds.
func rawField(t *testing.T, r map[string]any, key string) any {
	t.Helper()
	s, _ := r["ACE_Raw__c"].(string)
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("ACE_Raw__c %q: %v", s, err)
	}
	return m[key]
}

// An AWS referral arrives masked, ACE's unmasked version fills it, and a later masked
// version (ACE's next update of the referral) must not erase the real values: neither in a
// mapped field (Lead.Email) nor in the raw ACE record (customerEmail, unmapped), as the
// SQLite CRM does. The masked file applied again is unchanged.
func TestMaskedValueNeverOverwritesRealData(t *testing.T) {
	srv, s, _ := setup(t, "")
	ctx := context.Background()
	const email, contact = "cto@acme.example", "pat@acme.example"
	masked := func(lm time.Time, stage string) []ace.Record {
		return []ace.Record{
			opp("O1", stage, lm, "customerEmail", ace.MaskedValue, "opportunityOwnership", "AWS Referral"),
			lead("L1", lm, "email", ace.MaskedValue, "company", "Accept to View"),
		}
	}
	if _, err := s.Upsert(ctx, src("masked.json"), masked(t0, "Prospect")); err != nil {
		t.Fatal(err)
	}
	unmasked := []ace.Record{
		opp("O1", "Prospect", t0.Add(time.Hour), "customerEmail", email, "opportunityOwnership", "AWS Referral"),
		lead("L1", t0.Add(time.Hour), "email", contact, "company", "Acme"),
	}
	if res, err := s.Upsert(ctx, src("unmasked.json"), unmasked); err != nil || res != (crm.UpsertResult{Updated: 2}) {
		t.Fatalf("unmasked version = %+v, %v", res, err)
	}
	if res, err := s.Upsert(ctx, src("remasked.json"), masked(t0.Add(2*time.Hour), "Qualified")); err != nil || res != (crm.UpsertResult{Updated: 2}) {
		t.Fatalf("masked update = %+v, %v", res, err)
	}
	o := srv.Find("Opportunity", "ACE_Opportunity_Id__c", "O1")
	if got := rawField(t, o, "customerEmail"); got != email {
		t.Errorf("masked update overwrote the opportunity's customerEmail: %v", got)
	}
	if o["StageName"] != "Qualification" {
		t.Errorf("masked update's real data not applied: StageName = %v", o["StageName"])
	}
	l := srv.Find("Lead", "ACE_Lead_Id__c", "L1")
	if l["Email"] != contact || rawField(t, l, "email") != contact || rawField(t, l, "company") != "Acme" {
		t.Errorf("masked update overwrote the lead's data: Email = %v, raw email = %v, raw company = %v",
			l["Email"], rawField(t, l, "email"), rawField(t, l, "company"))
	}
	stamp := srv.Find("Opportunity", "ACE_Opportunity_Id__c", "O1")["SystemModstamp"]
	if res, err := s.Upsert(ctx, src("remasked.json"), masked(t0.Add(2*time.Hour), "Qualified")); err != nil || res != (crm.UpsertResult{Unchanged: 2}) {
		t.Errorf("masked file applied again = %+v, %v; want 2 unchanged", res, err)
	}
	if got := srv.Find("Opportunity", "ACE_Opportunity_Id__c", "O1")["SystemModstamp"]; got != stamp {
		t.Error("masked file applied again wrote the opportunity")
	}
}
