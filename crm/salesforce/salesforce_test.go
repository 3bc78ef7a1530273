package salesforce_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/salesforce"
	"github.com/oppsync/oppsync/crm/salesforce/sfcontract"
	"github.com/oppsync/oppsync/devstack/fakesm"
	"github.com/oppsync/oppsync/devstack/fakesm/fakesmtest"
)

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

const clientIDEnv = "OPPSYNC_TEST_SF_CLIENT_ID"

// setup starts a fake org and opens a store on it with the default mapping. extra is
// appended to the URL's query.
func setup(tb testing.TB, extra string) (*sfcontract.Server, *salesforce.Store, string) {
	tb.Helper()
	srv := sfcontract.New()
	tb.Cleanup(srv.Close)
	srv.PublicKey = &testKey().PublicKey
	dir := tb.TempDir()
	keyFile := filepath.Join(dir, "sf.key")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey())})
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv(clientIDEnv, srv.ClientID)
	u, _ := url.Parse(srv.URL)
	raw := fmt.Sprintf("salesforce://%s?insecure_http=1&client_id_env=%s&user=%s&key_file=%s&rate=100000&burst=1000%s",
		u.Host, clientIDEnv, url.QueryEscape(srv.Username), url.QueryEscape(keyFile), extra)
	s, err := crm.Open(context.Background(), raw)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return srv, s.(*salesforce.Store), raw
}

