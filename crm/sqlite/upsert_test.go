package sqlite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

func TestUpsertInsertThenList(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()

	res := mustUpsert(t, s, src("f1"),
		opp("O2", "", lm(2), "Beta GmbH", "Prospect", nil),
		opp("O1", "P-1", lm(1), "Acme Corp", "Qualified", nil),
	)
	if want := (crm.UpsertResult{Inserted: 2}); res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	mustUpsert(t, s, crm.Source{Key: "lead-outbound/l1.json", ETag: `"l1"`},
		lead("L2", lm(1), "", "Ada", "Lovelace"),
		lead("L1", lm(1), "Grace Hopper", "Grace", "Hopper"),
	)

	opps, err := s.List(ctx, ace.ObjectOpportunity)
	if err != nil {
		t.Fatal(err)
	}
	if len(opps) != 2 {
		t.Fatalf("List returned %d opportunities, want 2", len(opps))
	}
	got := opps[0]
	want := crm.Record{
		Object: ace.ObjectOpportunity, ACEID: "O1", PartnerID: "P-1", Name: "Acme Corp",
		Stage: "Qualified", Status: "Approved", LastModified: lm(1), UpdatedAt: t0,
		SourceKey: "opportunity-outbound/f1.json",
	}
	gotFields := got.Fields
	got.Fields = nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("List()[0] =\n %+v\nwant\n %+v", got, want)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, opp("O1", "P-1", lm(1), "Acme Corp", "Qualified", nil).Raw); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotFields, compact.Bytes()) {
		t.Errorf("Fields = %s, want the compacted raw JSON %s", gotFields, compact.Bytes())
	}
	if opps[1].ACEID != "O2" || opps[1].Name != "Beta GmbH" {
		t.Errorf("List()[1] = %s %q, want O2 Beta GmbH (ordered by ACE id)", opps[1].ACEID, opps[1].Name)
	}

	leads, err := s.List(ctx, ace.ObjectLead)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range leads {
		names = append(names, l.ACEID+":"+l.Name)
	}
	if fmt.Sprint(names) != "[L1:Grace Hopper L2:Ada Lovelace]" {
		t.Errorf("lead names = %v, want full name, else first and last", names)
	}

	changes := mustChanges(t, s, ace.ObjectOpportunity, "")
	if len(changes) != 2 || changes[0].ACEID != "O2" || changes[0].Action != ActionInsert ||
		changes[1].Source != src("f1") || !changes[1].LastModified.Equal(lm(1)) || !changes[1].AppliedAt.Equal(t0) {
		t.Errorf("change log = %+v", changes)
	}

	if _, err := s.List(ctx, "account"); err == nil {
		t.Error("List(account) succeeded, want an error for an unknown object")
	}
}

