package sellingcontract

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"golang.org/x/time/rate"
)

// client is a plain awsJson1_0 client that signs with SigV4 and checks every response
// against the model: a success against the operation's output shape, an error against
// its error shape (strictly: no member the model does not have).
type client struct {
	t       testing.TB
	url     string
	srv     *Server
	creds   aws.Credentials
	service string
}

func newServer(t testing.TB, opts ...Option) (*Server, *client) {
	t.Helper()
	srv, err := New(append([]Option{WithQuotas(rate.Inf, rate.Inf)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	url, stop, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return srv, &client{t: t, url: url, srv: srv, creds: aws.Credentials{AccessKeyID: "AKIDPARTNER", SecretAccessKey: "secret"}, service: SigningName}
}

// response is one answered call.
type response struct {
	status int
	header http.Header
	body   map[string]any
}

func (r response) errType() string { s, _ := r.body["__type"].(string); return s }

func (r response) fieldErrors() []FieldError {
	raw, _ := json.Marshal(r.body["ErrorList"])
	var out []FieldError
	_ = json.Unmarshal(raw, &out)
	return out
}

func (c *client) request(op string, in any) *http.Request {
	c.t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, c.url+"/", bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", ServiceName+"."+op)
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), c.creds, req, hex.EncodeToString(sum[:]), c.service, DefaultRegion, time.Now()); err != nil {
		c.t.Fatal(err)
	}
	return req
}

func (c *client) call(op string, in any) response {
	c.t.Helper()
	return c.do(op, c.request(op, in))
}

func (c *client) do(op string, req *http.Request) response {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		c.t.Errorf("%s: response without X-Amzn-RequestId", op)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		c.t.Fatalf("%s: response %d is not a JSON object: %s", op, resp.StatusCode, raw)
	}
	c.checkResponse(op, resp.StatusCode, body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// frontEndErrors are the errors AWS's front end answers, which the model does not define.
var frontEndErrors = map[string]int{
	"MissingAuthenticationTokenException": 403, "IncompleteSignatureException": 400, "InvalidSignatureException": 403,
	"UnrecognizedClientException": 403, "UnknownOperationException": 0, "SerializationException": 400,
	"UnsupportedOperationException": 400,
}

func (c *client) checkResponse(op string, status int, body map[string]any) {
	c.t.Helper()
	o := c.srv.model.Operations[op]
	if status == http.StatusOK {
		if o == nil {
			c.t.Fatalf("%s: 200 for an unknown operation", op)
		}
		if o.Output == nil {
			if len(body) != 0 {
				c.t.Errorf("%s: output is Unit but the response is %v", op, body)
			}
			return
		}
		c.mustValid(op, o.Output.Name, body)
		return
	}
	typ, _ := body["__type"].(string)
	if want, ok := frontEndErrors[typ]; ok {
		if want != 0 && want != status {
			c.t.Errorf("%s: %s with status %d, want %d", op, typ, status, want)
		}
		return
	}
	es, ok := o.Errors[typ]
	if !ok {
		c.t.Fatalf("%s: error %q (%d) is not one the model lists for the operation: %v", op, typ, status, body)
	}
	if es.HTTPStatus != status {
		c.t.Errorf("%s: %s answered %d, the model's httpError is %d", op, typ, status, es.HTTPStatus)
	}
	doc := map[string]any{}
	for k, v := range body {
		if k != "__type" {
			doc[k] = v
		}
	}
	c.mustValid(op, typ, doc)
}

func (c *client) mustValid(op, shape string, doc map[string]any) {
	c.t.Helper()
	n, _ := normalize(doc)
	errs, err := c.srv.model.Check(shape, n, true)
	if err != nil || len(errs) > 0 {
		c.t.Errorf("%s: response is not a valid %s: %v %v\n%v", op, shape, err, errs, doc)
	}
}

// ok calls op and fails the test unless it succeeds.
func (c *client) ok(op string, in any) map[string]any {
	c.t.Helper()
	r := c.call(op, in)
	if r.status != http.StatusOK {
		c.t.Fatalf("%s: %d %v", op, r.status, r.body)
	}
	return r.body
}

// refused calls op and checks the error type and status.
func (c *client) refused(op string, in any, typ string, status int) response {
	c.t.Helper()
	r := c.call(op, in)
	if r.status != status || r.errType() != typ {
		c.t.Fatalf("%s: got %d %v, want %d %s", op, r.status, r.body, status, typ)
	}
	return r
}

// fullOpportunity is a CreateOpportunity request complete enough to be submitted.
func fullOpportunity(token string) map[string]any {
	return map[string]any{
		"Catalog":                      "Sandbox",
		"ClientToken":                  token,
		"PartnerOpportunityIdentifier": "crm-" + token,
		"OpportunityType":              "Net New Business",
		"Origin":                       "Partner Referral",
		"Customer": map[string]any{
			"Account": map[string]any{
				"CompanyName": "Example Corp",
				"Industry":    "Software and Internet",
				"WebsiteUrl":  "https://example.com",
				"Address":     map[string]any{"CountryCode": "US", "PostalCode": "98101"},
			},
			"Contacts": []any{map[string]any{"FirstName": "Jane", "LastName": "Doe", "Email": "jane@example.com", "Phone": "+12065550100"}},
		},
		"Project": map[string]any{
			"Title":                   "Data lake migration",
			"CustomerBusinessProblem": "The customer runs out of capacity on premises every quarter.",
			"DeliveryModels":          []any{"SaaS or PaaS"},
			"ExpectedCustomerSpend": []any{map[string]any{
				"Amount": "10000", "CurrencyCode": "USD", "Frequency": "Monthly", "TargetCompany": "AWS",
			}},
		},
		"LifeCycle": map[string]any{"Stage": "Prospect", "TargetCloseDate": "2030-06-30"},
	}
}

func str(v any) string { return fmt.Sprint(v) }

func hasFieldError(errs []FieldError, field, code string) bool {
	for _, e := range errs {
		if e.FieldName == field && e.Code == code {
			return true
		}
	}
	return false
}