// opp makes an outbound opportunity record.
func opp(id, stage string, lm time.Time, extra ...string) ace.Record {
	fields := map[string]any{
		"apnCrmUniqueIdentifier": id, "stage": stage, "partnerProjectTitle": "Project " + id,
		"customerCompanyName": "Acme " + id, "lastModifiedDate": lm.UTC().Format("2006-01-02T15:04:05.000Z"),
		"expectedMonthlyAwsRevenue": 1000, "solutionOffered": []string{"S-0000001"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		fields[extra[i]] = extra[i+1]
	}
	raw, _ := json.Marshal(fields)
	return ace.Record{Object: ace.ObjectOpportunity, ACEID: id, LastModified: lm.UTC(), Raw: raw,
		Opportunity: &ace.Opportunity{Stage: stage}}
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func src(key string) crm.Source { return crm.Source{Key: "opportunity-outbound/" + key, ETag: "e"} }

func TestUpsertInsertsThenIsIdempotent(t *testing.T) {
	srv, s, _ := setup(t, "")
	ctx := context.Background()
	recs := []ace.Record{opp("O1", "Prospect", t0), opp("O2", "Qualified", t0)}
	res, err := s.Upsert(ctx, src("a.json"), recs)
	if err != nil {
		t.Fatal(err)
	}
	if res != (crm.UpsertResult{Inserted: 2}) {
		t.Fatalf("first upsert = %+v", res)
	}
	r := srv.Find("Opportunity", "ACE_Opportunity_Id__c", "O1")
	if r == nil || r["StageName"] != "Prospecting" || r["Name"] != "Project O1" {
		t.Fatalf("stored O1 = %v", r)
	}
	if raw, _ := r["ACE_Raw__c"].(string); !strings.Contains(raw, `"customerCompanyName":"Acme O1"`) {
		t.Errorf("raw ACE record not kept: %v", raw)
	}
	before := srv.Records("Opportunity")
	res, err = s.Upsert(ctx, src("a.json"), recs)
	if err != nil {
		t.Fatal(err)
	}
	if res != (crm.UpsertResult{Unchanged: 2}) {
		t.Fatalf("same file again = %+v, want 2 unchanged", res)
	}
	after := srv.Records("Opportunity")
	for id, r := range before {
		if after[id]["SystemModstamp"] != r["SystemModstamp"] {
			t.Errorf("re-upsert wrote record %s", id)
		}
	}
	// A newer ACE version updates.
	res, err = s.Upsert(ctx, src("b.json"), []ace.Record{opp("O1", "Committed", t0.Add(time.Hour))})
	if err != nil || res != (crm.UpsertResult{Updated: 1}) {
		t.Fatalf("newer version = %+v, %v", res, err)
	}
	if got := srv.Find("Opportunity", "ACE_Opportunity_Id__c", "O1")["StageName"]; got != "Negotiation/Review" {
		t.Errorf("StageName = %v", got)
	}
}

func TestStaleNeverOverwritesNewer(t *testing.T) {
	srv, s, _ := setup(t, "")
	ctx := context.Background()
	if _, err := s.Upsert(ctx, src("new.json"), []ace.Record{opp("O1", "Committed", t0.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Upsert(ctx, src("old.json"), []ace.Record{opp("O1", "Prospect", t0), opp("O2", "Prospect", t0)})
	if err != nil {
		t.Fatal(err)
	}
	if res != (crm.UpsertResult{Inserted: 1, Stale: 1}) {
		t.Fatalf("result = %+v, want 1 inserted, 1 stale", res)
	}
	if got := srv.Find("Opportunity", "ACE_Opportunity_Id__c", "O1")["StageName"]; got != "Negotiation/Review" {
		t.Errorf("older update overwrote newer data: StageName = %v", got)
	}
}

func TestPartialBatchFailure(t *testing.T) {
	srv, s, _ := setup(t, "")
	srv.Restrict("Opportunity", "StageName", "Prospecting", "Qualification")
	srv.Refuse("O3", sfcontract.RecordFailure{Code: salesforce.CodeCustomValidation, Message: "Close date must be in the future", Fields: []string{"CloseDate"}})
	srv.Refuse("O4", sfcontract.RecordFailure{Code: salesforce.CodeUnableToLockRow, Message: "unable to obtain exclusive access to this record"})
	recs := []ace.Record{opp("O1", "Prospect", t0), opp("O2", "Launched", t0), opp("O3", "Prospect", t0), opp("O4", "Prospect", t0), opp("O5", "Qualified", t0)}
	res, err := s.Upsert(context.Background(), src("a.json"), recs)
	if res != (crm.UpsertResult{Inserted: 2}) {
		t.Errorf("result = %+v, want the 2 good records inserted", res)
	}
	var be *salesforce.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want *BatchError", err)
	}
	if len(be.Records) != 3 {
		t.Fatalf("refused = %v", be.Records)
	}
	msg := err.Error()
	for _, want := range []string{"O2: INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: bad value for restricted picklist field: Closed Won (fields StageName)",
		"O3: FIELD_CUSTOM_VALIDATION_EXCEPTION: Close date must be in the future", "O4: UNABLE_TO_LOCK_ROW"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if !crm.Retryable(err) {
		t.Error("a batch with a row-lock refusal should be retryable")
	}
	// Without the retryable refusal, the batch error is not retryable.
	srv.Refuse("O4", sfcontract.RecordFailure{Code: "INSUFFICIENT_ACCESS_OR_READONLY", Message: "insufficient access rights on object id"})
	_, err = s.Upsert(context.Background(), src("a.json"), recs)
	if err == nil || crm.Retryable(err) {
		t.Errorf("validation/picklist/permission refusals: err = %v, retryable %v; want non-retryable", err, crm.Retryable(err))
	}
	if srv.Find("Opportunity", "ACE_Opportunity_Id__c", "O5") == nil {
		t.Error("O5 did not land")
	}
}

func TestAuthRefreshOnExpiredSession(t *testing.T) {
	srv, s, _ := setup(t, "")
	ctx := context.Background()
	if _, err := s.Upsert(ctx, src("a.json"), []ace.Record{opp("O1", "Prospect", t0)}); err != nil {
		t.Fatal(err)
	}
	srv.ExpireSessions()
	res, err := s.Upsert(ctx, src("b.json"), []ace.Record{opp("O2", "Prospect", t0)})
	if err != nil || res.Inserted != 1 {
		t.Fatalf("after session expiry: %+v, %v", res, err)
	}
	tokens, _ := srv.Counts()
	if tokens != 2 {
		t.Errorf("token requests = %d, want 2 (initial + one re-auth)", tokens)
	}
	// Sessions that expire after every call still make progress: one re-auth per request.
	srv.SessionCalls = 1
	if _, err := s.Upsert(ctx, src("c.json"), []ace.Record{opp("O3", "Prospect", t0)}); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshTokenFlowAndBadCredentials(t *testing.T) {
	srv := sfcontract.New()
	defer srv.Close()
	srv.RefreshToken = "5Aep861-refresh"
	dir := t.TempDir()
	rt := filepath.Join(dir, "rt")
	if err := os.WriteFile(rt, []byte(srv.RefreshToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	open := func(file string) crm.Store {
		s, err := crm.Open(context.Background(), fmt.Sprintf("salesforce://%s?insecure_http=1&client_id=%s&refresh_token_file=%s", u.Host, srv.ClientID, file))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := open(rt).Ping(context.Background()); err != nil {
		t.Fatalf("refresh-token flow: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	_ = os.WriteFile(bad, []byte("revoked"), 0o600)
	err := open(bad).Ping(context.Background())
	var ae *salesforce.APIError
	if !errors.As(err, &ae) || ae.Code != "invalid_grant" || crm.Retryable(err) {
		t.Fatalf("revoked refresh token: %v (retryable %v), want non-retryable invalid_grant", err, crm.Retryable(err))
	}
	// JWT signed by a key the connected app does not know.
	other, _ := rsa.GenerateKey(rand.Reader, 1024)
	srv3, s3, _ := setup(t, "")
	srv3.PublicKey = &other.PublicKey
	if err := s3.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid assertion signature") {
		t.Errorf("wrong key: %v", err)
	}
}

func TestOpenReportsEveryProblem(t *testing.T) {
	// salesforce.Open rather than crm.Open, whose error quotes the (redacted) URL.
	u, _ := url.Parse("salesforce://example.com?client_id_env=EMPTY_ENV&key_file=/nonexistent&api=61&mapping=/nope.yaml&insecure_http=1&colour=blue&client_secret=hunter2#k")
	_, err := salesforce.Open(u)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"key_file needs user=", "api=\"61\"", "mapping", "loopback", "unknown parameter \"colour\"",
		"client_secret= puts the credential itself in the URL", "%23KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error quotes a credential: %v", err)
	}
	if crm.Retryable(err) {
		t.Error("a configuration error must not be retryable")
	}
	for raw, want := range map[string]string{
		"salesforce://example.com?client_id=x&refresh_token_file=/a&refresh_token_env=B": "not refresh_token_env and refresh_token_file",
		"salesforce://example.com?client_id=x&key_secret=sf-key&user=u":                  "not a Secrets Manager secret ARN",
		"salesforce://example.com?client_id=x&key_env=K&refresh_token_env=R&user=u":      "not both",
		"salesforce://example.com?key_env=K&user=u":                                      "no client id",
	} {
		u, _ := url.Parse(raw)
		if _, err := salesforce.Open(u); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want an error containing %q", raw, err, want)
		}
	}

	// Credentials are resolved at first use, not by Open: an unset variable or a missing
	// key file shows at Ping (enrolment's check), not retryable and naming the reference.
	t.Setenv("EMPTY_ENV", "")
	for raw, want := range map[string]string{
		"salesforce://example.com?client_id_env=EMPTY_ENV&user=u&key_file=/nonexistent": "client_id_env=EMPTY_ENV: the environment variable is empty or unset",
		"salesforce://example.com?client_id=x&user=u&key_file=/nonexistent":             "key_file=/nonexistent: cannot read the file",
	} {
		s, err := crm.Open(context.Background(), raw)
		if err != nil {
			t.Fatalf("Open(%s): %v", raw, err)
		}
		err = s.Ping(context.Background())
		if err == nil || crm.Retryable(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("Ping(%s) = %v, want a non-retryable error containing %q", raw, err, want)
		}
	}
}

// TestCredentialsFromSecretsManager resolves the credentials through the fake Secrets
// Manager with the real SDK client, as a production worker does with its role.
func TestCredentialsFromSecretsManager(t *testing.T) {
	sm := useFakeSM(t)
	srv := sfcontract.New()
	defer srv.Close()
	srv.PublicKey = &testKey().PublicKey
	u, _ := url.Parse(srv.URL)
	open := func(query string) crm.Store {
		t.Helper()
		s, err := crm.Open(context.Background(), "salesforce://"+u.Host+"?insecure_http=1&"+query)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}

	// JWT bearer flow: the consumer key and the PEM key as keys of one JSON secret.
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey())})
	doc, _ := json.Marshal(map[string]string{"client_id": srv.ClientID, "private_key": string(pemKey)})
	app := sm.Put("oppsync/acme/salesforce-app", string(doc))
	s := open("user=" + url.QueryEscape(srv.Username) +
		"&client_id_secret=" + url.QueryEscape(app+"#client_id") + "&key_secret=" + url.QueryEscape(app+"#private_key"))
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("JWT bearer flow with the key from Secrets Manager: %v", err)
	}

	// Refresh-token flow: an admin rotates the refresh token in Salesforce and in Secrets
	// Manager; the next session expiry (401) re-reads it although the cache is fresh.
	srv.RefreshToken = "5Aep861-first"
	rt := sm.Put("oppsync/acme/salesforce-refresh", srv.RefreshToken)
	s = open("client_id=" + srv.ClientID + "&refresh_token_secret=" + url.QueryEscape(rt))
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("refresh-token flow with the token from Secrets Manager: %v", err)
	}
	before := sm.Requests()
	srv.RefreshToken = "5Aep861-rotated"
	sm.Put("oppsync/acme/salesforce-refresh", srv.RefreshToken)
	srv.ExpireSessions()
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("after rotation and a 401: %v", err)
	}
	if n := sm.Requests() - before; n != 1 {
		t.Errorf("Secrets Manager requests after the 401 = %d, want 1 (the cached token re-read once)", n)
	}

	// A secret that does not exist: not retryable, and the error names the reference.
	missing := strings.Replace(rt, "salesforce-refresh", "nothing", 1)
	err := open("client_id=" + srv.ClientID + "&refresh_token_secret=" + url.QueryEscape(missing)).Ping(context.Background())
	if err == nil || crm.Retryable(err) || !strings.Contains(err.Error(), "refresh_token_secret="+missing+": Secrets Manager GetSecretValue") {
		t.Errorf("missing secret: %v (retryable %v)", err, crm.Retryable(err))
	}
}

// useFakeSM starts a fake Secrets Manager and points the default AWS configuration at it.
func useFakeSM(t *testing.T) *fakesm.Server { return fakesmtest.Use(t, "us-west-2", "111122223333") }

func TestChangesPagingAndNoEcho(t *testing.T) {
	srv, s, _ := setup(t, "")
	srv.PageSize = 3
	ctx := context.Background()
	var recs []ace.Record
	for i := range 5 {
		recs = append(recs, opp(fmt.Sprintf("O%d", i), "Prospect", t0))
	}
	if _, err := s.Upsert(ctx, src("a.json"), recs); err != nil {
		t.Fatal(err)
	}
	// ACE's own writes are not changes.
	ch, err := s.Changes(ctx, ace.ObjectOpportunity, 0, 100)
	if err != nil || len(ch) != 0 {
		t.Fatalf("changes after ACE's upsert = %v, %v; want none", ch, err)
	}
	// People edit 7 records (5 of ACE's, 2 new); the clock moves 1 ms per edit, with a tie.
	clock := t0.Add(24 * time.Hour)
	srv.Now = func() time.Time { return clock }
	var ids []string
	for i := range 5 {
		r := srv.Find("Opportunity", "ACE_Opportunity_Id__c", fmt.Sprintf("O%d", i))
		clock = clock.Add(time.Millisecond)
		if i == 3 {
			clock = clock.Add(-time.Millisecond) // same SystemModstamp as the previous edit
		}
		ids = append(ids, srv.Edit("Opportunity", r["Id"].(string), "005000000000USER", map[string]any{"StageName": "Qualification"}))
	}
	for range 2 {
		clock = clock.Add(time.Millisecond)
		ids = append(ids, srv.Edit("Opportunity", "", "005000000000USER", map[string]any{"Name": "Partner deal", "StageName": "Prospecting"}))
	}
	var got []crm.Change
	var w crm.Watermark
	for range 10 {
		page, err := s.Changes(ctx, ace.ObjectOpportunity, w, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		w = page[len(page)-1].Watermark
	}
	if len(got) != 7 {
		t.Fatalf("got %d changes, want 7: %+v", len(got), got)
	}
	for i, c := range got {
		if c.PartnerID != ids[i] {
			t.Errorf("change %d is %s, want %s", i, c.PartnerID, ids[i])
		}
		if i > 0 && c.Watermark < got[i-1].Watermark {
			t.Errorf("change %d out of order", i)
		}
	}
	var f map[string]json.RawMessage
	_ = json.Unmarshal(got[0].Fields, &f)
	if string(f["stage"]) != `"Qualified"` || string(f["apnCrmUniqueIdentifier"]) != `"O0"` || string(f["customerCompanyName"]) != `"Acme O0"` {
		t.Errorf("change fields = %s", got[0].Fields)
	}
	if got[0].Previous == nil || got[6].Previous != nil || got[6].ACEID != "" {
		t.Errorf("Previous/ACEID: first %q / last %q %q", got[0].Previous, got[6].Previous, got[6].ACEID)
	}

	// Record the outcome: it writes the status and the ACE id, and is not echoed.
	last := got[6]
	if err := s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: last.PartnerID, ACEID: "O99",
		Status: crm.SyncAccepted, File: "opportunity-inbound/x.json", Watermark: last.Watermark}); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: got[5].PartnerID,
		Status: crm.SyncRejected, Errors: []string{"stage: not a standard value", "industry: required"}}); err != nil {
		t.Fatal(err)
	}
	r := srv.Records("Opportunity")[last.PartnerID]
	if r["ACE_Sync_Status__c"] != "accepted" || r["ACE_Opportunity_Id__c"] != "O99" {
		t.Errorf("after Record: %v", r)
	}
	if e := srv.Records("Opportunity")[got[5].PartnerID]["ACE_Sync_Errors__c"]; e != "stage: not a standard value\nindustry: required" {
		t.Errorf("sync errors = %q", e)
	}
	ch, err = s.Changes(ctx, ace.ObjectOpportunity, w, 100)
	if err != nil || len(ch) != 0 {
		t.Errorf("Record's write echoed as a change: %v, %v", ch, err)
	}
	// ACE's later update of the partner-created record (matched by its Id) fills it in.
	res, err := s.Upsert(ctx, src("c.json"), []ace.Record{func() ace.Record {
		r := opp("O98", "Qualified", t0.Add(48*time.Hour))
		r.PartnerID = got[5].PartnerID
		return r
	}()})
	if err != nil || res != (crm.UpsertResult{Updated: 1}) {
		t.Fatalf("partner-created record: %+v, %v", res, err)
	}
	if r := srv.Records("Opportunity")[got[5].PartnerID]; r["ACE_Opportunity_Id__c"] != "O98" {
		t.Errorf("partner-created record did not get its ACE id: %v", r)
	}
	list, err := s.List(ctx, ace.ObjectOpportunity)
	if err != nil || len(list) != 7 {
		t.Fatalf("List = %d records, %v", len(list), err)
	}
	if list[0].ACEID != "O0" || list[0].Stage != "Qualified" || list[0].Name != "Acme O0" {
		t.Errorf("List[0] = %+v", list[0])
	}
}

