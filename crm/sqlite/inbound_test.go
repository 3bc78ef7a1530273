package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

func mustCreate(t testing.TB, s *Store, object ace.Object, partnerID, fields string) crm.Watermark {
	t.Helper()
	w, err := s.Create(context.Background(), object, partnerID, json.RawMessage(fields))
	if err != nil {
		t.Fatalf("Create(%s %s): %v", object, partnerID, err)
	}
	return w
}

func mustEdit(t testing.TB, s *Store, object ace.Object, id, patch string) crm.Watermark {
	t.Helper()
	w, err := s.Edit(context.Background(), object, id, json.RawMessage(patch))
	if err != nil {
		t.Fatalf("Edit(%s %s): %v", object, id, err)
	}
	return w
}

func mustRecord(t testing.TB, s *Store, o crm.Outcome) {
	t.Helper()
	if err := s.Record(context.Background(), o); err != nil {
		t.Fatalf("Record(%+v): %v", o, err)
	}
}

// pending returns the pending changes of object after a watermark.
func pending(t testing.TB, s *Store, object ace.Object, after crm.Watermark, limit int) []crm.Change {
	t.Helper()
	c, err := s.Changes(context.Background(), object, after, limit)
	if err != nil {
		t.Fatalf("Changes(%s, %d, %d): %v", object, after, limit, err)
	}
	return c
}

// record returns the one exported record of object whose partner or ACE id is id.
func record(t testing.TB, s *Store, object ace.Object, id string) crm.Record {
	t.Helper()
	recs, err := s.List(context.Background(), object)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.PartnerID == id || r.ACEID == id {
			return r
		}
	}
	t.Fatalf("no %s %s in %+v", object, id, recs)
	return crm.Record{}
}

