package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/hubspot/hscontract"
	"github.com/oppsync/oppsync/devstack/fakesm"
	"github.com/oppsync/oppsync/devstack/fakesm/fakesmtest"
)

// The default HubSpot pipeline's deal stages: dealstage is an enumeration.
var dealStages = []string{"appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
	"decisionmakerboughtin", "contractsent", "closedwon", "closedlost"}

const testToken = "pat-na1-test"

// testSecretARN is a well-formed Secrets Manager ARN for URL parsing tests.
const testSecretARN = "arn:aws:secretsmanager:us-west-2:111122223333:secret:oppsync/acme-AbCdEf"

// useFakeSM starts a fake Secrets Manager and points the default AWS configuration at it.
func useFakeSM(t *testing.T) *fakesm.Server { return fakesmtest.Use(t, "us-west-2", "111122223333") }

// newFake starts the contract server with the properties the default mapping needs.
func newFake(t testing.TB) *hscontract.Server {
	t.Helper()
	srv := hscontract.New()
	t.Cleanup(srv.Close)
	srv.Unique("deals", "ace_opportunity_id")
	srv.Unique("contacts", "ace_lead_id")
	srv.Unique("leads", "ace_lead_id")
	srv.Enumeration("deals", "dealstage", dealStages...)
	srv.AddToken(testToken, false)
	return srv
}

// sleeps is the client's clock in tests: it records every wait (backoff, rate limit)
// and advances instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	t  time.Time
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	s.t = s.t.Add(d)
	return ctx.Err()
}

func (s *sleeps) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// openFake opens a Store on srv through crm.Open with a private-app token in an
// environment variable; extra adds URL parameters.
func openFake(t testing.TB, srv *hscontract.Server, extra string) (*Store, *sleeps) {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		tt.Setenv("HS_TEST_TOKEN", testToken)
	} else {
		t.(*testing.B).Setenv("HS_TEST_TOKEN", testToken)
	}
	u, _ := url.Parse(srv.URL)
	raw := fmt.Sprintf("hubspot://%s?insecure_http=1&token_env=HS_TEST_TOKEN&search_lag=0s%s", u.Host, extra)
	return openRaw(t, raw)
}

func openRaw(t testing.TB, raw string) (*Store, *sleeps) {
	t.Helper()
	cs, err := crm.Open(context.Background(), raw)
	if err != nil {
		t.Fatalf("crm.Open: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	s := cs.(*Store)
	// The fake stamps writes strictly increasing, a millisecond apart, so a burst of writes
	// runs ahead of the wall clock; search as if polled an hour later.
	s.now = func() time.Time { return time.Now().Add(time.Hour) }
	sl := &sleeps{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	s.c.sleep = sl.sleep
	s.c.lim.sleep, s.c.lim.now = sl.sleep, sl.now
	return s, sl
}

// lm returns a lastModifiedDate h hours after 2026-11-01.
func lm(h int) time.Time {
	return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
}

// opp builds an outbound opportunity record shaped like ACE's.
func opp(aceID, partnerID string, modified time.Time, company, stage string) ace.Record {
	raw := map[string]any{
		"apnCrmUniqueIdentifier":       aceID,
		"partnerCrmUniqueIdentifier":   partnerID,
		"customerCompanyName":          company,
		"partnerProjectTitle":          company + " migration",
		"stage":                        stage,
		"aWSStage":                     "Qualified",
		"status":                       "Approved",
		"opportunityOwnership":         "AWS Referral",
		"industry":                     "Software and Internet",
		"country":                      "Germany",
		"targetCloseDate":              "2027-01-31",
		"expectedMonthlyAwsRevenue":    1200.5,
		"solutionOffered":              []string{"Other"},
		"deliveryModel":                "SaaS or PaaS",
		"partnerDeveloperManagerPhone": "not mapped: kept in ace_raw",
	}
	if !modified.IsZero() {
		raw["lastModifiedDate"] = modified.Format("2006-01-02T15:04:05.000Z")
	}
	b, _ := json.MarshalIndent(raw, "", "  ")
	return ace.Record{Object: ace.ObjectOpportunity, ACEID: aceID, PartnerID: partnerID, LastModified: modified,
		Opportunity: &ace.Opportunity{CustomerCompanyName: company, Stage: stage}, Raw: b}
}

// lead builds an outbound lead record.
func lead(aceID string, modified time.Time, first, last string) ace.Record {
	raw := map[string]any{
		"apnCrmUniqueIdentifier": aceID,
		"partnerCrmLeadId":       "",
		"firstName":              first,
		"lastName":               last,
		"fullName":               first + " " + last,
		"email":                  first + "@example.com",
		"company":                "Example GmbH",
		"status":                 "Open",
		"lastModifiedDate":       modified.Format("2006-01-02T15:04:05.000Z"),
	}
	b, _ := json.Marshal(raw)
	return ace.Record{Object: ace.ObjectLead, ACEID: aceID, LastModified: modified, Lead: &ace.Lead{FirstName: first}, Raw: b}
}

var src = crm.Source{Key: "opportunity-outbound/2026-11-27T10:00:00.json", ETag: `"e1"`}

func upsert(t testing.TB, s *Store, recs ...ace.Record) crm.UpsertResult {
	t.Helper()
	res, err := s.Upsert(context.Background(), src, recs)
	if err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	return res
}