func TestUpsertSameFileTwiceChangesNothing(t *testing.T) {
	s, c := openTest(t)
	file := []ace.Record{
		opp("O1", "P-1", lm(1), "Acme Corp", "Qualified", nil),
		opp("O2", "", time.Time{}, "Beta GmbH", "Prospect", nil), // no lastModifiedDate
		lead("L1", lm(3), "Grace Hopper", "Grace", "Hopper"),
	}
	mustUpsert(t, s, src("f1"), file...)
	before := dump(t, s)

	c.Advance(time.Hour)
	res := mustUpsert(t, s, src("f1"), file...)
	if want := (crm.UpsertResult{Unchanged: 3}); res != want {
		t.Errorf("second apply = %+v, want %+v", res, want)
	}
	// The same records re-serialised (other key order, no indentation) are unchanged too,
	// whichever file brings them.
	var reordered []ace.Record
	for _, r := range file {
		var m map[string]any
		if err := json.Unmarshal(r.Raw, &m); err != nil {
			t.Fatal(err)
		}
		r.Raw, _ = json.Marshal(m) // sorted keys, compact
		reordered = append(reordered, r)
	}
	res = mustUpsert(t, s, src("f2"), reordered...)
	if want := (crm.UpsertResult{Unchanged: 3}); res != want {
		t.Errorf("re-serialised apply = %+v, want %+v", res, want)
	}
	if after := dump(t, s); after != before {
		t.Errorf("state changed by re-applying the file:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestUpsertOrdering(t *testing.T) {
	const (
		stored  = "Qualified"
		changed = "Technical Validation"
	)
	tests := []struct {
		name       string
		storedLM   time.Time
		incomingLM time.Time
		stage      string // incoming stage; stored is "Qualified"
		want       crm.UpsertResult
		wantStage  string
	}{
		{"older never overwrites newer", lm(5), lm(4), changed, crm.UpsertResult{Stale: 1}, stored},
		{"newer overwrites", lm(5), lm(6), changed, crm.UpsertResult{Updated: 1}, changed},
		{"same date same JSON", lm(5), lm(5), stored, crm.UpsertResult{Unchanged: 1}, stored},
		{"same date other JSON", lm(5), lm(5), changed, crm.UpsertResult{Updated: 1}, changed},
		{"no date never overwrites a dated record", lm(5), time.Time{}, changed, crm.UpsertResult{Stale: 1}, stored},
		{"no date over no date, same JSON", time.Time{}, time.Time{}, stored, crm.UpsertResult{Unchanged: 1}, stored},
		{"no date over no date, other JSON", time.Time{}, time.Time{}, changed, crm.UpsertResult{Updated: 1}, changed},
		{"dated over undated", time.Time{}, lm(1), changed, crm.UpsertResult{Updated: 1}, changed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := openTest(t)
			mustUpsert(t, s, src("first"), opp("O1", "P-1", tt.storedLM, "Acme Corp", stored, nil))
			before := dump(t, s)

			c.Advance(time.Hour)
			res := mustUpsert(t, s, src("second"), opp("O1", "P-1", tt.incomingLM, "Acme Corp", tt.stage, nil))
			if res != tt.want {
				t.Errorf("result = %+v, want %+v", res, tt.want)
			}
			recs, err := s.List(context.Background(), ace.ObjectOpportunity)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].Stage != tt.wantStage {
				t.Fatalf("records = %+v, want one with stage %q", recs, tt.wantStage)
			}
			changes := mustChanges(t, s, ace.ObjectOpportunity, "O1")
			if tt.want.Updated == 1 {
				if !recs[0].UpdatedAt.Equal(t0.Add(time.Hour)) || recs[0].SourceKey != src("second").Key {
					t.Errorf("updated record has updated_at %v, source %s", recs[0].UpdatedAt, recs[0].SourceKey)
				}
				last := changes[len(changes)-1]
				if len(changes) != 2 || last.Action != ActionUpdate || last.Source != src("second") ||
					!last.LastModified.Equal(tt.incomingLM) || !last.AppliedAt.Equal(t0.Add(time.Hour)) {
					t.Errorf("change log = %+v, want insert then this update", changes)
				}
			} else if after := dump(t, s); after != before {
				t.Errorf("a %+v record changed the state:\nbefore:\n%s\nafter:\n%s", res, before, after)
			}
		})
	}
}

