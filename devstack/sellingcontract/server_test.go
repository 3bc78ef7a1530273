package sellingcontract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/devstack/fakests"
)

func TestModelLoads(t *testing.T) {
	m, err := LoadModel()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Operations) != 42 {
		t.Errorf("%d operations, the model has 42", len(m.Operations))
	}
	for _, name := range Implemented() {
		if m.Operations[name] == nil {
			t.Errorf("implemented operation %s is not in the model", name)
		}
	}
	if op := m.Operations["CreateOpportunity"]; op.TokenMember != "ClientToken" || op.ReadOnly {
		t.Errorf("CreateOpportunity: token member %q, read-only %v", op.TokenMember, op.ReadOnly)
	}
	if s := m.Shapes["ThrottlingException"]; s.HTTPStatus != 429 {
		t.Errorf("ThrottlingException status %d, the model says 429", s.HTTPStatus)
	}
}

// The model's patterns are ECMA 262; the lengths written as patterns (which RE2 cannot
// express: lookaheads, repeat counts over 1000) become length checks and \u escapes are
// translated, so every pattern is checked. A model that brings one Go cannot compile
// (it would go unchecked) shows here.
func TestUncompiledPatterns(t *testing.T) {
	m, err := LoadModel()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.UncompiledPatterns {
		t.Log(p)
	}
	if got, want := len(m.UncompiledPatterns), 0; got != want {
		t.Errorf("%d patterns Go cannot compile, want %d", got, want)
	}
}

func TestWireProtocol(t *testing.T) {
	_, c := newServer(t)
	in := map[string]any{"Catalog": "Sandbox"}
	send := func(mutate func(*http.Request)) response {
		req := c.request("ListOpportunities", in)
		mutate(req)
		return c.do("ListOpportunities", req)
	}
	cases := []struct {
		name   string
		mutate func(*http.Request)
		typ    string
		status int
	}{
		{"no Authorization", func(r *http.Request) { r.Header.Del("Authorization") }, "MissingAuthenticationTokenException", 403},
		{"not SigV4", func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, "IncompleteSignatureException", 400},
		{"no X-Amz-Date", func(r *http.Request) { r.Header.Del("X-Amz-Date") }, "IncompleteSignatureException", 400},
		{"unknown target", func(r *http.Request) { r.Header.Set("X-Amz-Target", ServiceName+".Nope") }, "UnknownOperationException", 400},
		{"other service's target", func(r *http.Request) { r.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables") }, "UnknownOperationException", 400},
		{"wrong content type", func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }, "UnknownOperationException", 400},
		{"wrong path", func(r *http.Request) { r.URL.Path = "/ListOpportunities" }, "UnknownOperationException", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := send(tc.mutate)
			if r.status != tc.status || r.errType() != tc.typ {
				t.Fatalf("got %d %v, want %d %s", r.status, r.body, tc.status, tc.typ)
			}
			if r.header.Get("Content-Type") != contentType {
				t.Errorf("error Content-Type %q", r.header.Get("Content-Type"))
			}
		})
	}
	t.Run("scope names another service", func(t *testing.T) {
		other := *c
		other.service = "execute-api"
		r := other.call("ListOpportunities", in)
		if r.status != 403 || r.errType() != "InvalidSignatureException" || !strings.Contains(str(r.body["Message"]), SigningName) {
			t.Fatalf("got %d %v", r.status, r.body)
		}
	})
	t.Run("scope names another region", func(t *testing.T) {
		req := c.request("ListOpportunities", in)
		req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/"+DefaultRegion+"/", "/us-west-2/", 1))
		r := c.do("ListOpportunities", req)
		if r.status != 403 || r.errType() != "InvalidSignatureException" || !strings.Contains(str(r.body["Message"]), "region") {
			t.Fatalf("got %d %v", r.status, r.body)
		}
	})
	t.Run("signed request", func(t *testing.T) {
		r := c.ok("ListOpportunities", in)
		if _, ok := r["OpportunitySummaries"]; !ok {
			t.Fatalf("no OpportunitySummaries: %v", r)
		}
	})
}

func TestSignatureVerifiedWhenSecretKnown(t *testing.T) {
	resolver := func(akid string) (Principal, bool) {
		if akid == "AKIDPARTNER" {
			return Principal{AccountID: "111111111111", SecretAccessKey: "secret"}, true
		}
		return Principal{}, false
	}
	_, c := newServer(t, WithResolver(resolver))
	in := map[string]any{"Catalog": "AWS"}
	c.ok("ListOpportunities", in)

	wrong := *c
	wrong.creds.SecretAccessKey = "not-the-secret"
	wrong.refusedAs(t, "ListOpportunities", in, "InvalidSignatureException", 403)

	stranger := *c
	stranger.creds.AccessKeyID = "AKIDSTRANGER"
	stranger.refusedAs(t, "ListOpportunities", in, "UnrecognizedClientException", 403)

	// A body changed after signing no longer matches the signature.
	req := c.request("ListOpportunities", in)
	req.Body = io.NopCloser(strings.NewReader(`{"Catalog":"Sandbox"}`))
	req.ContentLength = int64(len(`{"Catalog":"Sandbox"}`))
	if r := c.do("ListOpportunities", req); r.errType() != "InvalidSignatureException" {
		t.Fatalf("tampered body: %d %v", r.status, r.body)
	}
}

