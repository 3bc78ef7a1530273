package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/hubspot/hscontract"
)

var ctx = context.Background()

func TestParseURL(t *testing.T) {
	t.Setenv("HS_CID", "client-1")
	good := []string{
		"hubspot://api.hubapi.com?token_env=HUBSPOT_TOKEN",
		"hubspot://?token_file=/run/secrets/hubspot&leads=leads",
		"hubspot://api.hubapi.com?client_id=abc&client_secret_file=/s&refresh_token_env=RT&rate_limit=150&rate_interval=10s",
		"hubspot://api.hubapi.com?client_id_env=HS_CID&client_secret_env=S&refresh_token_file=/rt",
		"hubspot://127.0.0.1:8080?insecure_http=1&token_env=T",
		"hubspot://localhost:8080?insecure_http=true&token_env=T&search_lag=0s&max_retries=0",
		"hubspot://api.hubapi.com?token_secret=" + testSecretARN,
		"hubspot://api.hubapi.com?client_id_secret=" + testSecretARN + "%23client_id&client_secret_secret=" + testSecretARN +
			"%23client_secret&refresh_token_file=/rt",
	}
	for _, raw := range good {
		u, _ := url.Parse(raw)
		if _, err := ParseURL(u); err != nil {
			t.Errorf("ParseURL(%s): %v", raw, err)
		}
	}
	bad := map[string]string{
		"hubspot://api.hubapi.com":                                                 "no credentials",
		"hubspot://api.hubapi.com?token_env=A&token_file=/b":                       "not token_env and token_file",
		"hubspot://api.hubapi.com?token_env=A&client_id=x":                         "not both",
		"hubspot://user:secret@api.hubapi.com?token_env=A":                         "credentials in the URL",
		"hubspot://api.hubapi.com?token_env=A&insecure_http=1":                     "loopback",
		"hubspot://api.hubapi.com?token=pat-123":                                   "reference it with token_env=VAR, token_file=PATH or token_secret=ARN",
		"hubspot://api.hubapi.com?client_id=x&client_secret=s&refresh_token_env=R": "client_secret= puts the credential itself in the URL",
		"hubspot://api.hubapi.com?token_secret=hubspot-token":                      "not a Secrets Manager secret ARN",
		"hubspot://api.hubapi.com?token_secret=" + testSecretARN + "#token":        "%23KEY",
		"hubspot://api.hubapi.com?token_env=A&leads=companies":                     "want contacts or leads",
		"hubspot://api.hubapi.com?client_id=x&refresh_token_env=R":                 "client_secret",
		"hubspot://api.hubapi.com?token_env=A&rate_limit=lots":                     "rate_limit",
		"hubspot://api.hubapi.com?token_env=A&mapping=/does/not/exist":             "does/not/exist",
		"hubspot://api.hubapi.com/v3?token_env=A":                                  "path",
	}
	for raw, want := range bad {
		u, _ := url.Parse(raw)
		_, err := ParseURL(u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%s) = %v, want an error containing %q", raw, err, want)
		}
		if crm.Retryable(err) {
			t.Errorf("ParseURL(%s): a URL problem must not be retryable", raw)
		}
	}
	// Nothing is resolved while parsing: an unset variable is the activity's problem.
	u, _ := url.Parse("hubspot://api.hubapi.com?token_env=OPPSYNC_UNSET_VARIABLE")
	if cfg, err := ParseURL(u); err != nil || cfg.Token == nil || cfg.Token.String() != "token_env=OPPSYNC_UNSET_VARIABLE" {
		t.Errorf("ParseURL with an unset variable: %+v, %v", cfg.Token, err)
	}
	// The whole URL through crm.Open: the error quotes it redacted.
	_, err := crm.Open(ctx, "hubspot://api.hubapi.com?token=pat-secret-value")
	if err == nil || strings.Contains(err.Error(), "pat-secret-value") {
		t.Errorf("crm.Open with a token value: %v (must fail without quoting the token)", err)
	}
}