func TestRateLimitAndRetryClassification(t *testing.T) {
	srv, s, _ := setup(t, "")
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// A 429 with a short Retry-After is retried inside the call.
	srv.FailNext(1, sfcontract.Failure{Status: 429, Code: "REQUEST_LIMIT_EXCEEDED_RATE", Message: "too many requests", RetryAfter: 1})
	start := time.Now()
	if _, err := s.Upsert(ctx, src("a.json"), []ace.Record{opp("O1", "Prospect", t0)}); err != nil {
		t.Fatalf("429 then success: %v", err)
	}
	if time.Since(start) < time.Second {
		t.Error("Retry-After was not honoured")
	}
	// REQUEST_LIMIT_EXCEEDED: retryable, and no further calls until Retry-After passes.
	srv.FailNext(1, sfcontract.Failure{Status: 403, Code: salesforce.CodeRequestLimit, Message: "TotalRequests Limit exceeded.", RetryAfter: 3600})
	_, err := s.Upsert(ctx, src("b.json"), []ace.Record{opp("O2", "Prospect", t0)})
	var ae *salesforce.APIError
	if !errors.As(err, &ae) || ae.Code != salesforce.CodeRequestLimit || !crm.Retryable(err) || ae.RetryAfter != time.Hour {
		t.Fatalf("request limit: %v (retryable %v)", err, crm.Retryable(err))
	}
	_, calls := srv.Counts()
	if _, err := s.Upsert(ctx, src("b.json"), []ace.Record{opp("O2", "Prospect", t0)}); err == nil || !crm.Retryable(err) {
		t.Fatalf("while paused: %v", err)
	}
	if _, after := srv.Counts(); after != calls {
		t.Errorf("called Salesforce while paused by REQUEST_LIMIT_EXCEEDED")
	}
	if l := s.Limits(); l.Max != 15000 || l.Used == 0 {
		t.Errorf("Limits = %+v", l)
	}
}