func (c *client) refusedAs(t *testing.T, op string, in any, typ string, status int) {
	t.Helper()
	r := c.call(op, in)
	if r.status != status || r.errType() != typ {
		t.Fatalf("%s: got %d %v, want %d %s", op, r.status, r.body, status, typ)
	}
}

func TestAccountsFromFakeSTS(t *testing.T) {
	sts := fakests.New()
	sts.AddRole("arn:aws:iam::222222222222:role/oppsync-ace", "ext", fakests.Credentials{AccessKeyID: "AKIDROLE", SecretAccessKey: "rolesecret"})
	srv, c := newServer(t, WithResolver(FromSTS(sts)))
	c.creds.AccessKeyID, c.creds.SecretAccessKey = "AKIDROLE", "rolesecret"
	created := c.ok("CreateOpportunity", fullOpportunity("t1"))
	if _, err := srv.stored("222222222222", "Sandbox", str(created["Id"])); err != nil {
		t.Fatalf("the opportunity is not in the role's account: %v", err)
	}
	other := *c
	other.creds.AccessKeyID = "AKIDOTHER"
	other.refusedAs(t, "ListOpportunities", map[string]any{"Catalog": "Sandbox"}, "UnrecognizedClientException", 403)
}

func TestValidation(t *testing.T) {
	_, c := newServer(t)
	with := func(mutate func(map[string]any)) map[string]any {
		in := fullOpportunity("tok")
		mutate(in)
		return in
	}
	long := strings.Repeat("x", 65)
	ids := make([]any, 21)
	for i := range ids {
		ids[i] = fmt.Sprintf("O%d", i+1)
	}
	cases := []struct {
		name, op string
		in       map[string]any
		field    string
		code     string
	}{
		{"required member", "CreateOpportunity", with(func(m map[string]any) { delete(m, "ClientToken") }), "ClientToken", CodeRequiredFieldMissing},
		{"required nested member", "CreateOpportunity", with(func(m map[string]any) {
			delete(m["Customer"].(map[string]any)["Account"].(map[string]any), "CompanyName")
		}), "Customer.Account.CompanyName", CodeRequiredFieldMissing},
		{"null is absent", "CreateOpportunity", with(func(m map[string]any) { m["ClientToken"] = nil }), "ClientToken", CodeRequiredFieldMissing},
		{"enum value", "CreateOpportunity", with(func(m map[string]any) { m["OpportunityType"] = "Big Deal" }), "OpportunityType", CodeInvalidEnumValue},
		{"enum in a list", "CreateOpportunity", with(func(m map[string]any) {
			m["Project"].(map[string]any)["DeliveryModels"] = []any{"SaaS or PaaS", "Carrier pigeon"}
		}), "Project.DeliveryModels[1]", CodeInvalidEnumValue},
		{"pattern", "GetOpportunity", map[string]any{"Catalog": "AWS", "Identifier": "X123"}, "Identifier", CodeInvalidStringFormat},
		{"pattern as length", "CreateOpportunity", with(func(m map[string]any) { m["PartnerOpportunityIdentifier"] = long }), "PartnerOpportunityIdentifier", CodeInvalidStringFormat},
		{"pattern in a list item", "CreateOpportunity", with(func(m map[string]any) {
			m["Customer"].(map[string]any)["Contacts"].([]any)[0].(map[string]any)["Phone"] = "206-555-0100"
		}), "Customer.Contacts[0].Phone", CodeInvalidStringFormat},
		{"pattern with a lookahead", "CreateOpportunity", with(func(m map[string]any) {
			m["Customer"].(map[string]any)["Contacts"].([]any)[0].(map[string]any)["Email"] = "jane at example.com"
		}), "Customer.Contacts[0].Email", CodeInvalidStringFormat},
		{"length in a lookahead", "CreateOpportunity", with(func(m map[string]any) {
			m["Customer"].(map[string]any)["Contacts"].([]any)[0].(map[string]any)["Email"] = strings.Repeat("j", 70) + "@example.com"
		}), "Customer.Contacts[0].Email", CodeInvalidStringFormat},
		{"length over RE2's 1000", "CreateOpportunity", with(func(m map[string]any) {
			m["Project"].(map[string]any)["CustomerBusinessProblem"] = "too short"
		}), "Project.CustomerBusinessProblem", CodeInvalidStringFormat},
		{"\\u escapes", "RejectEngagementInvitation", map[string]any{"Catalog": "AWS", "Identifier": "engi-0123456789abc", "RejectionReason": "tab\tinside"}, "RejectionReason", CodeInvalidStringFormat},
		{"member pattern overrides target's", "CreateOpportunity", with(func(m map[string]any) {
			m["Customer"].(map[string]any)["Account"].(map[string]any)["CompanyName"] = strings.Repeat("c", 121)
		}), "Customer.Account.CompanyName", CodeInvalidStringFormat},
		{"list too long", "ListOpportunities", map[string]any{"Catalog": "AWS", "Identifier": ids}, "Identifier", CodeTooManyValues},
		{"list too short", "CreateOpportunity", with(func(m map[string]any) { m["Tags"] = []any{} }), "Tags", CodeNotEnoughValues},
		{"range", "ListOpportunities", map[string]any{"Catalog": "AWS", "MaxResults": 0}, "MaxResults", CodeValueOutOfRange},
		{"range above", "ListOpportunities", map[string]any{"Catalog": "AWS", "MaxResults": 101}, "MaxResults", CodeValueOutOfRange},
		{"required in a nested structure", "ListOpportunities", map[string]any{"Catalog": "AWS", "Sort": map[string]any{"SortBy": "Identifier"}}, "Sort.SortOrder", CodeRequiredFieldMissing},
		{"catalog", "ListOpportunities", map[string]any{"Catalog": "Production"}, "Catalog", CodeInvalidEnumValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.refused(tc.op, tc.in, "ValidationException", 400)
			if r.body["Reason"] != "REQUEST_VALIDATION_FAILED" {
				t.Errorf("Reason %v", r.body["Reason"])
			}
			if errs := r.fieldErrors(); !hasFieldError(errs, tc.field, tc.code) {
				t.Errorf("ErrorList %+v has no %s %s", errs, tc.field, tc.code)
			}
		})
	}
	t.Run("all errors at once", func(t *testing.T) {
		r := c.refused("CreateOpportunity", with(func(m map[string]any) { delete(m, "ClientToken"); delete(m, "Catalog"); m["OpportunityType"] = "?" }), "ValidationException", 400)
		if n := len(r.fieldErrors()); n != 3 {
			t.Errorf("%d errors, want 3: %+v", n, r.fieldErrors())
		}
	})
	t.Run("messages do not echo values", func(t *testing.T) {
		r := c.refused("CreateOpportunity", with(func(m map[string]any) {
			m["Customer"].(map[string]any)["Contacts"].([]any)[0].(map[string]any)["Phone"] = "secret-phone"
		}), "ValidationException", 400)
		raw, _ := json.Marshal(r.body)
		if bytes.Contains(raw, []byte("secret-phone")) {
			t.Errorf("the error echoes the value: %s", raw)
		}
	})
	for name, in := range map[string]map[string]any{
		"string for a structure":  with(func(m map[string]any) { m["Customer"] = "Example Corp" }),
		"string for an integer":   {"Catalog": "AWS", "MaxResults": "ten"},
		"fraction for an integer": {"Catalog": "AWS", "MaxResults": 1.5},
		"object for a list":       {"Catalog": "AWS", "Identifier": map[string]any{"a": 1}},
		"bad date-time":           {"Catalog": "AWS", "LastModifiedDate": map[string]any{"AfterLastModifiedDate": "yesterday"}},
		"epoch for a date-time":   {"Catalog": "AWS", "LastModifiedDate": map[string]any{"AfterLastModifiedDate": 1700000000}},
	} {
		t.Run("type mismatch: "+name, func(t *testing.T) {
			op := "ListOpportunities"
			if _, ok := in["ClientToken"]; ok {
				op = "CreateOpportunity"
			}
			c.refused(op, in, "SerializationException", 400)
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		req := c.request("ListOpportunities", nil)
		req.Body = io.NopCloser(strings.NewReader("{"))
		req.ContentLength = 1
		if r := c.do("ListOpportunities", req); r.errType() != "SerializationException" {
			t.Fatalf("got %d %v", r.status, r.body)
		}
	})
	t.Run("unknown members are ignored", func(t *testing.T) {
		c.ok("ListOpportunities", map[string]any{"Catalog": "AWS", "SomethingNew": map[string]any{"x": 1}})
	})
	t.Run("union sets exactly one member", func(t *testing.T) {
		// CreateEngagementInvitation is not implemented, but its input is validated.
		in := map[string]any{"Catalog": "Sandbox", "ClientToken": "t", "EngagementIdentifier": "eng-abcdefghijklmn",
			"Invitation": map[string]any{"Message": "hello", "Receiver": map[string]any{}, "Payload": map[string]any{}}}
		r := c.refused("CreateEngagementInvitation", in, "ValidationException", 400)
		if !hasFieldError(r.fieldErrors(), "Invitation.Receiver", CodeInvalidValue) || !hasFieldError(r.fieldErrors(), "Invitation.Payload", CodeInvalidValue) {
			t.Errorf("ErrorList %+v", r.fieldErrors())
		}
	})
}