// fields decodes a JSON object into strings (compact JSON text for non-strings), with
// "<absent>" for nothing.
func fields(t testing.TB, raw json.RawMessage) map[string]string {
	t.Helper()
	m, err := decodeObject(raw)
	if err != nil {
		t.Fatalf("fields %s: %v", raw, err)
	}
	out := map[string]string{}
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

func get(m map[string]string, key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	return "<absent>"
}

func watermarks(cs []crm.Change) []crm.Watermark {
	var w []crm.Watermark
	for _, c := range cs {
		w = append(w, c.Watermark)
	}
	return w
}

// TestInboundLifecycle follows a partner-created opportunity from creation through its
// send, ACE's acceptance, a later edit and ACE's next outbound update.
func TestInboundLifecycle(t *testing.T) {
	s, c := openTest(t)
	const obj = ace.ObjectOpportunity

	w1 := mustCreate(t, s, obj, "P-1", `{"customerCompanyName": "Acme Corp", "stage": "Prospect",
		"expectedMonthlyAwsRevenue": 250, "customerWebsite": null, "partnerCrmUniqueIdentifier": "P-1"}`)
	if w1 <= 0 {
		t.Fatalf("watermark = %d, want > 0", w1)
	}
	got := pending(t, s, obj, 0, 10)
	if len(got) != 1 {
		t.Fatalf("Changes = %+v, want the created record", got)
	}
	ch := got[0]
	f := fields(t, ch.Fields)
	if !ch.ChangedAt.Equal(t0) {
		t.Errorf("ChangedAt = %s, want the time of the create, %s (it names the inbound file)", ch.ChangedAt, t0)
	}
	if ch.PartnerID != "P-1" || ch.ACEID != "" || ch.Watermark != w1 || ch.Previous != nil || !ch.LastSentAt.IsZero() ||
		get(f, "partnerCrmUniqueIdentifier") != "P-1" || get(f, aceIDKey) != "<absent>" ||
		get(f, "customerCompanyName") != "Acme Corp" || get(f, "expectedMonthlyAwsRevenue") != "250" ||
		get(f, "customerWebsite") != "<absent>" {
		t.Errorf("create change = %+v, fields %v", ch, f)
	}
	if r := record(t, s, obj, "P-1"); r.SyncStatus != crm.SyncPending || r.Name != "Acme Corp" || r.Stage != "Prospect" || r.Watermark != w1 {
		t.Errorf("exported after create: %+v", r)
	}
	if got := pending(t, s, ace.ObjectLead, 0, 10); len(got) != 0 {
		t.Errorf("lead changes = %+v, want none", got)
	}

	// Sent: not offered again, whatever watermark the caller resumes from.
	c.Advance(time.Minute)
	sentAt := c.Now()
	mustRecord(t, s, crm.Outcome{Object: obj, PartnerID: "P-1", Watermark: w1, Status: crm.SyncSent,
		File: "opportunity-inbound/f1.json", At: sentAt})
	if got := pending(t, s, obj, 0, 10); len(got) != 0 {
		t.Errorf("Changes after sent = %+v, want none", got)
	}
	r := record(t, s, obj, "P-1")
	if r.SyncStatus != crm.SyncSent || !r.LastSentAt.Equal(sentAt) || r.SyncFile != "opportunity-inbound/f1.json" {
		t.Errorf("exported after sent: %+v", r)
	}

	// Accepted with ACE's new id: export shows it, nothing pending.
	c.Advance(time.Minute)
	mustRecord(t, s, crm.Outcome{Object: obj, PartnerID: "P-1", ACEID: "O-NEW", Watermark: w1, Status: crm.SyncAccepted,
		Warnings: []string{"industry: defaulted"}, File: "opportunity-inbound/f1.json", At: c.Now()})
	r = record(t, s, obj, "P-1")
	if r.ACEID != "O-NEW" || r.SyncStatus != crm.SyncAccepted || !slices.Equal(r.SyncWarnings, []string{"industry: defaulted"}) ||
		r.SyncErrors != nil || !r.LastSentAt.Equal(sentAt) {
		t.Errorf("exported after accepted: %+v", r)
	}
	out, _ := json.Marshal(r)
	for _, want := range []string{`"apnCrmUniqueIdentifier":"O-NEW"`, `"syncStatus":"accepted"`, `"lastSentAt":"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("export JSON %s lacks %s", out, want)
		}
	}
	if got := pending(t, s, obj, 0, 10); len(got) != 0 {
		t.Errorf("Changes after accepted = %+v, want none", got)
	}

	// An edit, by ACE id this time, is an update: ACE id and ACE's version go with it.
	w2 := mustEdit(t, s, obj, "O-NEW", `{"stage": "Qualified", "expectedMonthlyAwsRevenue": null}`)
	if w2 <= w1 {
		t.Errorf("edit watermark %d not above create's %d", w2, w1)
	}
	got = pending(t, s, obj, w1, 10)
	if len(got) != 1 {
		t.Fatalf("Changes after edit = %+v, want one", got)
	}
	ch, f = got[0], fields(t, got[0].Fields)
	prev := fields(t, ch.Previous)
	if ch.ACEID != "O-NEW" || ch.PartnerID != "P-1" || ch.Watermark != w2 || !ch.LastSentAt.Equal(sentAt) ||
		get(f, aceIDKey) != "O-NEW" || get(f, "stage") != "Qualified" || get(f, "expectedMonthlyAwsRevenue") != "<absent>" ||
		get(f, "customerCompanyName") != "Acme Corp" ||
		get(prev, "stage") != "Prospect" || get(prev, aceIDKey) != "O-NEW" || get(prev, "expectedMonthlyAwsRevenue") != "250" {
		t.Errorf("edit change = %+v\nfields %v\nprevious %v", ch, f, prev)
	}
	// The same patch again changes nothing and keeps the watermark.
	if w := mustEdit(t, s, obj, "P-1", `{"stage": "Qualified"}`); w != w2 {
		t.Errorf("no-op edit returned watermark %d, want %d", w, w2)
	}

	// ACE's next outbound update (of the accepted create) does not produce a CRM change,
	// and does not undo the pending edit.
	mustUpsert(t, s, src("o1"), opp("O-NEW", "P-1", lm(1), "Acme Corp", "Prospect", map[string]any{"industry": "Healthcare"}))
	got = pending(t, s, obj, 0, 10)
	if len(got) != 1 || got[0].Watermark != w2 || get(fields(t, got[0].Fields), "stage") != "Qualified" ||
		get(fields(t, got[0].Fields), "industry") != "Healthcare" {
		t.Errorf("Changes after ACE's update = %+v", got)
	}
	if r := record(t, s, obj, "O-NEW"); r.Stage != "Qualified" || r.SyncStatus != crm.SyncPending {
		t.Errorf("exported after ACE's update: %+v", r)
	}
}

func TestChangesOrderAndLimit(t *testing.T) {
	s, _ := openTest(t)
	const obj = ace.ObjectOpportunity
	w1 := mustCreate(t, s, obj, "P-1", `{"stage": "Prospect"}`)
	w2 := mustCreate(t, s, obj, "P-2", `{"stage": "Prospect"}`)
	wl := mustCreate(t, s, ace.ObjectLead, "L-P-1", `{"company": "Acme"}`)
	w3 := mustCreate(t, s, obj, "P-3", `{"stage": "Prospect"}`)
	w1b := mustEdit(t, s, obj, "P-1", `{"stage": "Qualified"}`)
	if !(w1 < w2 && w2 < wl && wl < w3 && w3 < w1b) {
		t.Fatalf("watermarks %d %d %d %d %d do not increase (one counter for both objects)", w1, w2, wl, w3, w1b)
	}

	// P-1 appears once, at its latest watermark.
	if got := watermarks(pending(t, s, obj, 0, 10)); !slices.Equal(got, []crm.Watermark{w2, w3, w1b}) {
		t.Errorf("all = %v, want %v", got, []crm.Watermark{w2, w3, w1b})
	}
	if got := watermarks(pending(t, s, obj, 0, 2)); !slices.Equal(got, []crm.Watermark{w2, w3}) {
		t.Errorf("limit 2 = %v", got)
	}
	if got := watermarks(pending(t, s, obj, w3, 2)); !slices.Equal(got, []crm.Watermark{w1b}) {
		t.Errorf("after %d = %v, want [%d]", w3, got, w1b)
	}
	if got := pending(t, s, ace.ObjectLead, 0, 10); len(got) != 1 || got[0].PartnerID != "L-P-1" ||
		get(fields(t, got[0].Fields), "partnerCrmLeadId") != "L-P-1" {
		t.Errorf("lead changes = %+v", got)
	}
	if _, err := s.Changes(context.Background(), obj, 0, 0); err == nil {
		t.Error("Changes with limit 0 succeeded, want an error")
	}
	if _, err := s.Changes(context.Background(), "account", 0, 1); err == nil {
		t.Error("Changes of an unknown object succeeded")
	}
}

func TestRecordIsIdempotentAndOrdered(t *testing.T) {
	s, c := openTest(t)
	const obj = ace.ObjectOpportunity
	w1 := mustCreate(t, s, obj, "P-1", `{"stage": "Prospect"}`)
	sent := crm.Outcome{Object: obj, PartnerID: "P-1", Watermark: w1, Status: crm.SyncSent, File: "opportunity-inbound/a.json", At: c.Now()}
	mustRecord(t, s, sent)
	before := dump(t, s)
	c.Advance(time.Minute)
	mustRecord(t, s, sent)
	if after := dump(t, s); after != before {
		t.Errorf("repeated sent changed the state:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	accepted := crm.Outcome{Object: obj, PartnerID: "P-1", ACEID: "O1", Watermark: w1, Status: crm.SyncAccepted, File: sent.File, At: c.Now()}
	mustRecord(t, s, accepted)
	before = dump(t, s)
	c.Advance(time.Minute)
	mustRecord(t, s, accepted)
	mustRecord(t, s, sent) // a retried "sent" arriving after the result
	mustRecord(t, s, crm.Outcome{Object: obj, PartnerID: "P-1", Watermark: w1, Status: crm.SyncNoAnswer, At: c.Now()})
	if after := dump(t, s); after != before {
		t.Errorf("repeated or late outcomes changed the state:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// An outcome for an older change leaves the newer edit pending.
	w2 := mustEdit(t, s, obj, "P-1", `{"stage": "Qualified"}`)
	mustRecord(t, s, crm.Outcome{Object: obj, PartnerID: "P-1", Watermark: w2, Status: crm.SyncSent, File: "opportunity-inbound/b.json", At: c.Now()})
	w3 := mustEdit(t, s, obj, "P-1", `{"stage": "Committed"}`)
	mustRecord(t, s, crm.Outcome{Object: obj, PartnerID: "P-1", ACEID: "O1", Watermark: w2, Status: crm.SyncAccepted, At: c.Now()})
	if r := record(t, s, obj, "O1"); r.SyncStatus != crm.SyncPending || r.Stage != "Committed" {
		t.Errorf("after an outcome for an older change: %+v, want still pending", r)
	}
	got := pending(t, s, obj, 0, 10)
	if len(got) != 1 || got[0].Watermark != w3 {
		t.Fatalf("Changes = %+v, want the newer edit %d", got, w3)
	}
	// Its edits were not folded into ACE's version: ACE accepted only the older change.
	if prev := fields(t, got[0].Previous); get(prev, "stage") != "Prospect" {
		t.Errorf("Previous = %v, want ACE's last confirmed version", prev)
	}
	// Without a watermark an outcome is about the latest change.
	mustRecord(t, s, crm.Outcome{Object: obj, PartnerID: "P-1", Status: crm.SyncSent, At: c.Now()})
	if got := pending(t, s, obj, 0, 10); len(got) != 0 {
		t.Errorf("Changes after sent = %+v", got)
	}

	for _, bad := range []crm.Outcome{
		{Object: obj, PartnerID: "P-404", Status: crm.SyncSent},
		{Object: obj, PartnerID: "P-1", Status: crm.SyncPending},
		{Object: obj, PartnerID: "P-1", Status: crm.SyncSent, Watermark: w3 + 100},
		{Object: obj, PartnerID: "P-1", ACEID: "O-OTHER", Status: crm.SyncAccepted},
		{Object: obj, Status: crm.SyncSent},
		{Object: "account", PartnerID: "P-1", Status: crm.SyncSent},
	} {
		if err := s.Record(context.Background(), bad); err == nil {
			t.Errorf("Record(%+v) succeeded, want an error", bad)
		}
	}
	if err := s.Record(context.Background(), crm.Outcome{Object: obj, PartnerID: "P-404", Status: crm.SyncSent}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Record of an unknown record: %v, want ErrNotFound", err)
	}
}

func TestValidationFailedShownAndNotResent(t *testing.T) {
	s, c := openTest(t)
	const obj = ace.ObjectLead
	w1 := mustCreate(t, s, obj, "LP-1", `{"company": "Acme", "email": "not-an-email"}`)
	problems := []string{"email: not an email address", "lastName: mandatory"}
	mustRecord(t, s, crm.Outcome{Object: obj, PartnerID: "LP-1", Watermark: w1, Status: crm.SyncInvalid,
		Errors: problems, File: "lead-inbound/x.json", At: c.Now()})

	r := record(t, s, obj, "LP-1")
	if r.SyncStatus != crm.SyncInvalid || !slices.Equal(r.SyncErrors, problems) || !r.LastSentAt.IsZero() {
		t.Errorf("exported = %+v", r)
	}
	out, _ := json.Marshal(r)
	if !strings.Contains(string(out), `"syncErrors":["email: not an email address","lastName: mandatory"]`) {
		t.Errorf("export JSON lacks the errors: %s", out)
	}
	if got := pending(t, s, obj, 0, 10); len(got) != 0 {
		t.Errorf("an invalid record is offered again without an edit: %+v", got)
	}
	w2 := mustEdit(t, s, obj, "LP-1", `{"email": "ada@example.com", "lastName": "Lovelace"}`)
	got := pending(t, s, obj, 0, 10)
	if len(got) != 1 || got[0].Watermark != w2 || got[0].Previous != nil {
		t.Errorf("after the fix: %+v", got)
	}
	if r := record(t, s, obj, "LP-1"); r.SyncStatus != crm.SyncPending {
		t.Errorf("status after the fix = %q", r.SyncStatus)
	}
}

// TestUpsertKeepsCRMEdits: an AWS referral arrives masked, the sales team edits it before
// ACE's next file brings the full data; that file fills the untouched fields only.
func TestUpsertKeepsCRMEdits(t *testing.T) {
	s, c := openTest(t)
	const obj = ace.ObjectOpportunity
	masked := map[string]any{"customerWebsite": ace.MaskedValue, "customerEmail": ace.MaskedValue, "partnerAcceptanceStatus": "Pending"}
	mustUpsert(t, s, src("o1"), opp("O1", "", lm(1), ace.MaskedValue, "Prospect", masked))
	if got := pending(t, s, obj, 0, 10); len(got) != 0 {
		t.Fatalf("ACE's referral became a CRM change: %+v", got)
	}

	w := mustEdit(t, s, obj, "O1", `{"partnerAcceptanceStatus": "Accepted", "stage": "Qualified", "customerWebsite": "https://acme.example"}`)
	r := record(t, s, obj, "O1")
	if r.PartnerID != "oppsync-opportunity-1" || r.Stage != "Qualified" || r.SyncStatus != crm.SyncPending {
		t.Fatalf("edited referral: %+v", r)
	}

	c.Advance(time.Hour)
	full := map[string]any{"customerWebsite": "https://www.acme.com", "customerEmail": "cto@acme.example",
		"partnerAcceptanceStatus": "Accepted", "industry": "Healthcare"}
	if res := mustUpsert(t, s, src("o2"), opp("O1", "", lm(2), "Acme Corp", "Prospect", full)); res.Updated != 1 {
		t.Fatalf("ACE's full data: %+v", res)
	}
	r = record(t, s, obj, "O1")
	f := fields(t, r.Fields)
	if r.Name != "Acme Corp" || r.Stage != "Qualified" || r.PartnerID != "oppsync-opportunity-1" ||
		get(f, "customerWebsite") != "https://acme.example" || get(f, "customerEmail") != "cto@acme.example" ||
		get(f, "industry") != "Healthcare" || get(f, "stage") != "Qualified" {
		t.Errorf("after ACE's update: %+v\nfields %v", r, f)
	}
	// Still the same one pending change, now with ACE's filled-in fields; Previous is ACE's.
	got := pending(t, s, obj, 0, 10)
	if len(got) != 1 || got[0].Watermark != w {
		t.Fatalf("Changes = %+v, want the one edit at %d", got, w)
	}
	cf, prev := fields(t, got[0].Fields), fields(t, got[0].Previous)
	if get(cf, "customerCompanyName") != "Acme Corp" || get(cf, "stage") != "Qualified" ||
		get(cf, "partnerCrmUniqueIdentifier") != "oppsync-opportunity-1" || get(cf, aceIDKey) != "O1" ||
		get(prev, "stage") != "Prospect" || get(prev, "customerWebsite") != "https://www.acme.com" {
		t.Errorf("change fields %v\nprevious %v", cf, prev)
	}

	// A masked value in a later file never overwrites real data, and that file re-applied
	// is unchanged.
	c.Advance(time.Hour)
	remasked := opp("O1", "", lm(3), ace.MaskedValue, "Prospect", map[string]any{"customerEmail": ace.MaskedValue, "industry": "Healthcare",
		"customerWebsite": "https://www.acme.com", "partnerAcceptanceStatus": "Accepted"})
	mustUpsert(t, s, src("o3"), remasked)
	r = record(t, s, obj, "O1")
	if f := fields(t, r.Fields); r.Name != "Acme Corp" || get(f, "customerEmail") != "cto@acme.example" {
		t.Errorf("masked file overwrote real data: %+v\nfields %v", r, f)
	}
	before := dump(t, s)
	if res := mustUpsert(t, s, src("o3"), remasked); res.Unchanged != 1 {
		t.Errorf("masked file re-applied: %+v, want unchanged", res)
	}
	if after := dump(t, s); after != before {
		t.Errorf("masked file re-applied changed the state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := pending(t, s, obj, 0, 10); len(got) != 1 || got[0].Watermark != w {
		t.Errorf("ACE updates moved the CRM change: %+v", got)
	}

	// Once ACE accepts the change, the edits are ACE's too, and ACE's next update applies
	// in full.
	mustRecord(t, s, crm.Outcome{Object: obj, PartnerID: "oppsync-opportunity-1", Watermark: w, Status: crm.SyncSent, At: c.Now()})
	mustRecord(t, s, crm.Outcome{Object: obj, PartnerID: "oppsync-opportunity-1", ACEID: "O1", Watermark: w, Status: crm.SyncAccepted, At: c.Now()})
	c.Advance(time.Hour)
	mustUpsert(t, s, src("o4"), opp("O1", "oppsync-opportunity-1", lm(4), "Acme Corp", "Committed", full))
	r = record(t, s, obj, "O1")
	if f := fields(t, r.Fields); r.Stage != "Committed" || get(f, "customerWebsite") != "https://www.acme.com" || r.SyncStatus != crm.SyncUpToDate {
		t.Errorf("ACE's update after acceptance: %+v\nfields %v", r, f)
	}
	if got := pending(t, s, obj, 0, 10); len(got) != 0 {
		t.Errorf("Changes = %+v, want none", got)
	}
}

// TestUpsertNeverMakesCRMChanges: ACE's data, inserted or updated, is never a CRM change
// and takes no watermark.
func TestUpsertNeverMakesCRMChanges(t *testing.T) {
	s, _ := openTest(t)
	mustUpsert(t, s, src("o1"), opp("O1", "P-1", lm(1), "Acme Corp", "Prospect", nil), opp("O2", "", lm(1), "Beta", "Prospect", nil))
	mustUpsert(t, s, src("o2"), opp("O1", "P-1", lm(2), "Acme Corp", "Qualified", nil))
	mustUpsert(t, s, crm.Source{Key: "lead-outbound/l1.json"}, lead("L1", lm(1), "Grace Hopper", "Grace", "Hopper"))
	for _, obj := range []ace.Object{ace.ObjectOpportunity, ace.ObjectLead} {
		if got := pending(t, s, obj, -1, 10); len(got) != 0 {
			t.Errorf("%s changes = %+v, want none", obj, got)
		}
		recs, err := s.List(context.Background(), obj)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Watermark != 0 || r.SyncStatus != "" {
				t.Errorf("ACE's record %s has watermark %d, status %q", r.ACEID, r.Watermark, r.SyncStatus)
			}
		}
	}
	var seq int
	if err := s.db.QueryRow(`SELECT value FROM crm_sequence`).Scan(&seq); err != nil || seq != 0 {
		t.Errorf("counter = %d (%v), want 0", seq, err)
	}
}

func TestCreateAndEditRejectBadInput(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const obj = ace.ObjectOpportunity
	mustCreate(t, s, obj, "P-1", `{"stage": "Prospect"}`)
	mustUpsert(t, s, src("o1"), opp("O9", "P-9", lm(1), "Acme Corp", "Prospect", nil))
	before := dump(t, s)

	creates := []struct{ partnerID, fields, want string }{
		{"P-1", `{}`, "already in use"},
		{"", `{}`, "empty partner id"},
		{"P-2", `[]`, "want an object"},
		{"P-2", `{"partnerCrmUniqueIdentifier": "P-3"}`, "partnerCrmUniqueIdentifier"},
		{"P-2", `{"apnCrmUniqueIdentifier": "O5"}`, "ACE assigns"},
	}
	for _, tt := range creates {
		_, err := s.Create(ctx, obj, tt.partnerID, json.RawMessage(tt.fields))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Create(%q, %s) = %v, want an error containing %q", tt.partnerID, tt.fields, err, tt.want)
		}
	}
	if _, err := s.Create(ctx, obj, "P-1", json.RawMessage(`{}`)); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate Create: %v, want ErrExists", err)
	}
	edits := []struct{ id, patch, want string }{
		{"P-404", `{}`, "no opportunity"},
		{"P-1", `{"partnerCrmUniqueIdentifier": "P-2"}`, "stays"},
		{"P-9", `{"partnerCrmUniqueIdentifier": null}`, "stays"},
		{"P-1", `{"apnCrmUniqueIdentifier": "O1"}`, "only ACE assigns"},
		{"O9", `{"apnCrmUniqueIdentifier": "O10"}`, "only ACE assigns"},
		{"P-1", `"stage"`, "want an object"},
	}
	for _, tt := range edits {
		_, err := s.Edit(ctx, obj, tt.id, json.RawMessage(tt.patch))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Edit(%q, %s) = %v, want an error containing %q", tt.id, tt.patch, err, tt.want)
		}
	}
	if _, err := s.Edit(ctx, obj, "P-404", json.RawMessage(`{}`)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Edit of an unknown id: %v, want ErrNotFound", err)
	}
	if after := dump(t, s); after != before {
		t.Errorf("rejected calls changed the state:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Restating the ids is fine; nested objects merge (RFC 7386).
	mustEdit(t, s, obj, "O9", `{"apnCrmUniqueIdentifier": "O9", "partnerCrmUniqueIdentifier": "P-9", "extra": {"a": 1, "b": 2}}`)
	mustEdit(t, s, obj, "P-9", `{"extra": {"b": null, "c": 3}}`)
	if f := fields(t, record(t, s, obj, "O9").Fields); get(f, "extra") != `{"a":1,"c":3}` {
		t.Errorf("extra = %s", get(f, "extra"))
	}
}

// TestInboundTwoStores: the CLI editing and the worker reading and recording, as two
// Stores on one file, concurrently: every change gets its own watermark and none is lost.
func TestInboundTwoStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crm.db")
	worker, _ := openAt(t, path)
	cli, _ := openAt(t, path)
	ctx := context.Background()

	const perStore = 20
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[crm.Watermark]bool{}
		errs = make(chan error, 2*perStore)
	)
	for si, s := range []*Store{worker, cli} {
		wg.Go(func() {
			for i := range perStore {
				id := fmt.Sprintf("P-%d-%d", si, i)
				w, err := s.Create(ctx, ace.ObjectOpportunity, id, json.RawMessage(`{"stage": "Prospect"}`))
				if err == nil {
					mu.Lock()
					if seen[w] {
						err = fmt.Errorf("watermark %d handed out twice", w)
					}
					seen[w] = true
					mu.Unlock()
				}
				if err == nil {
					_, err = s.Changes(ctx, ace.ObjectOpportunity, 0, 5)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := pending(t, worker, ace.ObjectOpportunity, 0, 1000)
	if len(got) != 2*perStore {
		t.Fatalf("%d changes, want %d", len(got), 2*perStore)
	}
	if !slices.IsSorted(watermarks(got)) {
		t.Errorf("changes out of order: %v", watermarks(got))
	}
	for _, ch := range got {
		mustRecord(t, worker, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: ch.PartnerID, Watermark: ch.Watermark, Status: crm.SyncSent})
	}
	if got := pending(t, cli, ace.ObjectOpportunity, 0, 1000); len(got) != 0 {
		t.Errorf("the other store still sees %d changes", len(got))
	}
}

// TestMigrateKeepsVersion1Data opens a database written by the version-1 schema.
func TestMigrateKeepsVersion1Data(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crm.db")
	if err := createPrivate(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`,
		migrations[0],
		`INSERT INTO schema_migrations VALUES (1, '')`,
		`INSERT INTO opportunities (ace_id, partner_id, stage, raw) VALUES ('O1', 'P-1', 'Prospect', '{"stage":"Prospect"}')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, _ := openAt(t, path)
	if v, err := s.SchemaVersion(context.Background()); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d (%v), want %d", v, err, len(migrations))
	}
	r := record(t, s, ace.ObjectOpportunity, "O1")
	if r.Stage != "Prospect" || r.SyncStatus != "" || r.Watermark != 0 || string(r.Fields) != `{"stage":"Prospect"}` {
		t.Errorf("migrated record = %+v", r)
	}
	w := mustEdit(t, s, ace.ObjectOpportunity, "P-1", `{"stage": "Qualified"}`)
	if got := pending(t, s, ace.ObjectOpportunity, 0, 10); len(got) != 1 || got[0].Watermark != w {
		t.Errorf("Changes = %+v", got)
	}
}

// Awaiting lists the records whose status is sent, with the file, the change sent and when;
// an answered record leaves the list. An outcome for an unknown record fails with
// crm.ErrRecordGone and one with a conflicting ACE id with crm.ErrIDConflict: neither is
// retryable.
func TestAwaitingAndPermanentOutcomeErrors(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	w1, err := s.Create(ctx, ace.ObjectOpportunity, "P1", json.RawMessage(`{"customerCompanyName":"Acme"}`))
	if err != nil {
		t.Fatal(err)
	}
	w2, err := s.Create(ctx, ace.ObjectOpportunity, "P2", json.RawMessage(`{"customerCompanyName":"Beta"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []crm.Outcome{
		{Object: ace.ObjectOpportunity, PartnerID: "P1", Watermark: w1, Status: crm.SyncSent, File: "opportunity-inbound/a.json"},
		{Object: ace.ObjectOpportunity, PartnerID: "P2", Watermark: w2, Status: crm.SyncSent, File: "opportunity-inbound/b.json"},
	} {
		if err := s.Record(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Awaiting(ctx, ace.ObjectOpportunity, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("Awaiting = %+v, %v; want 2", got, err)
	}
	if got[0].PartnerID != "P1" || got[0].File != "opportunity-inbound/a.json" || got[0].Watermark != w1 || got[0].SentAt.IsZero() {
		t.Errorf("Awaiting[0] = %+v", got[0])
	}
	if err := s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: "P1", ACEID: "O1", Watermark: w1,
		Status: crm.SyncAccepted, File: "opportunity-inbound/a.json"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Awaiting(ctx, ace.ObjectOpportunity, 0); err != nil || len(got) != 1 || got[0].PartnerID != "P2" {
		t.Fatalf("after one answer: Awaiting = %+v, %v", got, err)
	}
	err = s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: "P9", Status: crm.SyncAccepted})
	if !errors.Is(err, crm.ErrRecordGone) || crm.Retryable(err) {
		t.Errorf("unknown record: %v, want ErrRecordGone, not retryable", err)
	}
	err = s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: "P2", ACEID: "O1", Watermark: w2, Status: crm.SyncAccepted})
	if !errors.Is(err, crm.ErrIDConflict) || crm.Retryable(err) {
		t.Errorf("ACE id on another record: %v, want ErrIDConflict, not retryable", err)
	}
}