func TestServerErrorsAndMalformedResponses(t *testing.T) {
	srv, s, _ := setup(t, "")
	ctx := context.Background()
	srv.FailNext(3, sfcontract.Failure{Status: 503, Code: salesforce.CodeServerUnavailable, Message: "down for maintenance"})
	_, err := s.Upsert(ctx, src("a.json"), []ace.Record{opp("O1", "Prospect", t0)})
	if err == nil || !crm.Retryable(err) || !strings.Contains(err.Error(), "down for maintenance") {
		t.Fatalf("503 ×3: %v", err)
	}
	srv.MalformedNext(1)
	_, err = s.Upsert(ctx, src("a.json"), []ace.Record{opp("O1", "Prospect", t0)})
	if !errors.Is(err, salesforce.ErrMalformedResponse) || !strings.Contains(err.Error(), "Service temporarily unavailable") {
		t.Fatalf("malformed: %v", err)
	}
	srv.FailNext(1, sfcontract.Failure{Status: 400, Code: "INVALID_FIELD", Message: "No such column 'ACE_Raw__c' on entity 'Opportunity'"})
	_, err = s.Upsert(ctx, src("a.json"), []ace.Record{opp("O1", "Prospect", t0)})
	if err == nil || crm.Retryable(err) || !strings.Contains(err.Error(), "No such column") {
		t.Fatalf("bad field: %v (retryable %v)", err, crm.Retryable(err))
	}
	// Still healthy afterwards.
	if res, err := s.Upsert(ctx, src("a.json"), []ace.Record{opp("O1", "Prospect", t0)}); err != nil || res.Inserted != 1 {
		t.Fatalf("after errors: %+v, %v", res, err)
	}
}