func TestUpsertFillsACEIDOfPartnerCreatedRecord(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	// The partner created P-1 in its CRM and sent it to ACE, which has not answered yet.
	// P-2 already has its ACE id, so it must not be taken by a different ACE record.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO opportunities (id, partner_id, customer_company_name, stage)
		VALUES (7, 'P-1', 'Acme Corp', 'Prospect')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO opportunities (id, ace_id, partner_id, customer_company_name)
		VALUES (8, 'O-OTHER', 'P-2', 'Other')`); err != nil {
		t.Fatal(err)
	}

	res := mustUpsert(t, s, src("f1"),
		opp("O1", "P-1", lm(1), "Acme Corp", "Qualified", nil),
		opp("O2", "P-2", lm(1), "Beta GmbH", "Qualified", nil),
	)
	if want := (crm.UpsertResult{Updated: 1, Inserted: 1}); res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	var id int
	var stage string
	if err := s.db.QueryRowContext(ctx, `SELECT id, stage FROM opportunities WHERE ace_id = 'O1'`).Scan(&id, &stage); err != nil {
		t.Fatal(err)
	}
	if id != 7 || stage != "Qualified" {
		t.Errorf("O1 is row %d with stage %q, want the partner's row 7 updated to Qualified", id, stage)
	}
	if c := mustChanges(t, s, ace.ObjectOpportunity, "O1"); len(c) != 1 || c[0].Action != ActionUpdate {
		t.Errorf("change log of O1 = %+v, want one update", c)
	}

	// A later outbound update with a blank partner id keeps the partner's id.
	mustUpsert(t, s, src("f2"), opp("O1", "", lm(2), "Acme Corp", "Committed", nil))
	recs, err := s.List(ctx, ace.ObjectOpportunity)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].ACEID != "O-OTHER" || recs[1].ACEID != "O1" || recs[1].PartnerID != "P-1" || recs[1].Stage != "Committed" {
		t.Errorf("records = %+v", recs)
	}
}

func TestUpsertKeepsUnknownFields(t *testing.T) {
	s, _ := openTest(t)
	extra := map[string]any{
		"someFieldACEAddsNextYear":   map[string]any{"nested": []any{1, "two", nil}},
		"IsOppFromMarketingActivity": "No",
		"awsProducts":                []any{"Amazon EC2", "Amazon S3"},
		"wWPSPDMEmail":               nil,
		"bigNumber":                  json.Number("12345678901234567890.125"),
	}
	mustUpsert(t, s, src("f1"), opp("O1", "", lm(1), "Acme Corp", "Qualified", extra))
	recs, err := s.List(context.Background(), ace.ObjectOpportunity)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(recs[0].Fields))
	d.UseNumber()
	var fields map[string]any
	if err := d.Decode(&fields); err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		got, ok := fields[k]
		if !ok {
			t.Errorf("field %s lost", k)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("field %s = %v, want %v", k, got, v)
		}
	}
	if !bytes.Contains(recs[0].Fields, []byte(`12345678901234567890.125`)) {
		t.Errorf("number not kept verbatim: %s", recs[0].Fields)
	}
}

func TestUpsertRejectsBadRecordsWithoutWriting(t *testing.T) {
	good := opp("O1", "", lm(1), "Acme Corp", "Qualified", nil)
	noID := opp("", "P-1", lm(1), "Acme Corp", "Qualified", nil)
	badJSON := good
	badJSON.Raw = []byte(`{"apnCrmUniqueIdentifier": "O1",`)
	array := good
	array.Raw = []byte(`[]`)
	mismatch := good
	mismatch.Object = ace.ObjectLead
	unknown := good
	unknown.Object = "account"

	tests := []struct {
		name string
		bad  ace.Record
	}{
		{"no ACE id", noID},
		{"invalid JSON", badJSON},
		{"JSON array", array},
		{"object and typed fields disagree", mismatch},
		{"unknown object", unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTest(t)
			before := dump(t, s)
			_, err := s.Upsert(context.Background(), src("f1"), []ace.Record{good, tt.bad})
			if err == nil {
				t.Fatal("Upsert succeeded, want an error")
			}
			if after := dump(t, s); after != before {
				t.Errorf("a rejected file wrote:\n%s", after)
			}
		})
	}
}

// TestUpsertFailureMidCall aborts the transaction after each record in turn, by an error
// (a crash) and by cancelling the context, and checks that nothing was written and that a
// retry yields exactly the state of an uninterrupted run.
func TestUpsertFailureMidCall(t *testing.T) {
	seed := []ace.Record{
		opp("O1", "P-1", lm(1), "Acme Corp", "Qualified", nil),
		opp("O3", "", lm(1), "Gamma", "Prospect", nil),
	}
	file := []ace.Record{
		opp("O1", "P-1", lm(2), "Acme Corp", "Committed", nil), // update
		opp("O2", "", lm(2), "Beta GmbH", "Prospect", nil),     // insert
		opp("O3", "", lm(0), "Gamma", "Closed Lost", nil),      // stale
		lead("L1", lm(2), "Grace Hopper", "Grace", "Hopper"),   // insert
	}
	errCrash := errors.New("simulated crash")

	setup := func(t *testing.T) *Store {
		s, c := openTest(t)
		mustUpsert(t, s, src("seed"), seed...)
		c.Advance(time.Hour)
		return s
	}
	ref := setup(t)
	mustUpsert(t, ref, src("f1"), file...)
	want := dump(t, ref, "schema_migrations")

	for _, mode := range []string{"error", "cancel"} {
		for at := range file {
			t.Run(fmt.Sprintf("%s after record %d", mode, at), func(t *testing.T) {
				s := setup(t)
				before := dump(t, s)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				s.afterRecord = func(_ context.Context, i int) error {
					if i != at {
						return nil
					}
					if mode == "cancel" {
						cancel()
						return nil // carry on: the next statement or the commit must fail
					}
					return errCrash
				}
				_, err := s.Upsert(ctx, src("f1"), file)
				wantErr := errCrash
				if mode == "cancel" {
					wantErr = context.Canceled
				}
				if !errors.Is(err, wantErr) {
					t.Fatalf("Upsert error = %v, want %v", err, wantErr)
				}
				if got := dump(t, s); got != before {
					t.Fatalf("partial state after the failure:\nbefore:\n%s\nafter:\n%s", before, got)
				}

				s.afterRecord = nil
				mustUpsert(t, s, src("f1"), file...)
				if got := dump(t, s, "schema_migrations"); got != want {
					t.Errorf("retry state differs from an uninterrupted run:\ngot:\n%s\nwant:\n%s", got, want)
				}
			})
		}
	}
}

func BenchmarkUpsert10(b *testing.B) {
	s, _ := openTest(b)
	ctx := context.Background()
	files := make([][]ace.Record, b.N)
	for n := range files {
		for i := range 10 {
			files[n] = append(files[n], opp(fmt.Sprintf("O%d-%d", n, i), "", lm(n), "Acme Corp", "Qualified", nil))
		}
	}
	b.ResetTimer()
	for n := range b.N {
		if _, err := s.Upsert(ctx, src(fmt.Sprint(n)), files[n]); err != nil {
			b.Fatal(err)
		}
	}
}
