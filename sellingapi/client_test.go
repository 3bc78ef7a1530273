package sellingapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
)

var testCreds = aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", SessionToken: "session"}

// signedAt is the clock of the test clients, so that the server can recompute the signature.
var signedAt = time.Date(2026, 12, 2, 1, 2, 3, 0, time.UTC)

// fakeService is an httptest server that checks each request as the real endpoint would
// (awsJson1_0 framing and a valid SigV4 signature for partnercentral-selling in the client's
// region) and answers with reply.
type fakeService struct {
	t      *testing.T
	region string
	reply  func(op string, body []byte) (status int, header http.Header, resp string)

	mu    sync.Mutex
	calls []string // operations, in order
	srv   *httptest.Server
}

func newFakeService(t *testing.T, reply func(op string, body []byte) (int, http.Header, string)) *fakeService {
	t.Helper()
	f := &fakeService{t: t, region: DefaultRegion, reply: reply}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeService) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("reading the request: %v", err)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		t.Errorf("%s %s, want POST /", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		t.Errorf("Content-Type %q", ct)
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSPartnerCentralSelling.")
	if !ok || op == "" {
		t.Errorf("X-Amz-Target %q, want AWSPartnerCentralSelling.<Operation>", target)
	}
	if r.Header.Get("X-Amz-Security-Token") != testCreds.SessionToken {
		t.Errorf("X-Amz-Security-Token missing")
	}
	f.checkSignature(r, body)
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		t.Errorf("%s: the body is not a JSON object: %v", op, err)
	}
	f.mu.Lock()
	f.calls = append(f.calls, op)
	f.mu.Unlock()
	status, header, resp := f.reply(op, body)
	for k, vs := range header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, resp)
}

// checkSignature recomputes the SigV4 signature over what arrived and compares, after checking
// the credential scope names the service and region.
func (f *fakeService) checkSignature(r *http.Request, body []byte) {
	t := f.t
	auth := r.Header.Get("Authorization")
	scope := "Credential=" + testCreds.AccessKeyID + "/" + signedAt.Format("20060102") + "/" + f.region + "/partnercentral-selling/aws4_request"
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, scope) {
		t.Errorf("Authorization %q lacks %q", auth, scope)
		return
	}
	_, signed, _ := strings.Cut(auth, "SignedHeaders=")
	signed, _, _ = strings.Cut(signed, ",")
	for _, h := range []string{"content-type", "host", "x-amz-date", "x-amz-target"} {
		if !strings.Contains(";"+signed+";", ";"+h+";") {
			t.Errorf("SignedHeaders %q lacks %s", signed, h)
		}
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		t.Errorf("X-Amz-Date: %v", err)
		return
	}
	again, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "content-length" {
			again.Header.Set(h, r.Header.Get(h))
		}
	}
	again.Header.Del("Authorization")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, again, hex.EncodeToString(sum[:]), "partnercentral-selling", f.region, when); err != nil {
		t.Errorf("re-signing: %v", err)
		return
	}
	if got := again.Header.Get("Authorization"); got != auth {
		t.Errorf("signature does not verify:\n got  %s\n want %s", auth, got)
	}
}

func (f *fakeService) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// noSleep records backoff waits instead of sleeping.
type noSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (n *noSleep) sleep(ctx context.Context, d time.Duration) error {
	n.mu.Lock()
	n.waits = append(n.waits, d)
	n.mu.Unlock()
	return ctx.Err()
}

func testOptions(sl *noSleep) Option {
	return func(o *Options) {
		o.now = func() time.Time { return signedAt }
		o.jitter = func() float64 { return 0.5 }
		if sl != nil {
			o.sleep = sl.sleep
		}
	}
}

func newTestClient(f *fakeService, opts ...Option) *Client {
	cfg := aws.Config{
		Region: "us-west-2", // the ACE buckets' region: the client must not use it
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
			testCreds.AccessKeyID, testCreds.SecretAccessKey, testCreds.SessionToken)),
	}
	return New(cfg, append([]Option{WithEndpoint(f.srv.URL), WithHTTPClient(f.srv.Client())}, opts...)...)
}

