package acesim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/acesim"
	"github.com/oppsync/oppsync/devstack"
)

// One stack serves the whole package: starting Temporal per test would dominate the run.
// Each test gets its own customer, hence its own bucket.
var (
	stackOnce sync.Once
	stack     *devstack.Stack
	stackErr  error
	stackSkip error
	stackDir  string
	customers atomic.Int32
)

func TestMain(m *testing.M) {
	code := m.Run()
	if stack != nil {
		stack.Stop()
	}
	if stackDir != "" {
		_ = os.RemoveAll(stackDir)
	}
	os.Exit(code)
}

// env is one test's bucket: the simulator, the partner's S3 client and ACE's.
type env struct {
	t       *testing.T
	sim     *acesim.Sim
	bucket  string
	partner *s3.Client // the customer's S3 user, as OppSync would use it
	root    *s3.Client // ACE
}

// newEnv starts the shared stack if needed (skipping when the tools are missing, except in
// CI, where a missing tool must fail) and sets up a customer and a simulator for the test.
func newEnv(t *testing.T, opts acesim.Options) *env {
	t.Helper()
	stackOnce.Do(func() {
		binDir, err := devstack.DefaultBinDir()
		if err != nil {
			stackErr = err
			return
		}
		if err := devstack.ToolsPresent(binDir); err != nil {
			if os.Getenv("CI") == "true" {
				stackErr = err
			} else {
				stackSkip = err
			}
			return
		}
		stackDir, err = os.MkdirTemp("", "acesim-test-")
		if err != nil {
			stackErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		stack, stackErr = devstack.Start(ctx, devstack.Options{Dir: stackDir})
	})
	if stackSkip != nil {
		t.Skip(stackSkip)
	}
	if stackErr != nil {
		t.Fatal(stackErr)
	}
	ctx := context.Background()
	cust, err := stack.NewCustomer(ctx, fmt.Sprintf("acesim%d", customers.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	return &env{
		t:      t,
		sim:    acesim.New(stack.RootS3(ctx), cust.Bucket, opts),
		bucket: cust.Bucket,
		partner: s3.New(s3.Options{
			Region: devstack.Region, BaseEndpoint: aws.String(stack.S3Endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(cust.AccessKeyID, cust.SecretAccessKey, ""),
		}),
		root: stack.RootS3(ctx),
	}
}

// upload puts an inbound file as the partner must: with bucket-owner-full-control.
func (e *env) upload(key string, body []byte) {
	e.t.Helper()
	_, err := e.partner.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ACL: types.ObjectCannedACLBucketOwnerFullControl,
	})
	if err != nil {
		e.t.Fatalf("upload %s as the partner: %v", key, err)
	}
}

func (e *env) process() acesim.Stats {
	e.t.Helper()
	st, err := e.sim.ProcessOnce(context.Background())
	if err != nil {
		e.t.Fatalf("ProcessOnce: %v", err)
	}
	return st
}

// get returns the object's body, or nil if there is no such object.
func (e *env) get(key string) []byte {
	e.t.Helper()
	out, err := e.root.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	var missing *types.NoSuchKey
	if errors.As(err, &missing) {
		return nil
	}
	if err != nil {
		e.t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// result reads the result file answering inboundKey with OppSync's own parser.
func (e *env) result(inboundKey string) *ace.Result {
	e.t.Helper()
	folder := ace.FolderOpportunityResults
	if strings.HasPrefix(inboundKey, ace.FolderLeadInbound) {
		folder = ace.FolderLeadResults
	}
	key := ace.ResultKeyFor(inboundKey, folder)
	body := e.get(key)
	if body == nil {
		e.t.Fatalf("no result file %s for %s", key, inboundKey)
	}
	r, err := ace.ParseResult(key, body)
	if err != nil {
		e.t.Fatalf("ace.ParseResult rejects the simulator's result file: %v\n%s", err, body)
	}
	if r.FileName != inboundKey {
		e.t.Errorf("result fileName = %q, want %q", r.FileName, inboundKey)
	}
	return r
}

// fixture reads a record from testdata and applies changes (nil deletes a key).
func fixture(t *testing.T, name string, changes map[string]any) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	for k, v := range changes {
		if v == nil {
			delete(rec, k)
		} else {
			rec[k] = v
		}
	}
	return rec
}

func opportunity(t *testing.T, partnerID string, changes map[string]any) map[string]any {
	rec := fixture(t, "opportunity.json", changes)
	rec["partnerCrmUniqueIdentifier"] = partnerID
	return rec
}

// inbound builds an inbound file with OppSync's own builder.
func inbound(t *testing.T, o ace.Object, records ...map[string]any) []byte {
	t.Helper()
	var raws []json.RawMessage
	for _, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, b)
	}
	body, err := ace.BuildInbound(o, "spms-test", raws)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// field returns a string field of a raw record.
func field(t *testing.T, raw json.RawMessage, key string) string {
	t.Helper()
	fields, err := ace.Fields(raw)
	if err != nil {
		t.Fatal(err)
	}
	var s string
	_ = json.Unmarshal(fields[key], &s)
	return s
}

var reOppID = regexp.MustCompile(`^O\d{7}$`)

// create uploads one valid opportunity and returns its ACE id.
func (e *env) create(name, partnerID string) string {
	e.t.Helper()
	key := ace.FolderOpportunityInbound + name + ".json"
	e.upload(key, inbound(e.t, ace.ObjectOpportunity, opportunity(e.t, partnerID, nil)))
	e.process()
	r := e.result(key)
	if r.Success != "ALL" || len(r.Records) != 1 || !r.Records[0].IsSuccess {
		e.t.Fatalf("create %s: result %+v", partnerID, r)
	}
	return r.Records[0].ACEID
}

func TestValidCreateGetsOpportunityIDAndAll(t *testing.T) {
	e := newEnv(t, acesim.Options{})
	key := ace.FolderOpportunityInbound + "create.json"
	e.upload(key, inbound(t, ace.ObjectOpportunity, opportunity(t, "CRM-1", nil)))

	st := e.process()
	if st.Files != 1 || st.Succeeded != 1 || st.Failed != 0 {
		t.Errorf("stats = %+v, want 1 file, 1 record succeeded", st)
	}
	r := e.result(key)
	if r.Success != "ALL" || r.IsAPIError || r.SpmsID != "spms-test" || r.ProcessedAt.IsZero() {
		t.Errorf("result = %+v, want ALL from spms-test with a processing time", r)
	}
	if len(r.Records) != 1 {
		t.Fatalf("records = %+v, want 1", r.Records)
	}
	got := r.Records[0]
	if !got.IsSuccess || got.PartnerID != "CRM-1" || !reOppID.MatchString(got.ACEID) || got.Errors != nil {
		t.Errorf("record = %+v, want success for CRM-1 with an O+7-digit id", got)
	}
	if e.get(key) != nil {
		t.Errorf("inbound file %s still there; ACE deletes processed files", key)
	}
	rec, ok := e.sim.Record(got.ACEID)
	if !ok || rec.PartnerID != "CRM-1" || rec.Referral || string(rec.Fields["customerCompanyName"]) != `"Test LLC"` {
		t.Errorf("simulator state = %+v, %v", rec, ok)
	}

	// A second create with the same partner id makes a second record, as ACE does.
	if id2 := e.create("create-again", "CRM-1"); id2 == got.ACEID {
		t.Errorf("second create of CRM-1 got the same id %s; ACE matches by its own id only and makes a duplicate", id2)
	}
}

func TestMixedFileIsPartialWithErrorsOnTheBadRecord(t *testing.T) {
	e := newEnv(t, acesim.Options{})
	key := ace.FolderOpportunityInbound + "mixed.json"
	e.upload(key, inbound(t, ace.ObjectOpportunity,
		opportunity(t, "GOOD", nil),
		opportunity(t, "BAD", map[string]any{"customerDuns": "12", "stage": "Almost Done"}),
	))
	e.process()
	r := e.result(key)
	if r.Success != "PARTIAL" || r.IsAPIError {
		t.Errorf("success = %q, isApiError = %v; want PARTIAL, false", r.Success, r.IsAPIError)
	}
	if len(r.Records) != 2 {
		t.Fatalf("records = %+v, want 2", r.Records)
	}
	good, bad := r.Records[0], r.Records[1]
	if !good.IsSuccess || good.Errors != nil || !reOppID.MatchString(good.ACEID) {
		t.Errorf("good record = %+v", good)
	}
	if bad.IsSuccess || bad.PartnerID != "BAD" || bad.ACEID != "" {
		t.Errorf("bad record = %+v, want failure without an ACE id", bad)
	}
	all := strings.Join(bad.Errors, "\n")
	for _, want := range []string{"customerDuns", "stage"} {
		if !strings.Contains(all, want) {
			t.Errorf("bad record errors %q do not mention %s", bad.Errors, want)
		}
	}
}

func TestUpdateWithUnknownACEIDFails(t *testing.T) {
	e := newEnv(t, acesim.Options{})
	key := ace.FolderOpportunityInbound + "update-unknown.json"
	e.upload(key, inbound(t, ace.ObjectOpportunity,
		opportunity(t, "CRM-9", map[string]any{"apnCrmUniqueIdentifier": "O9999999"})))
	e.process()
	r := e.result(key)
	if r.Success != "NONE" || len(r.Records) != 1 || r.Records[0].IsSuccess {
		t.Fatalf("result = %+v, want NONE with one failed record", r)
	}
	if got := r.Records[0].Errors; len(got) != 1 || got[0] != "Opportunity not found for apnCrmUniqueIdentifier: O9999999" {
		t.Errorf("errors = %q, want the unknown id named", got)
	}
}

func TestUpdateByACEIDAndNoChange(t *testing.T) {
	e := newEnv(t, acesim.Options{})
	id := e.create("c", "CRM-2")

	key := ace.FolderOpportunityInbound + "update.json"
	e.upload(key, inbound(t, ace.ObjectOpportunity,
		opportunity(t, "CRM-2", map[string]any{"apnCrmUniqueIdentifier": id, "expectedMonthlyAwsRevenue": 500})))
	e.process()
	if r := e.result(key); r.Success != "ALL" || r.Records[0].ACEID != id {
		t.Fatalf("update result = %+v", r)
	}
	if rec, _ := e.sim.Record(id); string(rec.Fields["expectedMonthlyAwsRevenue"]) != "500" {
		t.Errorf("state after update: expectedMonthlyAwsRevenue = %s, want 500", rec.Fields["expectedMonthlyAwsRevenue"])
	}

	// The same update again changes nothing: ACE answers with its own message for that.
	key = ace.FolderOpportunityInbound + "update-again.json"
	e.upload(key, inbound(t, ace.ObjectOpportunity,
		opportunity(t, "CRM-2", map[string]any{"apnCrmUniqueIdentifier": id, "expectedMonthlyAwsRevenue": 500})))
	e.process()
	r := e.result(key)
	if r.Success != "NONE" || len(r.Records[0].Errors) != 1 || r.Records[0].Errors[0] != "No new update identified for this record" {
		t.Errorf("unchanged update: result = %+v", r)
	}
}

func TestNonJSONUploadGetsErrorFile(t *testing.T) {
	e := newEnv(t, acesim.Options{})
	key := ace.FolderOpportunityInbound + "export.csv"
	e.upload(key, []byte("a,b\n1,2\n"))
	if st := e.process(); st.ErrorFiles != 1 || st.Files != 0 {
		t.Errorf("stats = %+v, want one error file", st)
	}
	errKey := acesim.ErrorKeyFor(key, ace.FolderOpportunityResults)
	if errKey != "opportunity-inbound-processed-results/export.csv.error.json" || !ace.IsErrorFile(errKey) {
		t.Errorf("error file key = %q", errKey)
	}
	body := e.get(errKey)
	var got struct{ FileName, Error string }
	if err := json.Unmarshal(body, &got); err != nil || got.FileName != key || !strings.Contains(got.Error, ".json") {
		t.Errorf("error file = %s (%v)", body, err)
	}
	if e.get(key) != nil {
		t.Errorf("non-.json inbound file still there")
	}
}

func TestMalformedFileIsAPIError(t *testing.T) {
	e := newEnv(t, acesim.Options{})
	for _, tc := range []struct{ name, body, want string }{
		{"syntax", `{"version": "2.0", "opportunities": [`, "Invalid JSON"},
		{"array", `[{"version": "2.0"}]`, "top level must be a JSON object"},
		{"no-version", `{"spmsId": "x", "opportunities": [{}]}`, "version is missing"},
		{"no-records", `{"version": "2.0", "spmsId": "x", "leads": []}`, `no "opportunities" array`},
		{"empty", `{"version": "2.0", "spmsId": "x", "opportunities": []}`, "no records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			key := ace.FolderOpportunityInbound + "malformed-" + tc.name + ".json"
			e.upload(key, []byte(tc.body))
			if st := e.process(); st.APIErrors != 1 {
				t.Errorf("stats = %+v, want one API error", st)
			}
			r := e.result(key)
			if r.Success != "NONE" || !r.IsAPIError || len(r.Records) != 0 || len(r.APIErrors) != 1 ||
				!strings.Contains(r.APIErrors[0], tc.want) {
				t.Errorf("result = %+v, want NONE, isApiError, no records, apiErrors mentioning %q", r, tc.want)
			}
			if e.get(key) != nil {
				t.Errorf("malformed inbound file still there")
			}
		})
	}
}

func TestSameNameTwiceIsProcessedOnce(t *testing.T) {
	e := newEnv(t, acesim.Options{})
	key := ace.FolderOpportunityInbound + "once.json"
	e.upload(key, inbound(t, ace.ObjectOpportunity, opportunity(t, "CRM-3", nil)))
	e.process()
	first := e.result(key)

	e.upload(key, inbound(t, ace.ObjectOpportunity, opportunity(t, "CRM-3-other", nil)))
	st := e.process()
	if st.Repeats != 1 || st.Files != 0 {
		t.Errorf("stats = %+v, want one repeat and no file processed", st)
	}
	if again := e.result(key); again.Records[0].ACEID != first.Records[0].ACEID || again.Records[0].PartnerID != "CRM-3" {
		t.Errorf("result was rewritten: %+v", again)
	}
	if e.get(key) != nil {
		t.Errorf("repeated inbound file still there; ACE consumes it without processing")
	}
	if n := len(e.sim.Records()); n != 1 {
		t.Errorf("simulator has %d records, want 1", n)
	}
}

func TestEmitOutboundIsReadByOppSync(t *testing.T) {
	e := newEnv(t, acesim.Options{SpmsID: "spms-test"})
	id := e.create("c", "CRM-4")

	key, err := e.sim.EmitOutbound(context.Background(), ace.ObjectOpportunity, id,
		map[string]any{"status": "Approved", "aWSStage": "Qualified"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, ace.FolderOpportunityOutbound) {
		t.Errorf("outbound key %q not in %s", key, ace.FolderOpportunityOutbound)
	}
	f, err := ace.ParseOutbound(key, e.get(key))
	if err != nil {
		t.Fatalf("ace.ParseOutbound rejects the simulator's outbound file: %v", err)
	}
	if f.Problem() != nil || len(f.Records) != 1 || f.Major != 2 || f.SpmsID != "spms-test" {
		t.Fatalf("outbound file = %+v, problem %v", f, f.Problem())
	}
	rec := f.Records[0]
	if rec.ACEID != id || rec.PartnerID != "CRM-4" || rec.Opportunity.Status != "Approved" ||
		rec.Opportunity.AWSStage != "Qualified" || rec.Opportunity.CustomerCompanyName != "Test LLC" ||
		time.Since(rec.LastModified) > time.Minute {
		t.Errorf("outbound record = %+v, %+v", rec, rec.Opportunity)
	}
	if st, _ := e.sim.Record(id); string(st.Fields["status"]) != `"Approved"` {
		t.Errorf("approval not kept in the simulator's state: status %s", st.Fields["status"])
	}

	if _, err := e.sim.EmitOutbound(context.Background(), ace.ObjectOpportunity, "O0000000", nil); err == nil {
		t.Error("EmitOutbound of an unknown id succeeded")
	}
}

func TestReferralIsMaskedUntilAccepted(t *testing.T) {
	e := newEnv(t, acesim.Options{UnmaskOnAccept: true})
	ctx := context.Background()
	full := fixture(t, "opportunity.json", map[string]any{"partnerCrmUniqueIdentifier": nil, "apnCrmUniqueIdentifier": nil})
	id, key, err := e.sim.EmitReferral(ctx, ace.ObjectOpportunity, full)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ace.ParseOutbound(key, e.get(key))
	if err != nil || f.Problem() != nil {
		t.Fatalf("ParseOutbound(referral): %v, %v", err, f.Problem())
	}
	ref := f.Records[0]
	if ref.ACEID != id || ref.PartnerID != "" || ref.Opportunity.OpportunityOwnership != "AWS Referral" ||
		ref.Opportunity.PartnerAcceptanceStatus != "" || ref.Opportunity.AcceptBy.IsZero() {
		t.Errorf("referral = %+v, %+v; want no partner id, AWS Referral, pending, acceptBy set", ref, ref.Opportunity)
	}
	if v := field(t, ref.Raw, "customerEmail"); v != ace.MaskedValue {
		t.Errorf("customerEmail not masked: %s", ref.Raw)
	}
	if _, err := e.sim.Unmask(ctx, id); !errors.Is(err, acesim.ErrNotAccepted) {
		t.Errorf("Unmask before acceptance: %v, want ErrNotAccepted", err)
	}

	// The partner accepts, sending back the masked values it was given.
	accept := fixture(t, "opportunity.json", map[string]any{
		"apnCrmUniqueIdentifier": id, "partnerCrmUniqueIdentifier": "CRM-5", "partnerAcceptanceStatus": "Accepted",
		"customerEmail": ace.MaskedValue,
	})
	in := ace.FolderOpportunityInbound + "accept.json"
	e.upload(in, inbound(t, ace.ObjectOpportunity, accept))
	st := e.process()
	if r := e.result(in); r.Success != "ALL" {
		t.Fatalf("acceptance result = %+v", r)
	}
	if len(st.Outbound) != 1 {
		t.Fatalf("stats = %+v, want one unmasked outbound file (UnmaskOnAccept)", st)
	}
	f, err = ace.ParseOutbound(st.Outbound[0], e.get(st.Outbound[0]))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Records[0]
	if got.PartnerID != "CRM-5" || got.Opportunity.PartnerAcceptanceStatus != "Accepted" ||
		field(t, got.Raw, "customerEmail") != "test@test.com" {
		t.Errorf("unmasked record = %s", got.Raw)
	}
	if _, err := e.sim.Unmask(ctx, id); err != nil {
		t.Errorf("Unmask after acceptance: %v", err)
	}
}

func TestLeadReferralUpdate(t *testing.T) {
	e := newEnv(t, acesim.Options{})
	ctx := context.Background()
	id, key, err := e.sim.EmitReferral(ctx, ace.ObjectLead, map[string]any{
		"fullName": "Jane Doe", "email": "jane@example.com", "company": "Example Inc", "country": "United States",
		"industry": "Government", "leadSource": "Accelerator Application",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^L\d{7}$`).MatchString(id) {
		t.Errorf("lead id %q, want L+7 digits", id)
	}
	f, err := ace.ParseOutbound(key, e.get(key))
	if err != nil || f.Problem() != nil {
		t.Fatalf("ParseOutbound(lead referral): %v %v", err, f.Problem())
	}
	if l := f.Records[0].Lead; l.Email != ace.MaskedValue || l.Company != ace.MaskedValue {
		t.Errorf("lead not masked: %+v", l)
	}

	// AWS's lead update sample, with its "Leads" key.
	upd := fixture(t, "lead-update.json", map[string]any{"apnCrmUniqueIdentifier": id})
	body, _ := json.Marshal(map[string]any{"version": "1.0", "spmsId": "spms-test", "Leads": []any{upd}})
	in := ace.FolderLeadInbound + "lead-update.json"
	e.upload(in, body)
	e.process()
	r := e.result(in)
	if r.Success != "ALL" || r.Records[0].PartnerID != "testLeadIdentifier" || r.Records[0].ACEID != id {
		t.Fatalf("lead update result = %+v", r)
	}

	// Leads are AWS's: an inbound lead without ACE's id is not a create.
	in = ace.FolderLeadInbound + "lead-create.json"
	e.upload(in, inbound(t, ace.ObjectLead, fixture(t, "lead-update.json", map[string]any{"apnCrmUniqueIdentifier": nil})))
	e.process()
	if r := e.result(in); r.Success != "NONE" || !strings.Contains(strings.Join(r.Records[0].Errors, ""), "apnCrmUniqueIdentifier") {
		t.Errorf("lead create result = %+v", r)
	}
}

func TestDropResults(t *testing.T) {
	e := newEnv(t, acesim.Options{DropResults: func(key string) bool { return strings.Contains(key, "lost") }})
	lost := ace.FolderOpportunityInbound + "lost.json"
	kept := ace.FolderOpportunityInbound + "kept.json"
	e.upload(lost, inbound(t, ace.ObjectOpportunity, opportunity(t, "CRM-6", nil)))
	e.upload(kept, inbound(t, ace.ObjectOpportunity, opportunity(t, "CRM-7", nil)))
	st := e.process()
	if st.Dropped != 1 || st.Files != 2 {
		t.Errorf("stats = %+v, want 2 files, 1 dropped", st)
	}
	if b := e.get(ace.ResultKeyFor(lost, ace.FolderOpportunityResults)); b != nil {
		t.Errorf("dropped file got a result: %s", b)
	}
	if e.get(lost) != nil {
		t.Errorf("dropped inbound file still there; ACE consumed it")
	}
	e.result(kept)
}

func TestDelayWaitsForTheClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, acesim.Options{Delay: 3 * time.Minute, Clock: clock})
	key := ace.FolderOpportunityInbound + "slow.json"
	e.upload(key, inbound(t, ace.ObjectOpportunity, opportunity(t, "CRM-8", nil)))

	if st := e.process(); st.Waiting != 1 || st.Files != 0 {
		t.Errorf("first poll: stats = %+v, want the file waiting", st)
	}
	mu.Lock()
	now = now.Add(3 * time.Minute)
	mu.Unlock()
	if st := e.process(); st.Files != 1 {
		t.Errorf("after the delay: stats = %+v, want the file processed", st)
	}
	if r := e.result(key); !r.ProcessedAt.Equal(now) {
		t.Errorf("fileApnProcessedDT = %v, want the simulator's clock %v", r.ProcessedAt, now)
	}
}

func TestStartAnswersInTheBackground(t *testing.T) {
	e := newEnv(t, acesim.Options{})
	stop := acesim.New(stack.RootS3(context.Background()), e.bucket, acesim.Options{Interval: 50 * time.Millisecond, Logf: t.Logf}).Start(context.Background())
	defer stop()
	key := ace.FolderOpportunityInbound + "background.json"
	e.upload(key, inbound(t, ace.ObjectOpportunity, opportunity(t, "CRM-10", nil)))
	resultKey := ace.ResultKeyFor(key, ace.FolderOpportunityResults)
	deadline := time.Now().Add(10 * time.Second)
	for e.get(resultKey) == nil {
		if time.Now().After(deadline) {
			t.Fatal("no result within 10s from the background simulator")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := e.result(key); r.Success != "ALL" {
		t.Errorf("result = %+v", r)
	}
}
