package hubspot

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

// withFields returns r at lastModifiedDate modified with the given raw fields set.
func withFields(t *testing.T, r ace.Record, modified time.Time, kv ...string) ace.Record {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Raw, &m); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	m["lastModifiedDate"] = modified.Format("2006-01-02T15:04:05.000Z")
	r.Raw, _ = json.Marshal(m)
	r.LastModified = modified
	return r
}

// rawField reads one field of the raw ACE record a HubSpot record holds.
func rawField(t *testing.T, props map[string]string, key string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(props["ace_raw"]), &m); err != nil {
		t.Fatalf("ace_raw %q: %v", props["ace_raw"], err)
	}
	return m[key]
}

// An AWS referral arrives masked, ACE's unmasked version fills it, and a later masked
// version (ACE's next update of the referral) must not erase the real values: neither in a
// mapped property (a contact's email) nor in the raw ACE record (customerEmail, unmapped),
// as the SQLite CRM does. The masked file applied again is unchanged.
func TestMaskedValueNeverOverwritesRealData(t *testing.T) {
	srv := newFake(t)
	s, _ := openFake(t, srv, "")
	const email, contact = "cto@acme.example", "pat@acme.example"
	o, l := opp("O1", "", lm(1), "Acme", "Prospect"), lead("L1", lm(1), "ann", "lee")
	masked := func(h int, stage string) []ace.Record {
		return []ace.Record{
			withFields(t, o, lm(h), "customerEmail", ace.MaskedValue, "stage", stage),
			withFields(t, l, lm(h), "email", ace.MaskedValue, "firstName", "Accept to View"),
		}
	}
	upsert(t, s, masked(1, "Prospect")...)
	if res := upsert(t, s, withFields(t, o, lm(2), "customerEmail", email), withFields(t, l, lm(2), "email", contact)); res != (crm.UpsertResult{Updated: 2}) {
		t.Fatalf("unmasked version = %+v", res)
	}
	if res := upsert(t, s, masked(3, "Qualified")...); res != (crm.UpsertResult{Updated: 2}) {
		t.Fatalf("masked update = %+v", res)
	}
	d := srv.Find("deals", "ace_opportunity_id", "O1")
	if got := rawField(t, d.Properties, "customerEmail"); got != email {
		t.Errorf("masked update overwrote the deal's customerEmail: %v", got)
	}
	if got := rawField(t, d.Properties, "stage"); got != "Qualified" {
		t.Errorf("masked update's real data not applied: stage = %v", got)
	}
	c := srv.Find("contacts", "ace_lead_id", "L1")
	if c.Properties["email"] != contact || c.Properties["firstname"] != "ann" || rawField(t, c.Properties, "email") != contact {
		t.Errorf("masked update overwrote the contact's data: email = %q, firstname = %q, raw email = %v",
			c.Properties["email"], c.Properties["firstname"], rawField(t, c.Properties, "email"))
	}
	before := srv.Get("deals", d.ID).Properties["hs_lastmodifieddate"]
	if res := upsert(t, s, masked(3, "Qualified")...); res != (crm.UpsertResult{Unchanged: 2}) {
		t.Errorf("masked file applied again = %+v, want 2 unchanged", res)
	}
	if after := srv.Get("deals", d.ID).Properties["hs_lastmodifieddate"]; after != before {
		t.Error("masked file applied again wrote the deal")
	}
}