// The length check of strings and maps has no string length trait to exercise in this
// model (its strings bound length with patterns); a tiny model does.
func TestStringAndMapLength(t *testing.T) {
	m, err := parseModel([]byte(`{"smithy":"2.0","shapes":{
		"x#In":{"type":"structure","members":{
			"Name":{"target":"x#Name"},
			"Labels":{"target":"x#Labels"}}},
		"x#Name":{"type":"string","traits":{"smithy.api#length":{"min":2,"max":3}}},
		"x#Labels":{"type":"map","key":{"target":"x#Name"},"value":{"target":"smithy.api#String"},"traits":{"smithy.api#length":{"max":1}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	errs, err := m.Check("x#In", map[string]any{"Name": "héllo", "Labels": map[string]any{"ab": "1", "cd": "2"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !hasFieldError(errs, "Name", CodeInvalidStringFormat) || !hasFieldError(errs, "Labels", CodeTooManyValues) || len(errs) != 2 {
		t.Errorf("errors %+v", errs)
	}
	if errs, _ := m.Check("x#In", map[string]any{"Name": "hé"}, false); len(errs) != 0 {
		t.Errorf("two code points are within length 2..3: %+v", errs)
	}
}

func TestCreateAndGet(t *testing.T) {
	_, c := newServer(t)
	in := fullOpportunity("create-1")
	in["LifeCycle"].(map[string]any)["ReviewStatus"] = "Approved" // the partner cannot set it
	created := c.ok("CreateOpportunity", in)
	id := str(created["Id"])
	if !strings.HasPrefix(id, "O") || created["PartnerOpportunityIdentifier"] != "crm-create-1" {
		t.Fatalf("created %v", created)
	}
	got := c.ok("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": id})
	lc := got["LifeCycle"].(map[string]any)
	if lc["ReviewStatus"] != ReviewPendingSubmission {
		t.Errorf("ReviewStatus %v, want Pending Submission", lc["ReviewStatus"])
	}
	if got["CreatedDate"] != got["LastModifiedDate"] || got["LastModifiedDate"] != created["LastModifiedDate"] {
		t.Errorf("dates: created %v, modified %v, create answered %v", got["CreatedDate"], got["LastModifiedDate"], created["LastModifiedDate"])
	}
	if arn := str(got["Arn"]); arn != "arn:aws:partnercentral:us-east-1:"+DefaultAccountID+":catalog/Sandbox/opportunity/"+id {
		t.Errorf("Arn %s", arn)
	}
	if got["Customer"].(map[string]any)["Contacts"].([]any)[0].(map[string]any)["Email"] != "jane@example.com" {
		t.Errorf("contacts %v", got["Customer"])
	}
	// Catalogs and accounts are apart.
	c.refused("GetOpportunity", map[string]any{"Catalog": "AWS", "Identifier": id}, "ResourceNotFoundException", 404)
	c.refused("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": "O1"}, "ResourceNotFoundException", 404)
	// AWS Referral is for the Sandbox only.
	aws := fullOpportunity("create-2")
	aws["Catalog"], aws["Origin"] = "AWS", "AWS Referral"
	r := c.refused("CreateOpportunity", aws, "ValidationException", 400)
	if r.body["Reason"] != "BUSINESS_VALIDATION_FAILED" || !hasFieldError(r.fieldErrors(), "Origin", CodeInvalidValue) {
		t.Errorf("got %v", r.body)
	}
}

func TestClientTokenIdempotency(t *testing.T) {
	srv, c := newServer(t)
	first := c.ok("CreateOpportunity", fullOpportunity("same-token"))
	again := c.ok("CreateOpportunity", fullOpportunity("same-token"))
	if first["Id"] != again["Id"] || first["LastModifiedDate"] != again["LastModifiedDate"] {
		t.Errorf("same token, same body: %v then %v", first, again)
	}
	changed := fullOpportunity("same-token")
	changed["PartnerOpportunityIdentifier"] = "crm-other"
	r := c.refused("CreateOpportunity", changed, "ConflictException", 409)
	if !strings.Contains(str(r.body["Message"]), "Conflicting client token") {
		t.Errorf("message %v", r.body["Message"])
	}
	other := c.ok("CreateOpportunity", fullOpportunity("other-token"))
	if other["Id"] == first["Id"] {
		t.Error("another token made the same opportunity")
	}
	// The token is per catalog.
	aws := fullOpportunity("same-token")
	aws["Catalog"] = "AWS"
	if c.ok("CreateOpportunity", aws)["Id"] == first["Id"] {
		t.Error("the AWS catalog answered the Sandbox's opportunity")
	}
	list := c.ok("ListOpportunities", map[string]any{"Catalog": "Sandbox"})
	if n := len(list["OpportunitySummaries"].([]any)); n != 2 {
		t.Errorf("%d opportunities in Sandbox, want 2", n)
	}
	if calls := srv.Calls()["CreateOpportunity"]; calls != 5 {
		t.Errorf("Calls: %d CreateOpportunity, want 5", calls)
	}
}

func TestOptimisticLocking(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv, c := newServer(t, WithClock(func() time.Time { return now }))
	created := c.ok("CreateOpportunity", fullOpportunity("lock"))
	id := str(created["Id"])
	update := fullOpportunity("lock")
	delete(update, "ClientToken")
	delete(update, "Origin")
	update["Identifier"] = id
	update["LastModifiedDate"] = created["LastModifiedDate"]
	update["LifeCycle"].(map[string]any)["Stage"] = "Qualified"
	delete(update, "Marketing")
	delete(update["Customer"].(map[string]any), "Contacts")
	updated := c.ok("UpdateOpportunity", update)
	if !(str(updated["LastModifiedDate"]) > str(created["LastModifiedDate"])) {
		t.Fatalf("LastModifiedDate did not move: %v then %v (the clock stands still; stamps must still increase)", created["LastModifiedDate"], updated["LastModifiedDate"])
	}
	got := c.ok("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": id})
	if got["LifeCycle"].(map[string]any)["Stage"] != "Qualified" || got["LifeCycle"].(map[string]any)["ReviewStatus"] != ReviewPendingSubmission {
		t.Errorf("LifeCycle %v", got["LifeCycle"])
	}
	if _, ok := got["Customer"].(map[string]any)["Contacts"]; ok {
		t.Error("an update without Contacts kept them; the whole payload replaces the opportunity")
	}
	if got["CreatedDate"] != created["LastModifiedDate"] {
		t.Errorf("CreatedDate changed: %v", got["CreatedDate"])
	}
	// The stale date is refused.
	c.refused("UpdateOpportunity", update, "ConflictException", 409)
	// So is a date older than an AWS-side change.
	update["LastModifiedDate"] = updated["LastModifiedDate"]
	if err := srv.UpdateOpportunityAsAWS("", "Sandbox", id, map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS calls the customer"}}); err != nil {
		t.Fatal(err)
	}
	c.refused("UpdateOpportunity", update, "ConflictException", 409)
	got = c.ok("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": id})
	update["LastModifiedDate"] = got["LastModifiedDate"]
	c.ok("UpdateOpportunity", update)
	update["Identifier"] = "O42"
	c.refused("UpdateOpportunity", update, "ResourceNotFoundException", 404)
}

func TestListPaginationAndFilters(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv, c := newServer(t, WithClock(func() time.Time { return now }))
	var ids []string
	for i := range 25 {
		in := fullOpportunity(fmt.Sprint("p", i))
		if i%5 == 0 {
			in["LifeCycle"].(map[string]any)["Stage"] = "Qualified"
		}
		ids = append(ids, str(c.ok("CreateOpportunity", in)["Id"]))
		now = now.Add(time.Minute)
	}
	collect := func(in map[string]any) []string {
		var got []string
		for pages := 0; ; pages++ {
			if pages > 30 {
				t.Fatal("pagination does not end")
			}
			out := c.ok("ListOpportunities", in)
			for _, s := range out["OpportunitySummaries"].([]any) {
				got = append(got, str(s.(map[string]any)["Id"]))
			}
			tok, ok := out["NextToken"]
			if !ok {
				return got
			}
			in["NextToken"] = tok
		}
	}
	all := collect(map[string]any{"Catalog": "Sandbox", "MaxResults": 10, "Sort": map[string]any{"SortBy": "Identifier", "SortOrder": "ASCENDING"}})
	if strings.Join(all, ",") != strings.Join(ids, ",") {
		t.Errorf("ascending by identifier, 10 a page:\n got %v\nwant %v", all, ids)
	}
	first := c.ok("ListOpportunities", map[string]any{"Catalog": "Sandbox"})
	if n := len(first["OpportunitySummaries"].([]any)); n != 20 {
		t.Errorf("default page size %d, want 20", n)
	}
	if newest := first["OpportunitySummaries"].([]any)[0].(map[string]any)["Id"]; newest != ids[24] {
		t.Errorf("default order is newest LastModifiedDate first: got %v", newest)
	}
	// AfterLastModifiedDate is "on or after".
	got := c.ok("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": ids[20]})
	since := collect(map[string]any{"Catalog": "Sandbox", "MaxResults": 2, "LastModifiedDate": map[string]any{"AfterLastModifiedDate": got["LastModifiedDate"]}})
	if len(since) != 5 {
		t.Errorf("on or after the 21st: %v", since)
	}
	// A change moves an opportunity into the window; pages already read are not repeated.
	in := map[string]any{"Catalog": "Sandbox", "MaxResults": 3, "LastModifiedDate": map[string]any{"AfterLastModifiedDate": got["LastModifiedDate"]}, "Sort": map[string]any{"SortBy": "LastModifiedDate", "SortOrder": "ASCENDING"}}
	page := c.ok("ListOpportunities", in)
	if err := srv.UpdateOpportunityAsAWS("", "Sandbox", ids[0], map[string]any{"LifeCycle": map[string]any{"NextSteps": "moved"}}); err != nil {
		t.Fatal(err)
	}
	in["NextToken"] = page["NextToken"]
	rest := collect(in)
	if len(rest) != 3 || rest[2] != ids[0] {
		t.Errorf("after the change: %v (want the last two of the window, then %s)", rest, ids[0])
	}
	if q := collect(map[string]any{"Catalog": "Sandbox", "LifeCycleStage": []any{"Qualified"}}); len(q) != 5 {
		t.Errorf("stage filter: %v", q)
	}
	if q := collect(map[string]any{"Catalog": "Sandbox", "Identifier": []any{ids[3], ids[7], "O9"}}); len(q) != 2 {
		t.Errorf("identifier filter: %v", q)
	}
	if q := collect(map[string]any{"Catalog": "Sandbox", "CustomerCompanyName": []any{"Other Corp"}}); len(q) != 0 {
		t.Errorf("company filter: %v", q)
	}
	r := c.refused("ListOpportunities", map[string]any{"Catalog": "Sandbox", "NextToken": "garbage"}, "ValidationException", 400)
	if !hasFieldError(r.fieldErrors(), "NextToken", CodeInvalidValue) {
		t.Errorf("bad token: %+v", r.fieldErrors())
	}
}

func TestThrottling(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv, c := newServer(t, WithClock(func() time.Time { return now }))
	srv.SetQuotas(DefaultReadsPerSecond, DefaultWritesPerSecond)
	list := map[string]any{"Catalog": "Sandbox"}
	// The clock stands still: no token comes back until it moves.
	for i := range DefaultReadsPerSecond {
		if r := c.call("ListOpportunities", list); r.status != 200 {
			t.Fatalf("read %d: %d %v", i+1, r.status, r.body)
		}
	}
	c.refused("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": "O1"}, "ThrottlingException", 429)
	c.ok("CreateOpportunity", fullOpportunity("w1"))
	c.refused("CreateOpportunity", fullOpportunity("w2"), "ThrottlingException", 429)
	// Another account has its own buckets.
	srv2, c2 := newServer(t, WithClock(func() time.Time { return now }), WithResolver(func(akid string) (Principal, bool) {
		return Principal{AccountID: "acct-" + akid}, true
	}))
	srv2.SetQuotas(DefaultReadsPerSecond, DefaultWritesPerSecond)
	c2.ok("CreateOpportunity", fullOpportunity("a"))
	other := *c2
	other.creds.AccessKeyID = "AKIDOTHER"
	other.ok("CreateOpportunity", fullOpportunity("b"))
	c2.refused("CreateOpportunity", fullOpportunity("c"), "ThrottlingException", 429)

	now = now.Add(time.Second)
	c.ok("CreateOpportunity", fullOpportunity("w2"))
	c.ok("ListOpportunities", list)
}

func TestAssociations(t *testing.T) {
	_, c := newServer(t)
	id := str(c.ok("CreateOpportunity", fullOpportunity("assoc"))["Id"])
	assoc := func(typ, ref string) map[string]any {
		return map[string]any{"Catalog": "Sandbox", "OpportunityIdentifier": id, "RelatedEntityType": typ, "RelatedEntityIdentifier": ref}
	}
	before := c.ok("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": id})
	c.ok("AssociateOpportunity", assoc("Solutions", "S-123"))
	c.ok("AssociateOpportunity", assoc("Solutions", "S-123"))
	c.ok("AssociateOpportunity", assoc("AwsProducts", "AmazonS3"))
	r := c.refused("AssociateOpportunity", assoc("Solutions", "not-a-solution"), "ValidationException", 400)
	if !hasFieldError(r.fieldErrors(), "RelatedEntityIdentifier", CodeInvalidStringFormat) {
		t.Errorf("ErrorList %+v", r.fieldErrors())
	}
	got := c.ok("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": id})
	rel := got["RelatedEntityIdentifiers"].(map[string]any)
	if fmt.Sprint(rel["Solutions"]) != "[S-123]" || fmt.Sprint(rel["AwsProducts"]) != "[AmazonS3]" {
		t.Errorf("RelatedEntityIdentifiers %v", rel)
	}
	if !(str(got["LastModifiedDate"]) > str(before["LastModifiedDate"])) {
		t.Error("an association did not move LastModifiedDate")
	}
	c.ok("DisassociateOpportunity", assoc("Solutions", "S-123"))
	c.refused("DisassociateOpportunity", assoc("Solutions", "S-123"), "ResourceNotFoundException", 404)
	got = c.ok("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": id})
	if _, ok := got["RelatedEntityIdentifiers"].(map[string]any)["Solutions"]; ok {
		t.Errorf("still associated: %v", got["RelatedEntityIdentifiers"])
	}
}

func TestSubmitAndApprove(t *testing.T) {
	srv, c := newServer(t)
	sparse := map[string]any{"Catalog": "Sandbox", "ClientToken": "sparse", "Customer": map[string]any{"Account": map[string]any{"CompanyName": "Sparse Inc"}}}
	sparseID := str(c.ok("CreateOpportunity", sparse)["Id"])
	start := func(id, token string) map[string]any {
		return map[string]any{"Catalog": "Sandbox", "ClientToken": token, "Identifier": id, "AwsSubmission": map[string]any{"InvolvementType": "Co-Sell", "Visibility": "Full"}}
	}
	r := c.refused("StartEngagementFromOpportunityTask", start(sparseID, "s0"), "ValidationException", 400)
	if r.body["Reason"] != "BUSINESS_VALIDATION_FAILED" || !hasFieldError(r.fieldErrors(), "Project.Title", CodeRequiredFieldMissing) {
		t.Errorf("incomplete opportunity submitted: %v", r.body)
	}
	id := str(c.ok("CreateOpportunity", fullOpportunity("submit"))["Id"])
	c.refused("GetAwsOpportunitySummary", map[string]any{"Catalog": "Sandbox", "RelatedOpportunityIdentifier": id}, "ResourceNotFoundException", 404)
	task := c.ok("StartEngagementFromOpportunityTask", start(id, "s1"))
	if task["TaskStatus"] != "IN_PROGRESS" || task["OpportunityId"] != id {
		t.Errorf("task %v", task)
	}
	if again := c.ok("StartEngagementFromOpportunityTask", start(id, "s1")); again["TaskId"] != task["TaskId"] {
		t.Errorf("same token answered another task: %v", again)
	}
	c.refused("StartEngagementFromOpportunityTask", start(id, "s2"), "ConflictException", 409)
	tasks := c.ok("ListEngagementFromOpportunityTasks", map[string]any{"Catalog": "Sandbox", "OpportunityIdentifier": []any{id}})
	list := tasks["TaskSummaries"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["TaskStatus"] != "COMPLETE" || list[0].(map[string]any)["TaskId"] != task["TaskId"] {
		t.Errorf("tasks %v", list)
	}
	got := c.ok("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": id})
	if got["LifeCycle"].(map[string]any)["ReviewStatus"] != ReviewSubmitted {
		t.Errorf("after submission: %v", got["LifeCycle"])
	}
	update := fullOpportunity("x")
	delete(update, "ClientToken")
	update["Identifier"], update["LastModifiedDate"] = id, got["LastModifiedDate"]
	r = c.refused("UpdateOpportunity", update, "ValidationException", 400)
	if !hasFieldError(r.fieldErrors(), "LifeCycle.ReviewStatus", CodeInvalidResourceState) {
		t.Errorf("update under review: %v", r.body)
	}
	if err := srv.ApproveOpportunity("", "Sandbox", id); err != nil {
		t.Fatal(err)
	}
	if err := srv.ApproveOpportunity("", "Sandbox", sparseID); err == nil {
		t.Error("approved an opportunity never submitted")
	}
	got = c.ok("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": id})
	if got["LifeCycle"].(map[string]any)["ReviewStatus"] != ReviewApproved {
		t.Errorf("after approval: %v", got["LifeCycle"])
	}
	sum := c.ok("GetAwsOpportunitySummary", map[string]any{"Catalog": "Sandbox", "RelatedOpportunityIdentifier": id})
	if sum["Origin"] != OriginPartnerReferral || sum["InvolvementType"] != "Co-Sell" || sum["RelatedOpportunityId"] != id {
		t.Errorf("summary %v", sum)
	}
	update["LastModifiedDate"] = got["LastModifiedDate"]
	c.ok("UpdateOpportunity", update)
}

func referral() Referral {
	opp := fullOpportunity("")
	for _, k := range []string{"Catalog", "ClientToken", "PartnerOpportunityIdentifier", "Origin"} {
		delete(opp, k)
	}
	return Referral{Catalog: "Sandbox", Opportunity: opp, SenderContacts: []map[string]any{{"Email": "rep@amazon.com", "FirstName": "Sam"}}}
}

func TestReferralAccepted(t *testing.T) {
	srv, c := newServer(t)
	invID, err := srv.CreateReferral(referral())
	if err != nil {
		t.Fatal(err)
	}
	list := c.ok("ListEngagementInvitations", map[string]any{"Catalog": "Sandbox", "ParticipantType": "RECEIVER", "Status": []any{"PENDING"}})
	sums := list["EngagementInvitationSummaries"].([]any)
	if len(sums) != 1 || sums[0].(map[string]any)["Id"] != invID {
		t.Fatalf("invitations %v", sums)
	}
	if sent := c.ok("ListEngagementInvitations", map[string]any{"Catalog": "Sandbox", "ParticipantType": "SENDER"}); len(sent["EngagementInvitationSummaries"].([]any)) != 0 {
		t.Errorf("the partner sent no invitation: %v", sent)
	}
	inv := c.ok("GetEngagementInvitation", map[string]any{"Catalog": "Sandbox", "Identifier": invID})
	raw, _ := json.Marshal(inv)
	if bytes.Contains(raw, []byte("jane@example.com")) || bytes.Contains(raw, []byte("Jane")) {
		t.Errorf("the invitation shows the customer's contact before acceptance: %s", raw)
	}
	if get(inv, "Payload", "OpportunityInvitation", "Customer", "CompanyName") != "Example Corp" || inv["SenderAwsAccountId"] != AWSAccountID {
		t.Errorf("invitation %s", raw)
	}
	// By ARN too.
	c.ok("GetEngagementInvitation", map[string]any{"Catalog": "Sandbox", "Identifier": inv["Arn"]})
	if n := len(c.ok("ListOpportunities", map[string]any{"Catalog": "Sandbox"})["OpportunitySummaries"].([]any)); n != 0 {
		t.Errorf("%d opportunities before acceptance", n)
	}

	accept := map[string]any{"Catalog": "Sandbox", "ClientToken": "accept-1", "Identifier": invID}
	task := c.ok("StartEngagementByAcceptingInvitationTask", accept)
	if task["TaskStatus"] != "IN_PROGRESS" || task["EngagementInvitationId"] != invID {
		t.Fatalf("task %v", task)
	}
	oppID := str(task["OpportunityId"])
	tasks := c.ok("ListEngagementByAcceptingInvitationTasks", map[string]any{"Catalog": "Sandbox", "EngagementInvitationIdentifier": []any{invID}})
	if l := tasks["TaskSummaries"].([]any); len(l) != 1 || l[0].(map[string]any)["TaskStatus"] != "COMPLETE" || l[0].(map[string]any)["OpportunityId"] != oppID {
		t.Errorf("tasks %v", l)
	}
	opp := c.ok("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": oppID})
	if get(opp, "Customer", "Contacts").([]any)[0].(map[string]any)["Email"] != "jane@example.com" {
		t.Errorf("the accepted opportunity has no contacts: %v", opp["Customer"])
	}
	sum := c.ok("GetAwsOpportunitySummary", map[string]any{"Catalog": "Sandbox", "RelatedOpportunityIdentifier": oppID})
	if sum["Origin"] != OriginAWSReferral || sum["RelatedOpportunityId"] != oppID {
		t.Errorf("summary %v", sum)
	}
	if st := c.ok("GetEngagementInvitation", map[string]any{"Catalog": "Sandbox", "Identifier": invID})["Status"]; st != "ACCEPTED" {
		t.Errorf("invitation status %v", st)
	}
	accept["ClientToken"] = "accept-2"
	c.refused("StartEngagementByAcceptingInvitationTask", accept, "ConflictException", 409)
	c.refused("RejectEngagementInvitation", map[string]any{"Catalog": "Sandbox", "Identifier": invID}, "ConflictException", 409)
	c.refused("GetEngagementInvitation", map[string]any{"Catalog": "AWS", "Identifier": invID}, "ResourceNotFoundException", 404)
}

func TestReferralRejectedAndExpired(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv, c := newServer(t, WithClock(func() time.Time { return now }))
	rejected, err := srv.CreateReferral(referral())
	if err != nil {
		t.Fatal(err)
	}
	c.ok("RejectEngagementInvitation", map[string]any{"Catalog": "Sandbox", "Identifier": rejected, "RejectionReason": "Customer problem unclear"})
	inv := c.ok("GetEngagementInvitation", map[string]any{"Catalog": "Sandbox", "Identifier": rejected})
	if inv["Status"] != "REJECTED" || inv["RejectionReason"] != "Customer problem unclear" {
		t.Errorf("rejected: %v", inv)
	}
	ref := referral()
	ref.Lifetime = time.Hour
	expiring, err := srv.CreateReferral(ref)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if st := c.ok("GetEngagementInvitation", map[string]any{"Catalog": "Sandbox", "Identifier": expiring})["Status"]; st != "EXPIRED" {
		t.Errorf("status after the expiration date: %v", st)
	}
	c.refused("StartEngagementByAcceptingInvitationTask", map[string]any{"Catalog": "Sandbox", "ClientToken": "late", "Identifier": expiring}, "ConflictException", 409)
	bad := referral()
	delete(bad.Opportunity["Customer"].(map[string]any)["Account"].(map[string]any), "CompanyName")
	if _, err := srv.CreateReferral(bad); err == nil || !strings.Contains(err.Error(), "CompanyName") {
		t.Errorf("a referral without a company name: %v", err)
	}
}

func TestUnimplementedOperation(t *testing.T) {
	_, c := newServer(t)
	c.refused("ListSolutions", map[string]any{"Catalog": "Sandbox"}, "UnsupportedOperationException", 400)
	c.refused("ListSolutions", map[string]any{}, "ValidationException", 400)
}

func TestAdminHTTP(t *testing.T) {
	_, c := newServer(t)
	post := func(path string, body any) (int, map[string]any) {
		raw, _ := json.Marshal(body)
		resp, err := http.Post(c.url+AdminPrefix+path, "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, out := post("referrals", referral())
	if status != 200 || !strings.HasPrefix(str(out["InvitationId"]), "engi-") {
		t.Fatalf("referral: %d %v", status, out)
	}
	id := str(c.ok("CreateOpportunity", fullOpportunity("admin"))["Id"])
	if status, out := post("opportunities/approve", map[string]any{"Catalog": "Sandbox", "Identifier": id}); status != 400 {
		t.Errorf("approving an unsubmitted opportunity: %d %v", status, out)
	}
	if status, out := post("opportunities/update", map[string]any{"Catalog": "Sandbox", "Identifier": "O9", "Patch": map[string]any{}}); status != 404 {
		t.Errorf("unknown opportunity: %d %v", status, out)
	}
	if status, out := post("opportunities/update", map[string]any{"Catalog": "Sandbox", "Identifier": id, "Patch": map[string]any{"LifeCycle": map[string]any{"Stage": "Launched"}}}); status != 200 {
		t.Errorf("update: %d %v", status, out)
	}
	if status, out := post("opportunities/update", map[string]any{"Catalog": "Sandbox", "Identifier": id, "Patch": map[string]any{"LifeCycle": map[string]any{"Stage": "Sold"}}}); status != 400 {
		t.Errorf("an update the model refuses: %d %v", status, out)
	}
	resp, err := http.Get(c.url + AdminPrefix + "calls")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var calls struct{ Calls map[string]int }
	_ = json.NewDecoder(resp.Body).Decode(&calls)
	if calls.Calls["CreateOpportunity"] != 1 {
		t.Errorf("calls %v", calls.Calls)
	}
}
