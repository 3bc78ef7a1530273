package sqlite

import (
	"context"
	"encoding/json"
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

// t0 is the fixed start of the test clock.
var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openTest opens a store on a new file in t.TempDir with a clock starting at t0.
func openTest(t testing.TB) (*Store, *clock) {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "crm.db"))
}

func openAt(t testing.TB, path string) (*Store, *clock) {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	c := &clock{now: t0}
	s.Now = c.Now
	return s, c
}

// lm returns a lastModifiedDate h hours after 2026-11-01, as ACE spells and we parse it.
func lm(h int) time.Time {
	return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
}

// opp builds an outbound opportunity record by hand, its raw JSON shaped like ACE's
// (including the key spellings ACE uses). extra adds raw-only fields.
func opp(aceID, partnerID string, modified time.Time, company, stage string, extra map[string]any) ace.Record {
	revenue := 1200.5
	raw := map[string]any{
		"apnCrmUniqueIdentifier":     aceID,
		"partnerCrmUniqueIdentifier": partnerID,
		"customerCompanyName":        company,
		"stage":                      stage,
		"aWSStage":                   "Qualified",
		"status":                     "Approved",
		"opportunityOwnership":       "AWS Referral",
		"partnerAcceptanceStatus":    "Accepted",
		"industry":                   "Software and Internet",
		"country":                    "Germany",
		"targetCloseDate":            "2027-01-31",
		"expectedMonthlyAwsRevenue":  revenue,
	}
	if !modified.IsZero() {
		raw["lastModifiedDate"] = modified.Format("2006-01-02T15:04:05.000Z")
	}
	for k, v := range extra {
		raw[k] = v
	}
	return ace.Record{
		Object:       ace.ObjectOpportunity,
		ACEID:        aceID,
		PartnerID:    partnerID,
		LastModified: modified,
		Opportunity: &ace.Opportunity{
			CustomerCompanyName:       company,
			Stage:                     stage,
			AWSStage:                  "Qualified",
			Status:                    "Approved",
			OpportunityOwnership:      "AWS Referral",
			PartnerAcceptanceStatus:   "Accepted",
			Industry:                  "Software and Internet",
			Country:                   "Germany",
			TargetCloseDate:           "2027-01-31",
			ExpectedMonthlyAWSRevenue: &revenue,
		},
		Raw: mustJSON(raw),
	}
}

// lead builds an outbound lead record by hand.
func lead(aceID string, modified time.Time, full, first, last string) ace.Record {
	raw := map[string]any{
		"apnCrmUniqueIdentifier": aceID,
		"partnerCrmLeadId":       "",
		"fullName":               full,
		"firstName":              first,
		"lastName":               last,
		"email":                  "someone@example.com",
		"status":                 "Open",
		"useCaseWorkload":        "Migration",
	}
	if !modified.IsZero() {
		raw["lastModifiedDate"] = modified.Format("2006-01-02T15:04:05.000Z")
	}
	return ace.Record{
		Object:       ace.ObjectLead,
		ACEID:        aceID,
		LastModified: modified,
		Lead:         &ace.Lead{FullName: full, FirstName: first, LastName: last, Email: "someone@example.com", Status: "Open"},
		Raw:          mustJSON(raw),
	}
}

// mustJSON marshals v indented, so stored (compacted) JSON differs from it byte-wise.
func mustJSON(v any) json.RawMessage {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

func src(key string) crm.Source {
	return crm.Source{Key: "opportunity-outbound/" + key + ".json", ETag: `"etag-` + key + `"`}
}

func mustUpsert(t testing.TB, s *Store, source crm.Source, records ...ace.Record) crm.UpsertResult {
	t.Helper()
	res, err := s.Upsert(context.Background(), source, records)
	if err != nil {
		t.Fatalf("Upsert(%s): %v", source.Key, err)
	}
	if res.Total() != len(records) {
		t.Fatalf("Upsert(%s) accounted for %d of %d records: %+v", source.Key, res.Total(), len(records), res)
	}
	return res
}

// dump renders every row of every table (except those in skip), in rowid order, so two
// states can be compared exactly.
func dump(t testing.TB, s *Store, skip ...string) string {
	t.Helper()
	ctx := context.Background()
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(skip, n) {
			names = append(names, n)
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "== %s\n", n)
		rows, err := s.db.QueryContext(ctx, `SELECT * FROM `+n+` ORDER BY rowid`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%s=%#v ", cols[i], v)
			}
			b.WriteString("\n")
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func mustChanges(t testing.TB, s *Store, object ace.Object, aceID string) []Change {
	t.Helper()
	c, err := s.ChangeLog(context.Background(), object, aceID)
	if err != nil {
		t.Fatalf("ChangeLog: %v", err)
	}
	return c
}