func TestUpsertInsertsThenIsIdempotent(t *testing.T) {
	srv := newFake(t)
	s, _ := openFake(t, srv, "")
	recs := []ace.Record{opp("O1", "", lm(1), "Acme", "Qualified"), opp("O2", "", lm(1), "Beta", "Prospect"), lead("L1", lm(1), "ann", "lee")}

	if got := upsert(t, s, recs...); got != (crm.UpsertResult{Inserted: 3}) {
		t.Fatalf("first upsert = %+v, want 3 inserted", got)
	}
	d := srv.Find("deals", "ace_opportunity_id", "O1")
	if d == nil {
		t.Fatal("deal O1 not in HubSpot")
	}
	for k, want := range map[string]string{
		"dealname": "Acme migration", "dealstage": "qualifiedtobuy", "closedate": "2027-01-31",
		"ace_customer_company_name": "Acme", "ace_expected_monthly_aws_revenue": "1200.5",
		"ace_solution_offered": "Other", "ace_last_modified": "2026-11-01T01:00:00.000Z",
	} {
		if d.Properties[k] != want {
			t.Errorf("deal O1 %s = %q, want %q", k, d.Properties[k], want)
		}
	}
	if !strings.Contains(d.Properties["ace_raw"], "partnerDeveloperManagerPhone") {
		t.Errorf("ace_raw does not keep the unmapped field: %s", d.Properties["ace_raw"])
	}
	if c := srv.Find("contacts", "ace_lead_id", "L1"); c == nil || c.Properties["firstname"] != "ann" || c.Properties["hs_lead_status"] != "OPEN" {
		t.Errorf("contact L1 = %+v", c)
	}

	// The same file again writes nothing: one batch/read per object, no upsert.
	srv.ResetCalls()
	before := srv.Get("deals", d.ID).Properties["hs_lastmodifieddate"]
	if got := upsert(t, s, recs...); got != (crm.UpsertResult{Unchanged: 3}) {
		t.Fatalf("second upsert = %+v, want 3 unchanged", got)
	}
	if n := srv.Calls("POST /crm/v3/objects/deals/batch/upsert"); n != 0 {
		t.Errorf("re-upsert made %d batch/upsert calls, want 0", n)
	}
	if after := srv.Get("deals", d.ID).Properties["hs_lastmodifieddate"]; after != before {
		t.Errorf("re-upsert moved hs_lastmodifieddate %s → %s", before, after)
	}
	if srv.Count("deals") != 2 || srv.Count("contacts") != 1 {
		t.Errorf("counts: %d deals, %d contacts; want 2, 1", srv.Count("deals"), srv.Count("contacts"))
	}

	// A newer version updates.
	if got := upsert(t, s, opp("O1", "", lm(2), "Acme", "Committed")); got != (crm.UpsertResult{Updated: 1}) {
		t.Fatalf("newer upsert = %+v, want 1 updated", got)
	}
	if st := srv.Find("deals", "ace_opportunity_id", "O1").Properties["dealstage"]; st != "contractsent" {
		t.Errorf("dealstage after update = %q", st)
	}
}

func TestStaleNeverOverwritesNewer(t *testing.T) {
	srv := newFake(t)
	s, _ := openFake(t, srv, "")
	upsert(t, s, opp("O1", "", lm(5), "Acme", "Committed"))
	got := upsert(t, s, opp("O1", "", lm(3), "Acme Old", "Prospect"), opp("O1", "", time.Time{}, "No date", "Prospect"))
	if got != (crm.UpsertResult{Stale: 2}) {
		t.Fatalf("older upserts = %+v, want 2 stale", got)
	}
	d := srv.Find("deals", "ace_opportunity_id", "O1")
	if d.Properties["ace_customer_company_name"] != "Acme" || d.Properties["dealstage"] != "contractsent" {
		t.Errorf("stale data overwrote the newer: %v", d.Properties)
	}
	// Within one file, the newest copy wins whatever the order.
	got = upsert(t, s, opp("O2", "", lm(9), "New", "Committed"), opp("O2", "", lm(8), "Old", "Prospect"))
	if got.Total() != 2 || got.Inserted != 1 || got.Stale != 1 {
		t.Errorf("duplicate in one file = %+v", got)
	}
	if c := srv.Find("deals", "ace_opportunity_id", "O2").Properties["ace_customer_company_name"]; c != "New" {
		t.Errorf("O2 company = %q, want New", c)
	}
}

func TestPartialBatchFailure(t *testing.T) {
	for _, whole := range []bool{false, true} {
		t.Run(fmt.Sprintf("whole-batch-400=%v", whole), func(t *testing.T) {
			srv := newFake(t)
			srv.WholeBatch400 = whole
			s, _ := openFake(t, srv, "")
			var recs []ace.Record
			for i := range 10 {
				stage := "Qualified"
				if i == 3 || i == 7 {
					stage = "Negotiating" // not a standard value: passes through, HubSpot refuses it
				}
				recs = append(recs, opp(fmt.Sprintf("O%d", i), "", lm(1), "Co", stage))
			}
			res, err := s.Upsert(ctx, src, recs)
			var be *BatchError
			if !errors.As(err, &be) {
				t.Fatalf("Upsert error = %v, want a *BatchError", err)
			}
			if res.Inserted != 8 {
				t.Errorf("landed = %+v, want 8 inserted", res)
			}
			if len(be.Records) != 2 || be.Records[0].ACEID != "O3" || be.Records[1].ACEID != "O7" {
				t.Fatalf("refused records = %+v, want O3 and O7", be.Records)
			}
			for _, r := range be.Records {
				if r.Code != CategoryValidation || !strings.Contains(r.Message, "Negotiating was not one of the allowed options") || r.Retryable {
					t.Errorf("refusal = %+v, want HubSpot's non-retryable VALIDATION_ERROR message", r)
				}
			}
			if crm.Retryable(err) {
				t.Error("a validation refusal must not be retryable")
			}
			if !strings.Contains(err.Error(), "O3") || !strings.Contains(err.Error(), src.Key) {
				t.Errorf("error does not name the record and file: %v", err)
			}
			if srv.Count("deals") != 8 {
				t.Errorf("HubSpot holds %d deals, want 8", srv.Count("deals"))
			}
		})
	}
}