func TestCallsPer1000Records(t *testing.T) {
	srv, s, _ := setup(t, "")
	recs := make([]ace.Record, 1000)
	for i := range recs {
		recs[i] = opp(fmt.Sprintf("O%07d", i), "Prospect", t0)
	}
	res, err := s.Upsert(context.Background(), src("big.json"), recs)
	if err != nil || res.Inserted != 1000 {
		t.Fatalf("%+v, %v", res, err)
	}
	tokens, api := srv.Counts()
	if tokens+api > 6 {
		t.Errorf("1,000 records cost %d calls (%d token + %d API), target ≤ 6: %v", tokens+api, tokens, api, srv.Requests())
	}
	t.Logf("1,000 records: %d token + %d API calls", tokens, api)
}

func BenchmarkSalesforceUpsert(b *testing.B) {
	srv, s, _ := setup(b, "")
	const n = 1000
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recs := make([]ace.Record, n)
		for j := range recs {
			recs[j] = opp(fmt.Sprintf("O%d-%07d", i, j), "Prospect", t0)
		}
		if _, err := s.Upsert(ctx, src("bench.json"), recs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	tokens, api := srv.Counts()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(tokens+api)*1000/float64(n*b.N), "calls/1000records")
}

// crm.CheckURL runs Open's checks of the URL before anything reaches Temporal, without
// reading the mapping file (it lives where the worker runs) or any credential.
func TestCheckURL(t *testing.T) {
	for _, raw := range []string{
		"salesforce://login.salesforce.com?client_id_env=SF_CID&user=u@acme.com&key_file=/nonexistent",
		"salesforce://login.salesforce.com?client_id=abc&refresh_token_file=/run/rt&mapping=/only/on/the/worker.yaml",
	} {
		if err := crm.CheckURL(raw); err != nil {
			t.Errorf("CheckURL(%s) = %v", raw, err)
		}
	}
	for raw, want := range map[string]string{
		"salesforce://login.salesforce.com?client_id=abc&refresh_token=5Aep861hunter2": "refresh_token= puts the credential itself in the URL",
		"salesforce://login.salesforce.com?client_id=abc&user=u&key=hunter2":           "key= puts the credential itself in the URL",
		"salesforce://login.salesforce.com?client_id=abc":                              "no credentials",
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

// Awaiting lists the records whose sync status is sent (SOQL on the status field), with
// their file and time; an answered record leaves the list. An outcome for a deleted record
// fails with crm.ErrRecordGone, which no retry cures.
func TestAwaitingAndRecordGone(t *testing.T) {
	srv, s, _ := setup(t, "")
	ctx := context.Background()
	var ids []string
	for range 2 {
		ids = append(ids, srv.Edit("Opportunity", "", "005000000000USER", map[string]any{"Name": "Partner deal", "StageName": "Prospecting"}))
	}
	for i, id := range ids {
		if err := s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: id, Status: crm.SyncSent,
			File: fmt.Sprintf("opportunity-inbound/f%d.json", i)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Awaiting(ctx, ace.ObjectOpportunity, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("Awaiting = %+v, %v; want 2", got, err)
	}
	for _, a := range got {
		if a.File == "" || a.SentAt.IsZero() || !slices.Contains(ids, a.PartnerID) {
			t.Errorf("Awaiting entry %+v, want one of %v with its file and time", a, ids)
		}
	}
	if err := s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: ids[0], ACEID: "O7", Status: crm.SyncAccepted}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Awaiting(ctx, ace.ObjectOpportunity, 0); err != nil || len(got) != 1 || got[0].PartnerID != ids[1] {
		t.Fatalf("after one answer: Awaiting = %+v, %v", got, err)
	}
	srv.Delete("Opportunity", ids[1])
	err = s.Record(ctx, crm.Outcome{Object: ace.ObjectOpportunity, PartnerID: ids[1], ACEID: "O8", Status: crm.SyncAccepted})
	if !errors.Is(err, crm.ErrRecordGone) || crm.Retryable(err) {
		t.Fatalf("outcome for a deleted record: %v (retryable %v), want ErrRecordGone, not retryable", err, crm.Retryable(err))
	}
}