func TestDefaultEndpointAndRegion(t *testing.T) {
	c := New(aws.Config{Region: "us-west-2"})
	if got, want := c.endpoint(), "https://partnercentral-selling.us-east-1.api.aws/"; got != want {
		t.Errorf("endpoint %s, want %s", got, want)
	}
	c = New(aws.Config{}, WithRegion("eu-west-1"), WithEndpoint("http://127.0.0.1:1234/"))
	if got, want := c.endpoint(), "http://127.0.0.1:1234/"; got != want || c.Options().Region != "eu-west-1" {
		t.Errorf("endpoint %s region %s", got, c.Options().Region)
	}
}

func TestCreateOpportunityWireFormat(t *testing.T) {
	historyAt := time.Date(2026, 11, 30, 9, 30, 0, 250_000_000, time.FixedZone("PST", -8*3600))
	in := &CreateOpportunityInput{
		Catalog:                      aws.String("Sandbox"),
		ClientToken:                  aws.String("oppsync-demo-crm-42"),
		PartnerOpportunityIdentifier: aws.String("crm-42"),
		OpportunityType:              OpportunityTypeNetNewBusiness,
		Origin:                       OpportunityOriginPartnerReferral,
		Customer: &Customer{Account: &Account{
			CompanyName: aws.String("Example Corp"),
			Industry:    IndustryAerospaceSatellite,
			WebsiteUrl:  aws.String("https://example.com"),
			Address:     &Address{CountryCode: CountryCodeUs, PostalCode: aws.String("98109"), StateOrRegion: aws.String("Washington")},
		}},
		Project: &Project{
			Title:                   aws.String("Migration"),
			DeliveryModels:          []DeliveryModel{DeliveryModelSaasOrPaas},
			CustomerBusinessProblem: aws.String("Needs to move off a data centre"),
			ExpectedCustomerSpend: []ExpectedCustomerSpend{{
				Amount: aws.String("1000"), CurrencyCode: CurrencyCodeUsd, Frequency: PaymentFrequencyMonthly, TargetCompany: aws.String("AWS"),
			}},
		},
		LifeCycle: &LifeCycle{
			Stage:            StageQualified,
			TargetCloseDate:  aws.String("2027-03-31"),
			NextStepsHistory: []NextStepsHistory{{Value: aws.String("Kick-off"), Time: &historyAt}},
		},
		Tags: []Tag{{Key: aws.String("source"), Value: aws.String("oppsync")}},
	}
	var sent []byte
	f := newFakeService(t, func(op string, body []byte) (int, http.Header, string) {
		if op != "CreateOpportunity" {
			t.Errorf("operation %s", op)
		}
		sent = body
		return 200, http.Header{"X-Amzn-Requestid": {"req-1"}},
			`{"Id":"O1234567","PartnerOpportunityIdentifier":"crm-42","LastModifiedDate":"2026-12-02T01:02:03.456Z"}`
	})
	out, err := newTestClient(f, testOptions(nil)).CreateOpportunity(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Id) != "O1234567" || aws.ToString(out.PartnerOpportunityIdentifier) != "crm-42" {
		t.Errorf("output %+v", out)
	}
	if want := time.Date(2026, 12, 2, 1, 2, 3, 456_000_000, time.UTC); out.LastModifiedDate == nil || !out.LastModifiedDate.Equal(want) {
		t.Errorf("LastModifiedDate %v, want %v", out.LastModifiedDate, want)
	}

	// The body uses the model's member names, nests as the model does, encodes the timestamp as
	// date-time in UTC (the DateTime shape's timestampFormat), and leaves unset members out.
	var wire map[string]any
	if err := json.Unmarshal(sent, &wire); err != nil {
		t.Fatal(err)
	}
	get := func(path ...any) any {
		var v any = wire
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				l, _ := v.([]any)
				if k >= len(l) {
					return nil
				}
				v = l[k]
			}
		}
		return v
	}
	for _, c := range []struct {
		path []any
		want any
	}{
		{[]any{"Catalog"}, "Sandbox"},
		{[]any{"ClientToken"}, "oppsync-demo-crm-42"},
		{[]any{"OpportunityType"}, "Net New Business"},
		{[]any{"Customer", "Account", "CompanyName"}, "Example Corp"},
		{[]any{"Customer", "Account", "Industry"}, "Aerospace"},
		{[]any{"Customer", "Account", "Address", "CountryCode"}, "US"},
		{[]any{"Project", "DeliveryModels", 0}, "SaaS or PaaS"},
		{[]any{"Project", "ExpectedCustomerSpend", 0, "Frequency"}, "Monthly"},
		{[]any{"LifeCycle", "Stage"}, "Qualified"},
		{[]any{"LifeCycle", "TargetCloseDate"}, "2027-03-31"},
		{[]any{"LifeCycle", "NextStepsHistory", 0, "Time"}, "2026-11-30T17:30:00.25Z"},
		{[]any{"Tags", 0, "Key"}, "source"},
	} {
		if got := get(c.path...); got != c.want {
			t.Errorf("%v = %#v, want %#v", c.path, got, c.want)
		}
	}
	for _, absent := range []string{"Marketing", "NationalSecurity", "SoftwareRevenue", "PrimaryNeedsFromAws", "OpportunityTeam"} {
		if _, ok := wire[absent]; ok {
			t.Errorf("unset member %s was sent", absent)
		}
	}
	if _, ok := get("Customer", "Account").(map[string]any)["Duns"]; ok {
		t.Error("unset nested member Duns was sent")
	}
	// And the body decodes back into the same input.
	var back CreateOpportunityInput
	if err := json.Unmarshal(sent, &back); err != nil {
		t.Fatal(err)
	}
	if !back.LifeCycle.NextStepsHistory[0].Time.Equal(historyAt) {
		t.Errorf("NextStepsHistory time %v, want %v", back.LifeCycle.NextStepsHistory[0].Time, historyAt)
	}
	back.LifeCycle.NextStepsHistory[0].Time, in.LifeCycle.NextStepsHistory[0].Time = nil, nil
	if !reflect.DeepEqual(&back, in) {
		t.Errorf("round trip differs:\n got  %+v\n want %+v", back, *in)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	const secret = "Jane Customer, jane@example.com"
	type check func(t *testing.T, err error)
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		check  check
	}{
		{"conflict with namespace", 409, nil, `{"__type":"com.amazonaws.partnercentralselling#ConflictException","message":"opportunity changed"}`,
			func(t *testing.T, err error) {
				var e *ConflictException
				if !errors.As(err, &e) || e.ErrorMessage() != "opportunity changed" {
					t.Fatalf("%T %v", err, err)
				}
			}},
		{"throttling from header with suffix", 429, http.Header{"X-Amzn-Errortype": {"ThrottlingException:http://internal.amazon.com/coral/"}}, `{"Message":"Rate exceeded"}`,
			func(t *testing.T, err error) {
				var e *ThrottlingException
				if !errors.As(err, &e) || e.ErrorMessage() != "Rate exceeded" {
					t.Fatalf("%T %v", err, err)
				}
			}},
		{"validation with field errors", 400, nil, `{"__type":"ValidationException","message":"Invalid input","Reason":"REQUEST_VALIDATION_FAILED",` +
			`"ErrorList":[{"FieldName":"Customer.Account.CompanyName","Message":"value 'Jane Customer, jane@example.com' is invalid","Code":"INVALID_STRING_FORMAT"},` +
			`{"FieldName":"Catalog","Message":"required","Code":"REQUIRED_FIELD_MISSING"}]}`,
			func(t *testing.T, err error) {
				var e *ValidationException
				if !errors.As(err, &e) {
					t.Fatalf("%T %v", err, err)
				}
				if e.Reason != ValidationExceptionReasonRequestValidationFailed || len(e.ErrorList) != 2 ||
					aws.ToString(e.ErrorList[1].FieldName) != "Catalog" || e.ErrorList[1].Code != ValidationExceptionErrorCodeRequiredFieldMissing {
					t.Fatalf("%+v", e)
				}
				for _, want := range []string{"REQUEST_VALIDATION_FAILED", "Customer.Account.CompanyName INVALID_STRING_FORMAT", "Catalog REQUIRED_FIELD_MISSING"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%q lacks %q", err.Error(), want)
					}
				}
			}},
		{"access denied with reason", 403, nil, `{"__type":"AccessDeniedException","Message":"not allowed","Reason":"INCOMPATIBLE_BENEFIT_AWS_PARTNER_STATE"}`,
			func(t *testing.T, err error) {
				var e *AccessDeniedException
				if !errors.As(err, &e) || e.Reason != AccessDeniedExceptionErrorCodeIncompatibleBenefitAwsPartnerState {
					t.Fatalf("%T %v", err, err)
				}
			}},
		{"not found", 404, nil, `{"__type":"ResourceNotFoundException","message":"no such opportunity"}`,
			func(t *testing.T, err error) {
				var e *ResourceNotFoundException
				if !errors.As(err, &e) {
					t.Fatalf("%T %v", err, err)
				}
			}},
		{"quota", 402, nil, `{"__type":"ServiceQuotaExceededException","message":"too many"}`,
			func(t *testing.T, err error) {
				var e *ServiceQuotaExceededException
				if !errors.As(err, &e) {
					t.Fatalf("%T %v", err, err)
				}
			}},
		{"internal", 500, nil, `{"__type":"InternalServerException","message":"oops"}`,
			func(t *testing.T, err error) {
				var e *InternalServerException
				if !errors.As(err, &e) || e.ErrorFault() != smithy.FaultServer {
					t.Fatalf("%T %v", err, err)
				}
			}},
		{"undeclared code", 403, nil, `{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}`,
			func(t *testing.T, err error) {
				var e *APIError
				if !errors.As(err, &e) || e.Code != "UnrecognizedClientException" || e.Fault != smithy.FaultClient {
					t.Fatalf("%T %v", err, err)
				}
			}},
		{"proxy page", 502, nil, `<html>Bad Gateway</html>`,
			func(t *testing.T, err error) {
				var e *APIError
				if !errors.As(err, &e) || e.Code != "" || e.Fault != smithy.FaultServer || !strings.Contains(err.Error(), "HTTP 502 Bad Gateway without an error code") {
					t.Fatalf("%T %v", err, err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeService(t, func(string, []byte) (int, http.Header, string) {
				h := http.Header{"X-Amzn-Requestid": {"req-" + tc.name}}
				for k, v := range tc.header {
					h[k] = v
				}
				return tc.status, h, tc.body
			})
			c := newTestClient(f, testOptions(&noSleep{}), WithThrottleRetries(1, 0, 0))
			_, err := c.UpdateOpportunity(context.Background(), &UpdateOpportunityInput{
				Catalog: aws.String("AWS"), Identifier: aws.String("O1"),
				Customer: &Customer{Account: &Account{CompanyName: aws.String(secret)}},
			})
			if err == nil {
				t.Fatal("no error")
			}
			tc.check(t, err)
			var api smithy.APIError
			if !errors.As(err, &api) {
				t.Fatalf("%T does not implement smithy.APIError", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "partnercentral-selling UpdateOpportunity: ") {
				t.Errorf("message %q does not name the service and operation", msg)
			}
			if api.ErrorCode() != "" && !strings.Contains(msg, api.ErrorCode()+": ") {
				t.Errorf("message %q does not name the code", msg)
			}
			if !strings.Contains(msg, "request id req-"+tc.name) || !strings.Contains(msg, "HTTP ") {
				t.Errorf("message %q lacks the status or request id", msg)
			}
			if strings.Contains(msg, "Jane") {
				t.Errorf("message %q carries record text", msg)
			}
			var meta interface{ metadata() *ErrorMetadata }
			if errors.As(err, &meta) && (meta.metadata().StatusCode != tc.status || meta.metadata().Operation != "UpdateOpportunity") {
				t.Errorf("metadata %+v", meta.metadata())
			}
		})
	}
}

func TestSanitizeErrorCode(t *testing.T) {
	for in, want := range map[string]string{
		"ConflictException": "ConflictException",
		"com.amazonaws.partnercentralselling#ConflictException":     "ConflictException",
		"ThrottlingException:http://internal.amazon.com/coral/x":    "ThrottlingException",
		"aws.protocoltests#FooError:http://internal.amazon.com/foo": "FooError",
		"": "",
	} {
		if got := sanitizeErrorCode(in); got != want {
			t.Errorf("sanitizeErrorCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestListOpportunitiesPaginatorThreePages(t *testing.T) {
	var tokens []string
	f := newFakeService(t, func(op string, body []byte) (int, http.Header, string) {
		var in ListOpportunitiesInput
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatal(err)
		}
		if aws.ToString(in.Catalog) != "AWS" || aws.ToInt32(in.MaxResults) != 2 {
			t.Errorf("page input %s", body)
		}
		tok := aws.ToString(in.NextToken)
		tokens = append(tokens, tok)
		switch tok {
		case "":
			return 200, nil, `{"OpportunitySummaries":[{"Id":"O1"},{"Id":"O2"}],"NextToken":"t1"}`
		case "t1":
			return 200, nil, `{"OpportunitySummaries":[{"Id":"O3"},{"Id":"O4"}],"NextToken":"t2"}`
		default:
			return 200, nil, `{"OpportunitySummaries":[{"Id":"O5","LastModifiedDate":"2026-12-01T00:00:00Z"}]}`
		}
	})
	c := newTestClient(f, testOptions(nil))
	p := NewListOpportunitiesPaginator(c, &ListOpportunitiesInput{Catalog: aws.String("AWS")}, func(o *ListOpportunitiesPaginatorOptions) { o.Limit = 2 })
	var ids []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range out.OpportunitySummaries {
			ids = append(ids, aws.ToString(s.Id))
		}
	}
	if pages != 3 || strings.Join(ids, ",") != "O1,O2,O3,O4,O5" || strings.Join(tokens, ",") != ",t1,t2" {
		t.Errorf("pages %d ids %v tokens %q", pages, ids, tokens)
	}
	if _, err := p.NextPage(context.Background()); err == nil {
		t.Error("NextPage after the last page did not fail")
	}
}

func TestPaginatorStopsOnRepeatedToken(t *testing.T) {
	f := newFakeService(t, func(string, []byte) (int, http.Header, string) {
		return 200, nil, `{"EngagementSummaryList":[],"NextToken":"same"}`
	})
	p := NewListEngagementsPaginator(newTestClient(f, testOptions(nil)), &ListEngagementsInput{Catalog: aws.String("AWS")})
	for n := 0; p.HasMorePages(); n++ {
		if n > 3 {
			t.Fatal("paginator loops on a repeated token")
		}
		if _, err := p.NextPage(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.callCount(); got != 2 {
		t.Errorf("%d calls, want 2 (the second returned the token it was sent)", got)
	}
}

func throttleThen(n int, final string) func(string, []byte) (int, http.Header, string) {
	var mu sync.Mutex
	calls := 0
	return func(string, []byte) (int, http.Header, string) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= n {
			return 429, nil, `{"__type":"ThrottlingException","message":"Rate exceeded"}`
		}
		return 200, nil, final
	}
}

func TestThrottlingIsRetriedWithBackoff(t *testing.T) {
	f := newFakeService(t, throttleThen(2, `{"Id":"O1","LastModifiedDate":"2026-12-02T00:00:00Z"}`))
	sl := &noSleep{}
	c := newTestClient(f, testOptions(sl), WithThrottleRetries(4, time.Second, 20*time.Second))
	out, err := c.UpdateOpportunity(context.Background(), &UpdateOpportunityInput{Catalog: aws.String("AWS"), Identifier: aws.String("O1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Id) != "O1" || f.callCount() != 3 {
		t.Errorf("id %s after %d calls", aws.ToString(out.Id), f.callCount())
	}
	// Jitter fixed at 0.5: each wait is 3/4 of its step (1s, 2s).
	if want := []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond}; !reflect.DeepEqual(sl.waits, want) {
		t.Errorf("waits %v, want %v", sl.waits, want)
	}
}

func TestThrottlingGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFakeService(t, throttleThen(100, `{}`))
	sl := &noSleep{}
	c := newTestClient(f, testOptions(sl), WithThrottleRetries(3, time.Second, 1500*time.Millisecond))
	_, err := c.SubmitOpportunity(context.Background(), &SubmitOpportunityInput{Catalog: aws.String("AWS"), Identifier: aws.String("O1")})
	var e *ThrottlingException
	if !errors.As(err, &e) {
		t.Fatalf("%T %v, want a ThrottlingException", err, err)
	}
	if f.callCount() != 3 || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("%d calls, error %q", f.callCount(), err)
	}
	// The second step (2s) is capped at 1.5s.
	if want := []time.Duration{750 * time.Millisecond, 1125 * time.Millisecond}; !reflect.DeepEqual(sl.waits, want) {
		t.Errorf("waits %v, want %v", sl.waits, want)
	}
}

func TestOtherErrorsAreNotRetried(t *testing.T) {
	f := newFakeService(t, func(string, []byte) (int, http.Header, string) {
		return 500, nil, `{"__type":"InternalServerException","message":"oops"}`
	})
	_, err := newTestClient(f, testOptions(&noSleep{})).GetOpportunity(context.Background(), &GetOpportunityInput{})
	if err == nil || f.callCount() != 1 {
		t.Errorf("%d calls, err %v: only throttling is retried (Temporal retries the activity)", f.callCount(), err)
	}
}

// cancelAfterResponse is a transport that cancels the caller's context once a response has
// arrived (its body buffered), so the client sees the response and then a cancelled context.
type cancelAfterResponse struct {
	next   http.RoundTripper
	cancel context.CancelFunc
}

func (c cancelAfterResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	c.cancel()
	return resp, nil
}

func TestContextCancelledDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFakeService(t, throttleThen(100, `{}`))
	hc := &http.Client{Transport: cancelAfterResponse{next: f.srv.Client().Transport, cancel: cancel}}
	// The real sleep, with a backoff long enough that only the context can end it.
	c := newTestClient(f, WithHTTPClient(hc), WithThrottleRetries(5, time.Hour, time.Hour))
	_, err := c.UpdateOpportunity(ctx, &UpdateOpportunityInput{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v, want context.Canceled", err)
	}
	var e *ThrottlingException
	if !errors.As(err, &e) || f.callCount() != 1 {
		t.Errorf("%d calls; the error %q should carry the last ThrottlingException", f.callCount(), err)
	}
}

func TestContextCancelledBeforeTheCall(t *testing.T) {
	f := newFakeService(t, throttleThen(0, `{}`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newTestClient(f).ListOpportunities(ctx, &ListOpportunitiesInput{})
	if !errors.Is(err, context.Canceled) || f.callCount() != 0 {
		t.Errorf("%d calls, err %v", f.callCount(), err)
	}
}

func TestNoCredentials(t *testing.T) {
	f := newFakeService(t, throttleThen(0, `{}`))
	c := New(aws.Config{}, WithEndpoint(f.srv.URL))
	_, err := c.GetOpportunity(context.Background(), &GetOpportunityInput{})
	if err == nil || !strings.Contains(err.Error(), "no credentials") || f.callCount() != 0 {
		t.Errorf("%d calls, err %v", f.callCount(), err)
	}
}