func TestMissingScopesIsNotRetryable(t *testing.T) {
	srv := newFake(t)
	srv.AddToken("read-only", true)
	t.Setenv("HS_RO", "read-only")
	u, _ := url.Parse(srv.URL)
	s, _ := openRaw(t, "hubspot://"+u.Host+"?insecure_http=1&token_env=HS_RO")
	_, err := s.Upsert(ctx, src, []ace.Record{opp("O1", "", lm(1), "Acme", "Qualified")})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Category != CategoryMissingScopes || crm.Retryable(err) {
		t.Fatalf("Upsert with a read-only token = %v, want a non-retryable MISSING_SCOPES", err)
	}
	if !strings.Contains(err.Error(), "scopes") {
		t.Errorf("error does not tell the operator to grant scopes: %v", err)
	}
}

func TestOAuthRefreshOnExpiry(t *testing.T) {
	srv := newFake(t)
	srv.AddOAuthClient("cid", "csecret", "refresh-1")
	dir := t.TempDir()
	rt := filepath.Join(dir, "refresh")
	if err := os.WriteFile(rt, []byte("refresh-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HS_SECRET", "csecret")
	u, _ := url.Parse(srv.URL)
	s, _ := openRaw(t, "hubspot://"+u.Host+"?insecure_http=1&search_lag=0s&client_id=cid&client_secret_env=HS_SECRET&refresh_token_file="+rt)

	upsert(t, s, opp("O1", "", lm(1), "Acme", "Qualified"))
	if n := srv.TokensIssued(); n != 1 {
		t.Fatalf("tokens issued = %d, want 1", n)
	}
	srv.ExpireTokens() // HubSpot expires the access token before our clock says so
	upsert(t, s, opp("O1", "", lm(2), "Acme", "Committed"))
	if n := srv.TokensIssued(); n != 2 {
		t.Errorf("tokens issued after expiry = %d, want 2 (refreshed once on the 401)", n)
	}
	if srv.Find("deals", "ace_opportunity_id", "O1").Properties["dealstage"] != "contractsent" {
		t.Error("the call after the refresh did not land")
	}

	// A revoked refresh token: a clear, non-retryable error.
	srv.AddOAuthClient("cid", "csecret", "refresh-2")
	srv.ExpireTokens()
	_, err := s.Upsert(ctx, src, []ace.Record{opp("O1", "", lm(3), "Acme", "Launched")})
	if err == nil || crm.Retryable(err) || !strings.Contains(err.Error(), "re-authorise") {
		t.Errorf("revoked refresh token: %v, want a non-retryable error telling to re-authorise", err)
	}
}

func TestPrivateTokenRotation(t *testing.T) {
	srv := newFake(t)
	dir := t.TempDir()
	tf := filepath.Join(dir, "token")
	if err := os.WriteFile(tf, []byte(testToken), 0o600); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	s, _ := openRaw(t, "hubspot://"+u.Host+"?insecure_http=1&token_file="+tf)
	upsert(t, s, opp("O1", "", lm(1), "Acme", "Qualified"))

	// The admin rotates the token and the file: picked up after one 401.
	srv.RevokeToken(testToken)
	srv.AddToken("pat-rotated", false)
	if err := os.WriteFile(tf, []byte("pat-rotated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	upsert(t, s, opp("O1", "", lm(2), "Acme", "Committed"))

	// Revoked without a new one: 401, not retryable, and says what to do.
	srv.RevokeToken("pat-rotated")
	err := s.Ping(ctx)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || crm.Retryable(err) || !strings.Contains(err.Error(), "rotate") {
		t.Errorf("Ping with a revoked token = %v", err)
	}
}

// TestCredentialsFromSecretsManager resolves the credentials through the fake Secrets
// Manager with the real SDK client, as a production worker does with its role.
func TestCredentialsFromSecretsManager(t *testing.T) {
	sm := useFakeSM(t)
	srv := newFake(t)
	u, _ := url.Parse(srv.URL)

	// A private-app token in a plain secret; rotated in Secrets Manager, picked up on the
	// 401 although the cached value is still fresh.
	arn := sm.Put("oppsync/acme/hubspot-token", testToken)
	s, _ := openRaw(t, "hubspot://"+u.Host+"?insecure_http=1&token_secret="+url.QueryEscape(arn))
	upsert(t, s, opp("O1", "", lm(1), "Acme", "Qualified"))
	srv.RevokeToken(testToken)
	srv.AddToken("pat-rotated-in-sm", false)
	sm.Put("oppsync/acme/hubspot-token", "pat-rotated-in-sm")
	upsert(t, s, opp("O1", "", lm(2), "Acme", "Committed"))
	if n := sm.Requests(); n != 2 {
		t.Errorf("Secrets Manager requests = %d, want 2 (first use, then the 401)", n)
	}

	// OAuth: the client secret and refresh token as keys of one JSON secret.
	srv.AddOAuthClient("cid", "csecret-sm", "refresh-sm")
	oauth := sm.Put("oppsync/acme/hubspot-oauth", `{"client_secret":"csecret-sm","refresh_token":"refresh-sm"}`)
	raw := "hubspot://" + u.Host + "?insecure_http=1&search_lag=0s&client_id=cid" +
		"&client_secret_secret=" + url.QueryEscape(oauth+"#client_secret") +
		"&refresh_token_secret=" + url.QueryEscape(oauth+"#refresh_token")
	so, _ := openRaw(t, raw)
	upsert(t, so, opp("O2", "", lm(1), "Beta", "Qualified"))
	if n := srv.TokensIssued(); n != 1 {
		t.Errorf("tokens issued = %d, want 1", n)
	}
	if strings.Contains(raw, "csecret-sm") || strings.Contains(raw, "refresh-sm") {
		t.Fatal("the URL holds a secret value")
	}

	// A missing key: a non-retryable error naming the reference, not the value.
	bad := "hubspot://" + u.Host + "?insecure_http=1&token_secret=" + url.QueryEscape(oauth+"#token")
	sb, _ := openRaw(t, bad)
	err := sb.Ping(ctx)
	if err == nil || crm.Retryable(err) || !strings.Contains(err.Error(), `token_secret=`+oauth+`#token: the secret's JSON has no key "token"`) ||
		strings.Contains(err.Error(), "csecret-sm") {
		t.Errorf("missing JSON key: %v (retryable %v)", err, crm.Retryable(err))
	}
}

func TestRateLimitHints(t *testing.T) {
	srv := newFake(t)
	s, sl := openFake(t, srv, "")
	srv.Inject(hscontract.Fault{Path: "/batch/upsert", Status: 429, Header: http.Header{"Retry-After": {"2"}},
		Body: `{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","category":"RATE_LIMITS"}`})
	srv.Inject(hscontract.Fault{Path: "/batch/read", Status: 429, Header: http.Header{
		"X-Hubspot-Ratelimit-Interval-Milliseconds": {"10000"}, "X-Hubspot-Ratelimit-Remaining": {"0"}, "X-Hubspot-Ratelimit-Max": {"100"}},
		Body: `{"status":"error","message":"You have reached your ten_secondly_rolling limit.","category":"RATE_LIMITS"}`})
	upsert(t, s, opp("O1", "", lm(1), "Acme", "Qualified"))
	got := sl.all()
	if len(got) != 2 || got[0] != 10*time.Second || got[1] != 2*time.Second {
		t.Errorf("waits = %v, want [10s (rolling window) 2s (Retry-After)]", got)
	}

	// Still limited after every retry: a retryable error carrying the hint.
	srv.Inject(hscontract.Fault{Path: "/batch/read", Status: 429, Times: 10, Header: http.Header{"Retry-After": {"7"}}})
	_, err := s.Upsert(ctx, src, []ace.Record{opp("O1", "", lm(2), "Acme", "Qualified")})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 429 || ae.RetryAfter != 7*time.Second || !crm.Retryable(err) {
		t.Errorf("persistent 429 = %v, want a retryable APIError with RetryAfter 7s", err)
	}
}

func TestServerErrorsRetried(t *testing.T) {
	srv := newFake(t)
	s, sl := openFake(t, srv, "")
	srv.Inject(hscontract.Fault{Path: "/batch/upsert", Status: 502, Times: 2, Body: "<html>Bad Gateway</html>"})
	upsert(t, s, opp("O1", "", lm(1), "Acme", "Qualified"))
	if n := len(sl.all()); n != 2 {
		t.Errorf("backoffs = %d, want 2", n)
	}
	srv.Inject(hscontract.Fault{Path: "/batch/read", Status: 503, Times: 10})
	_, err := s.Upsert(ctx, src, []ace.Record{opp("O1", "", lm(2), "Acme", "Qualified")})
	if err == nil || !crm.Retryable(err) {
		t.Errorf("persistent 503 = %v, want a retryable error", err)
	}
}

func TestMalformedResponse(t *testing.T) {
	for name, body := range map[string]string{
		"html":      "<html><body>Gateway</body></html>",
		"truncated": `{"status":"COMPLETE","results":[{"id":"1","propert`,
		"doubled":   `{"status":"COMPLETE","results":[]}{"status":"COMPLETE"}`,
		"no-id":     `{"status":"COMPLETE","results":[{"properties":{}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := newFake(t)
			s, _ := openFake(t, srv, "")
			srv.Inject(hscontract.Fault{Path: "/batch/read", Status: 200, Body: body})
			_, err := s.Upsert(ctx, src, []ace.Record{opp("O1", "", lm(1), "Acme", "Qualified")})
			if !errors.Is(err, ErrMalformedResponse) || !crm.Retryable(err) {
				t.Fatalf("Upsert = %v, want a retryable ErrMalformedResponse", err)
			}
			if !strings.Contains(err.Error(), "batch/read deals") {
				t.Errorf("error does not name the call: %v", err)
			}
			if srv.Count("deals") != 0 {
				t.Error("a record was written after an unreadable read")
			}
		})
	}
	// An error status with a non-JSON body keeps what HubSpot (or a proxy) said.
	srv := newFake(t)
	s, _ := openFake(t, srv, "&max_retries=0")
	srv.Inject(hscontract.Fault{Path: "/batch/read", Status: 400, Body: "Bad Request"})
	_, err := s.Upsert(ctx, src, []ace.Record{opp("O1", "", lm(1), "Acme", "Qualified")})
	if err == nil || !strings.Contains(err.Error(), `"Bad Request"`) {
		t.Errorf("400 with a text body = %v", err)
	}
}

// changesAll reads every pending change of object.
func changes(t *testing.T, s *Store, obj ace.Object, after crm.Watermark, limit int) []crm.Change {
	t.Helper()
	c, err := s.Changes(ctx, obj, after, limit)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	return c
}

func TestChangesExcludeOwnWritesAndPage(t *testing.T) {
	srv := newFake(t)
	s, _ := openFake(t, srv, "")
	var recs []ace.Record
	for i := range 450 {
		recs = append(recs, opp(fmt.Sprintf("O%03d", i), "", lm(1), "Co", "Qualified"))
	}
	upsert(t, s, recs...)

	srv.ResetCalls()
	if c := changes(t, s, ace.ObjectOpportunity, 0, 100); len(c) != 0 {
		t.Fatalf("OppSync's own upserts came back as %d changes", len(c))
	}
	if n := srv.Calls("POST /crm/v3/objects/deals/search"); n != 3 {
		t.Errorf("search pages = %d, want 3 (450 records, 200 a page)", n)
	}
	// The next poll does not page through them again.
	srv.ResetCalls()
	changes(t, s, ace.ObjectOpportunity, 0, 100)
	if n := srv.Calls("POST /crm/v3/objects/deals/search"); n != 1 {
		t.Errorf("second idle poll made %d searches, want 1", n)
	}

	// The sales team edits 250 deals; a re-save of identical values is no change.
	for i := 0; i < 250; i++ {
		d := srv.Find("deals", "ace_opportunity_id", fmt.Sprintf("O%03d", i))
		_ = srv.Edit("deals", d.ID, map[string]string{"dealstage": "closedwon"})
	}
	d449 := srv.Find("deals", "ace_opportunity_id", "O449")
	_ = srv.Edit("deals", d449.ID, map[string]string{"dealstage": "qualifiedtobuy"})

	var all []crm.Change
	var after crm.Watermark
	for {
		page := changes(t, s, ace.ObjectOpportunity, after, 100)
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Watermark
	}
	if len(all) != 250 {
		t.Fatalf("changes = %d, want 250", len(all))
	}
	for i, c := range all {
		if i > 0 && c.Watermark <= all[i-1].Watermark {
			t.Fatalf("changes out of watermark order at %d", i)
		}
		if c.ACEID != fmt.Sprintf("O%03d", i) || c.PartnerID == "" || c.Previous == nil {
			t.Fatalf("change %d = %+v", i, c)
		}
	}
	var f map[string]any
	_ = json.Unmarshal(all[0].Fields, &f)
	if f["stage"] != "Launched" || f["apnCrmUniqueIdentifier"] != "O000" || f["partnerCrmUniqueIdentifier"] != all[0].PartnerID ||
		f["partnerDeveloperManagerPhone"] != "not mapped: kept in ace_raw" {
		t.Errorf("change fields = %v", f)
	}
}

func TestChangesRestartAtSearchCap(t *testing.T) {
	old := searchCap
	searchCap = 400
	t.Cleanup(func() { searchCap = old })
	srv := newFake(t)
	s, _ := openFake(t, srv, "")
	var recs []ace.Record
	for i := range 700 {
		recs = append(recs, opp(fmt.Sprintf("O%03d", i), "", lm(1), "Co", "Qualified"))
	}
	upsert(t, s, recs...)
	for i := 0; i < 700; i += 7 {
		d := srv.Find("deals", "ace_opportunity_id", fmt.Sprintf("O%03d", i))
		_ = srv.Edit("deals", d.ID, map[string]string{"description": "edited"})
	}
	got := changes(t, s, ace.ObjectOpportunity, 0, 1000)
	if len(got) != 100 {
		t.Fatalf("changes across a restarted query = %d, want 100", len(got))
	}
}

func TestRecordOutcomeHandlesChange(t *testing.T) {
	srv := newFake(t)
	s, _ := openFake(t, srv, "")
	upsert(t, s, opp("O1", "", lm(1), "Acme", "Qualified"))
	d := srv.Find("deals", "ace_opportunity_id", "O1")
	_ = srv.Edit("deals", d.ID, map[string]string{"dealstage": "contractsent"})

	c := changes(t, s, ace.ObjectOpportunity, 0, 10)
	if len(c) != 1 {
		t.Fatalf("changes = %d, want 1", len(c))
	}
	sent := crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: c[0].PartnerID, ACEID: "O1", Watermark: c[0].Watermark,
		Status: crm.SyncSent, File: "opportunity-inbound/x.json"}
	if err := s.Record(ctx, sent); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, sent); err != nil { // retried: same state
		t.Fatal(err)
	}
	p := srv.Get("deals", d.ID).Properties
	if p["ace_sync_status"] != "sent" || p["ace_sync_file"] != "opportunity-inbound/x.json" || p["ace_last_sent"] == "" {
		t.Errorf("sync properties = %v", p)
	}
	// Our own status write moved hs_lastmodifieddate; it is not a change.
	if got := changes(t, s, ace.ObjectOpportunity, 0, 10); len(got) != 0 {
		t.Fatalf("after Sent: %d changes, want 0", len(got))
	}
	acc := sent
	acc.Status, acc.Warnings = crm.SyncAccepted, []string{"W1"}
	if err := s.Record(ctx, acc); err != nil {
		t.Fatal(err)
	}
	if got := changes(t, s, ace.ObjectOpportunity, 0, 10); len(got) != 0 {
		t.Fatalf("after Accepted: %d changes, want 0", len(got))
	}
	// ACE's update confirming the change: the record is in step, still no change.
	upsert(t, s, opp("O1", "", lm(2), "Acme", "Committed"))
	p = srv.Get("deals", d.ID).Properties
	if p["ace_sync_status"] != "synced" || p["dealstage"] != "contractsent" {
		t.Errorf("after ACE confirmed: status %q stage %q", p["ace_sync_status"], p["dealstage"])
	}
	if got := changes(t, s, ace.ObjectOpportunity, 0, 10); len(got) != 0 {
		t.Fatalf("after ACE's update: %d changes, want 0", len(got))
	}
	// A new edit is a change again.
	_ = srv.Edit("deals", d.ID, map[string]string{"closedate": "2027-06-30"})
	if got := changes(t, s, ace.ObjectOpportunity, 0, 10); len(got) != 1 {
		t.Fatalf("after a new edit: %d changes, want 1", len(got))
	}
}

func TestCRMEditsSurviveACEUpdate(t *testing.T) {
	srv := newFake(t)
	s, _ := openFake(t, srv, "")
	upsert(t, s, opp("O1", "", lm(1), "Acme", "Prospect"))
	d := srv.Find("deals", "ace_opportunity_id", "O1")
	_ = srv.Edit("deals", d.ID, map[string]string{"dealstage": "closedwon"})

	// ACE's hourly export, older than its processing of our change, must not undo it.
	upsert(t, s, opp("O1", "", lm(2), "Acme Corp", "Prospect"))
	p := srv.Get("deals", d.ID).Properties
	if p["dealstage"] != "closedwon" || p["ace_customer_company_name"] != "Acme Corp" {
		t.Errorf("after ACE's update: stage %q company %q, want the CRM's stage and ACE's company", p["dealstage"], p["ace_customer_company_name"])
	}
	if got := changes(t, s, ace.ObjectOpportunity, 0, 10); len(got) != 1 {
		t.Errorf("the pending edit is no longer a change (%d)", len(got))
	}
}

func TestPartnerCreatedRecord(t *testing.T) {
	srv := newFake(t)
	s, _ := openFake(t, srv, "")
	// A deal nobody shares with AWS is not OppSync's business.
	srv.Create("deals", map[string]string{"dealname": "Private", "dealstage": "qualifiedtobuy"})
	id := srv.Create("deals", map[string]string{"dealname": "Shared", "dealstage": "qualifiedtobuy", "ace_share_with_aws": "true"})

	c := changes(t, s, ace.ObjectOpportunity, 0, 10)
	if len(c) != 1 || c[0].PartnerID != id || c[0].ACEID != "" || c[0].Previous != nil {
		t.Fatalf("changes = %+v, want the shared deal as a create", c)
	}
	if err := s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: id, Watermark: c[0].Watermark, Status: crm.SyncSent}); err != nil {
		t.Fatal(err)
	}
	// ACE's outbound export arrives before its result: matched by the partner id, not duplicated.
	got := upsert(t, s, opp("O77", id, lm(1), "Shared Co", "Qualified"))
	if got != (crm.UpsertResult{Updated: 1}) || srv.Count("deals") != 2 {
		t.Fatalf("upsert of the created record = %+v with %d deals, want 1 updated and no duplicate", got, srv.Count("deals"))
	}
	if srv.Get("deals", id).Properties["ace_opportunity_id"] != "O77" {
		t.Error("the ACE id was not written onto the partner's deal")
	}
	if err := s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: id, ACEID: "O77", Watermark: c[0].Watermark, Status: crm.SyncAccepted}); err != nil {
		t.Fatal(err)
	}
	if got := upsert(t, s, opp("O77", id, lm(1), "Shared Co", "Qualified")); got != (crm.UpsertResult{Unchanged: 1}) {
		t.Errorf("again = %+v, want unchanged", got)
	}
	if got := changes(t, s, ace.ObjectOpportunity, 0, 10); len(got) != 0 {
		t.Errorf("changes after the round trip = %d, want 0", len(got))
	}
}

// A deal created in HubSpot and sent, then edited before ACE's first export of it
// arrives: the edit stays and is still a change, whether ACE's result came first or not.
func TestEditOfPartnerCreatedRecordSurvivesACEsFirstExport(t *testing.T) {
	srv := newFake(t)
	s, _ := openFake(t, srv, "")
	for _, accepted := range []bool{false, true} {
		aceID := map[bool]string{false: "O77", true: "O78"}[accepted]
		id := srv.Create("deals", map[string]string{"dealname": "Shared " + aceID, "dealstage": "qualifiedtobuy", "ace_share_with_aws": "true"})
		c := changes(t, s, ace.ObjectOpportunity, 0, 10)
		statuses := []crm.SyncStatus{crm.SyncSent}
		if accepted {
			statuses = append(statuses, crm.SyncAccepted)
		}
		for _, st := range statuses {
			if err := s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: id, ACEID: aceID, Watermark: c[len(c)-1].Watermark, Status: st}); err != nil {
				t.Fatal(err)
			}
		}
		_ = srv.Edit("deals", id, map[string]string{"ace_customer_company_name": "Rep Corp"})
		upsert(t, s, opp(aceID, id, lm(1), "Shared Co", "Committed"))
		p := srv.Get("deals", id).Properties
		if p["ace_customer_company_name"] != "Rep Corp" || p["ace_aws_stage"] != "Qualified" {
			t.Errorf("accepted %v: after ACE's first export: company %q AWS stage %q, want the rep's company and ACE's AWS stage",
				accepted, p["ace_customer_company_name"], p["ace_aws_stage"])
		}
		// Accepted, what was sent is ACE's version: ACE's own change of the stage lands.
		if accepted && p["dealstage"] != "contractsent" {
			t.Errorf("after ACE's first export of an accepted deal: stage %q, want ACE's", p["dealstage"])
		}
		if got := changes(t, s, ace.ObjectOpportunity, c[len(c)-1].Watermark, 10); len(got) != 1 || got[0].PartnerID != id {
			t.Errorf("accepted %v: the rep's edit is no longer a change: %+v", accepted, got)
		}
	}
}

func TestLeadsObjectAndList(t *testing.T) {
	srv := newFake(t)
	s, _ := openFake(t, srv, "&leads=leads")
	upsert(t, s, lead("L2", lm(1), "bo", "ng"), lead("L1", lm(1), "ann", "lee"), opp("O1", "", lm(1), "Acme", "Qualified"))
	if srv.Count("leads") != 2 || srv.Count("contacts") != 0 {
		t.Fatalf("leads=leads wrote %d leads, %d contacts", srv.Count("leads"), srv.Count("contacts"))
	}
	recs, err := s.List(ctx, ace.ObjectLead)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].ACEID != "L1" || recs[0].Name != "ann lee" || recs[1].ACEID != "L2" || !recs[0].LastModified.Equal(lm(1)) {
		t.Errorf("List(lead) = %+v", recs)
	}
	opps, err := s.List(ctx, ace.ObjectOpportunity)
	if err != nil || len(opps) != 1 || opps[0].Name != "Acme" || opps[0].Stage != "Qualified" || opps[0].Watermark != 0 {
		t.Errorf("List(opportunity) = %+v, %v", opps, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestLimiterSpacesRequests(t *testing.T) {
	l := newLimiter(5, 100*time.Millisecond)
	start := time.Now()
	for range 15 {
		if err := l.wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// 5 at once, then 10 more at 50 per second: ≥ 200 ms.
	if el := time.Since(start); el < 180*time.Millisecond {
		t.Errorf("15 requests at 5 per 100 ms took %v", el)
	}
	l.pause(150 * time.Millisecond)
	start = time.Now()
	_ = l.wait(ctx)
	if el := time.Since(start); el < 140*time.Millisecond {
		t.Errorf("a request after a 150 ms pause went after %v", el)
	}
}

func TestRateLimitFromServer(t *testing.T) {
	srv := newFake(t)
	srv.RateLimit, srv.RateWindow = 3, time.Hour
	s, sl := openFake(t, srv, "&max_retries=1")
	_, _ = s.Upsert(ctx, src, []ace.Record{opp("O1", "", lm(1), "Acme", "Qualified")}) // 2 calls
	_, err := s.Upsert(ctx, src, []ace.Record{opp("O2", "", lm(1), "Acme", "Qualified")})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 429 || ae.RetryAfter != time.Hour || !crm.Retryable(err) {
		t.Fatalf("over the limit: %v", err)
	}
	if w := sl.all(); len(w) != 0 {
		t.Errorf("waited %v for an hour-long hint; longer waits go to the caller", w)
	}
}

func TestChangesNeverSplitATie(t *testing.T) {
	srv := newFake(t)
	s, _ := openFake(t, srv, "")
	var recs []ace.Record
	for i := range 6 {
		recs = append(recs, opp(fmt.Sprintf("O%d", i), "", lm(1), "Co", "Qualified"))
	}
	upsert(t, s, recs...)
	srv.AllowTies = true
	t1 := time.Now().Add(time.Minute)
	edit := func(at time.Time, ids ...int) {
		srv.Now = func() time.Time { return at }
		for _, i := range ids {
			d := srv.Find("deals", "ace_opportunity_id", fmt.Sprintf("O%d", i))
			_ = srv.Edit("deals", d.ID, map[string]string{"description": "edited"})
		}
	}
	edit(t1, 0, 1, 2)
	edit(t1.Add(time.Millisecond), 3, 4, 5)

	// limit 4 would split the second millisecond: the page stops before it.
	c := changes(t, s, ace.ObjectOpportunity, 0, 4)
	if len(c) != 3 || c[2].Watermark != crm.Watermark(t1.UnixMilli()) {
		t.Fatalf("first page = %d changes, want the 3 of the first millisecond", len(c))
	}
	c = changes(t, s, ace.ObjectOpportunity, c[2].Watermark, 4)
	if len(c) != 3 {
		t.Fatalf("second page = %d changes, want 3", len(c))
	}
	// A tie larger than the limit comes whole.
	if c := changes(t, s, ace.ObjectOpportunity, 0, 2); len(c) != 3 {
		t.Errorf("limit 2 over a 3-record tie = %d changes, want 3", len(c))
	}
}

// crm.CheckURL runs ParseURL's checks before anything reaches Temporal, without reading the
// mapping file (it lives where the worker runs) or any credential.
func TestCheckURL(t *testing.T) {
	for _, raw := range []string{
		"hubspot://api.hubapi.com?token_env=OPPSYNC_UNSET_VARIABLE",
		"hubspot://api.hubapi.com?token_file=/run/secrets/hubspot&mapping=/only/on/the/worker.yaml",
		"hubspot://api.hubapi.com?client_id=abc&client_secret_secret=" + testSecretARN + "&refresh_token_env=RT",
	} {
		if err := crm.CheckURL(raw); err != nil {
			t.Errorf("CheckURL(%s) = %v", raw, err)
		}
	}
	for raw, want := range map[string]string{
		"hubspot://api.hubapi.com?token=pat-na1-hunter2":                                 "token_env=VAR",
		"hubspot://api.hubapi.com?client_id=x&client_secret=hunter2&refresh_token_env=R": "client_secret= puts the credential itself in the URL",
		"hubspot://api.hubapi.com?tokn_env=A":                                            `unknown parameter "tokn_env"`,
		"hubspot://api.hubapi.com?token_secret=not-an-arn":                               "not a Secrets Manager secret ARN",
	} {
		err := crm.CheckURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckURL(%s) = %v, want an error containing %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("CheckURL(%s) repeats the credential: %v", raw, err)
		}
	}
}

// Awaiting lists the records whose sync status is sent (a search on the property), with
// their file, sent change and time; an answered record leaves the list. An outcome for a
// deleted record fails with crm.ErrRecordGone, which no retry cures.
func TestAwaitingAndRecordGone(t *testing.T) {
	srv := newFake(t)
	s, _ := openFake(t, srv, "")
	upsert(t, s, opp("O1", "", lm(1), "Acme", "Qualified"), opp("O2", "", lm(1), "Beta", "Qualified"))
	for _, id := range []string{"O1", "O2"} {
		d := srv.Find("deals", "ace_opportunity_id", id)
		_ = srv.Edit("deals", d.ID, map[string]string{"dealstage": "contractsent"})
	}
	c := changes(t, s, ace.ObjectOpportunity, 0, 10)
	if len(c) != 2 {
		t.Fatalf("changes = %d, want 2", len(c))
	}
	for i, ch := range c {
		if err := s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: ch.PartnerID, ACEID: ch.ACEID,
			Watermark: ch.Watermark, Status: crm.SyncSent, File: fmt.Sprintf("opportunity-inbound/f%d.json", i)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Awaiting(ctx, ace.ObjectOpportunity, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("Awaiting = %+v, %v; want 2", got, err)
	}
	if got[0].File == "" || got[0].Watermark != c[0].Watermark || got[0].SentAt.IsZero() || got[0].ACEID == "" {
		t.Errorf("Awaiting[0] = %+v, want file, sent change %d and time", got[0], c[0].Watermark)
	}
	if err := s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: c[0].PartnerID, Watermark: c[0].Watermark,
		Status: crm.SyncAccepted, File: got[0].File}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Awaiting(ctx, ace.ObjectOpportunity, 0); err != nil || len(got) != 1 || got[0].PartnerID != c[1].PartnerID {
		t.Fatalf("after one answer: Awaiting = %+v, %v", got, err)
	}
	srv.Delete("deals", c[1].PartnerID)
	err = s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: c[1].PartnerID, Status: crm.SyncAccepted})
	if !errors.Is(err, crm.ErrRecordGone) || crm.Retryable(err) {
		t.Fatalf("outcome for a deleted record: %v (retryable %v), want ErrRecordGone, not retryable", err, crm.Retryable(err))
	}
}
