package apimapping

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/oppsync/oppsync/ace"
)

func TestEmbeddedMappingLoads(t *testing.T) {
	tbl, err := load(dataFS)
	if err != nil {
		t.Fatal(err)
	}
	mapped := 0
	for _, f := range tbl.fields {
		if f.Source != SourceNone {
			mapped++
		}
	}
	t.Logf("%d fields, %d mapped, %d enums, %d translated values", len(tbl.fields), mapped, len(tbl.enums), countValues(tbl))
}

func countValues(t *table) int {
	n := 0
	for _, m := range t.toAPI {
		n += len(m)
	}
	return n
}

// sampleRecords reads AWS's outbound opportunity samples through package ace, as the
// outbound sync does.
func sampleRecords(t *testing.T) []map[string]any {
	t.Helper()
	const key = "opportunity-outbound/opportunity-outbound.json"
	body, err := os.ReadFile("../testdata/samples/opportunity-outbound.json")
	if err != nil {
		t.Fatal(err)
	}
	file, err := ace.ParseOutbound(key, body)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for _, r := range file.Records {
		var m map[string]any
		if err := json.Unmarshal(r.Raw, &m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	if len(recs) == 0 {
		t.Fatal("the sample has no records")
	}
	return recs
}

// TestSampleRoundTrip: AWS's outbound sample, S3 → API (GetOpportunity and
// GetAwsOpportunitySummary outputs) → S3, keeps every mapped field; the fields that do not
// map are reported, and only those.
func TestSampleRoundTrip(t *testing.T) {
	for _, rec := range sampleRecords(t) {
		opp, sum, issues := ToAPIOutputs(rec)
		back, backIssues := FromAPI(opp, sum)
		if len(backIssues) > 0 {
			t.Errorf("FromAPI: %v", backIssues)
		}
		for _, f := range Fields() {
			if f.Source == SourceNone {
				continue
			}
			want, got := rec[f.S3], back[f.S3]
			if empty(want) {
				want = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("field %s: sent %#v, came back %#v", f.S3, want, got)
			}
		}
		var reported []string
		for _, i := range issues {
			reported = append(reported, string(i.Kind)+" "+i.Field)
		}
		// The sample's fields that the API does not carry and that have a value
		// (partnerDeveloperManagerPhone, in the sample but not in AWS's table, is null).
		wantReported := []string{
			"unmapped acceptBy",
			"unmapped createdBy",
			"unmapped lastModifiedBy",
		}
		if !slices.Equal(reported, wantReported) {
			t.Errorf("issues %q, want %q", reported, wantReported)
		}
		mustConform(t, opp, shapeGet)
		mustConform(t, sum, shapeSummary)
	}
}

// TestSampleToUpdateBody: the sample (it has ACE's id) gives an UpdateOpportunity body
// whose members are all in the model's input, which carries every writable field back.
func TestSampleToUpdateBody(t *testing.T) {
	for _, rec := range sampleRecords(t) {
		body, issues := ToAPI(rec)
		if OperationFor(rec) != OpUpdate {
			t.Fatal("a record with apnCrmUniqueIdentifier must give an UpdateOpportunity body")
		}
		mustConform(t, body, shapeUpdate)
		if body["Identifier"] != rec["apnCrmUniqueIdentifier"] || body["PartnerOpportunityIdentifier"] != rec["partnerCrmUniqueIdentifier"] {
			t.Errorf("identifiers: body has %v and %v", body["Identifier"], body["PartnerOpportunityIdentifier"])
		}
		if body["LastModifiedDate"] != "2022-03-08T13:15:35Z" {
			t.Errorf("LastModifiedDate %v", body["LastModifiedDate"])
		}
		for _, i := range issues {
			if i.Kind == IssueInvalid || i.Kind == IssueMissing {
				t.Errorf("unexpected issue: %s", i)
			}
		}
		// The body read back as GetOpportunity output gives back every field UpdateOpportunity takes.
		asGet := map[string]any{}
		for k, v := range body {
			asGet[k] = v
		}
		asGet["Id"] = asGet["Identifier"]
		delete(asGet, "Identifier")
		back, _ := FromAPI(asGet, nil)
		for _, f := range Fields() {
			if !f.Writes(OpUpdate) {
				continue
			}
			want := rec[f.S3]
			if empty(want) {
				want = nil
			}
			if !reflect.DeepEqual(back[f.S3], want) {
				t.Errorf("field %s: sent %#v, came back %#v", f.S3, want, back[f.S3])
			}
		}
		if _, ok := back["aWSStage"]; ok {
			t.Error("a nil summary must contribute no fields")
		}
	}
}

// mustConform checks that every member of v is a member of the model's shape, recursively.
func mustConform(t *testing.T, v any, shape string) {
	t.Helper()
	m := loadModel(t)
	var walk func(v any, shape, at string)
	walk = func(v any, shape, at string) {
		sh, ok := m.Shapes[shape]
		if !ok {
			return // a prelude shape
		}
		switch sh.Type {
		case "structure":
			obj, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s: %s expects an object, got %s", at, strings.TrimPrefix(shape, ns), kind(v))
				return
			}
			for k, mv := range obj {
				mem, ok := sh.Members[k]
				if !ok {
					t.Errorf("%s.%s is not a member of %s", at, k, strings.TrimPrefix(shape, ns))
					continue
				}
				walk(mv, mem.Target, at+"."+k)
			}
		case "list":
			l, ok := v.([]any)
			if !ok {
				t.Errorf("%s: expects a list, got %s", at, kind(v))
				return
			}
			for _, e := range l {
				walk(e, sh.Member.Target, at+"[]")
			}
		case "enum":
			if s, _ := v.(string); !slices.Contains(enumValuesOrdered(t, shape), s) {
				t.Errorf("%s: %q is not a value of %s", at, s, strings.TrimPrefix(shape, ns))
			}
		}
	}
	walk(v, shape, strings.TrimPrefix(shape, ns))
}

func TestNameSplit(t *testing.T) {
	tests := []struct {
		s3          string
		first, last any
		back        string
	}{
		{"Jane Doe", "Jane", "Doe", "Jane Doe"},
		{"Mary Ann Smith", "Mary", "Ann Smith", "Mary Ann Smith"},
		{"Cher", "Cher", nil, "Cher"},
		{"  Jane   Doe ", "Jane", "Doe", "Jane Doe"},
	}
	for _, tt := range tests {
		body, issues := ToAPI(map[string]any{"opportunityOwnerName": tt.s3})
		if len(issues) > 0 {
			t.Fatalf("%q: %v", tt.s3, issues)
		}
		team, _ := body["OpportunityTeam"].([]any)
		if len(team) != 1 {
			t.Fatalf("%q: OpportunityTeam %#v", tt.s3, body["OpportunityTeam"])
		}
		owner := team[0].(map[string]any)
		if owner["BusinessTitle"] != "OpportunityOwner" || owner["FirstName"] != tt.first || owner["LastName"] != tt.last {
			t.Errorf("%q: owner %#v, want FirstName %v LastName %v", tt.s3, owner, tt.first, tt.last)
		}
		back, _ := FromAPI(body, nil)
		if back["opportunityOwnerName"] != tt.back {
			t.Errorf("%q: back %#v, want %q", tt.s3, back["opportunityOwnerName"], tt.back)
		}
	}
	// AWS's team, read from the summary: the names join with a space, whatever the order.
	sum := map[string]any{"OpportunityTeam": []any{
		map[string]any{"BusinessTitle": "PSM", "FirstName": "Pat", "LastName": "Lee", "Email": "pat@example.com"},
		map[string]any{"BusinessTitle": "AWSAccountOwner", "LastName": "Kim"},
	}}
	rec, _ := FromAPI(nil, sum)
	want := map[string]any{
		"aWSPartnerSuccessManagerName": "Pat Lee", "aWSPartnerSuccessManagerEmail": "pat@example.com",
		"aWSAccountOwnerName": "Kim", "aWSAccountOwnerEmail": nil, "aWSSalesRepName": nil,
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s: %#v, want %#v", k, rec[k], v)
		}
	}
}

func TestListPaths(t *testing.T) {
	rec := map[string]any{
		"customerEmail": "c@example.com", "customerFirstName": "Chris", "customerTitle": "CTO",
		"primaryContactEmail": "p@example.com", "opportunityOwnerEmail": "o@example.com",
		"expectedMonthlyAwsRevenue": 1234.5,
		"deliveryModel":             "SaaS or PaaS;Managed Services",
		"awsProducts":               []any{"AmazonRedshift", "AWSAppFabric"},
	}
	opp, _, issues := ToAPIOutputs(rec)
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	want := map[string]any{
		"Customer": map[string]any{"Contacts": []any{
			map[string]any{"Email": "c@example.com", "FirstName": "Chris", "BusinessTitle": "CTO"},
		}},
		"OpportunityTeam": []any{
			map[string]any{"BusinessTitle": "OpportunityOwner", "Email": "o@example.com"},
			map[string]any{"BusinessTitle": "PartnerAccountManager", "Email": "p@example.com"},
		},
		"Project": map[string]any{
			"ExpectedCustomerSpend": []any{map[string]any{
				"Amount": "1234.5", "CurrencyCode": "USD", "Frequency": "Monthly", "TargetCompany": "AWS",
			}},
			"DeliveryModels": []any{"SaaS or PaaS", "Managed Services"},
		},
		"RelatedEntityIdentifiers": map[string]any{"AwsProducts": []any{"AmazonRedshift", "AWSAppFabric"}},
	}
	if !reflect.DeepEqual(opp, want) {
		got, _ := json.MarshalIndent(opp, "", " ")
		t.Errorf("GetOpportunity shape:\n%s", got)
	}

	// Reading: the first contact and spend map; the rest is reported, never silently lost.
	opp["Customer"].(map[string]any)["Contacts"] = append(opp["Customer"].(map[string]any)["Contacts"].([]any),
		map[string]any{"Email": "second@example.com"})
	opp["Project"].(map[string]any)["ExpectedCustomerSpend"].([]any)[0].(map[string]any)["CurrencyCode"] = "EUR"
	back, issues := FromAPI(opp, nil)
	if back["customerEmail"] != "c@example.com" || back["expectedMonthlyAwsRevenue"] != 1234.5 || back["deliveryModel"] != "SaaS or PaaS;Managed Services" {
		t.Errorf("back: %v %v %v", back["customerEmail"], back["expectedMonthlyAwsRevenue"], back["deliveryModel"])
	}
	var got []string
	for _, i := range issues {
		got = append(got, i.String())
	}
	wantIssues := []string{
		"field customerEmail: API path Customer.Contacts has 2 elements; S3 carries the first only",
		"field expectedMonthlyAwsRevenue: API path Project.ExpectedCustomerSpend[0].CurrencyCode is not USD, which the S3 field implies; the amount is taken as is",
	}
	if !slices.Equal(got, wantIssues) {
		t.Errorf("issues:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantIssues, "\n"))
	}
}

func TestDates(t *testing.T) {
	tests := []struct {
		name    string
		rec     map[string]any
		path    []string
		want    any
		problem string // the issue's reason, if the value cannot go
	}{
		{"date", map[string]any{"targetCloseDate": "2025-09-24"}, []string{"LifeCycle", "TargetCloseDate"}, "2025-09-24", ""},
		{"timestamp where a date goes", map[string]any{"targetCloseDate": "2025-09-24T00:00:00Z"}, nil, nil,
			"field targetCloseDate: API path LifeCycle.TargetCloseDate expects a YYYY-MM-DD date, got a 20-character string"},
		{"S3 timestamp to date-time", map[string]any{"apnCrmUniqueIdentifier": "O1", "lastModifiedDate": "2022-03-08T13:15:35.000Z"},
			[]string{"LastModifiedDate"}, "2022-03-08T13:15:35Z", ""},
		{"sub-second precision kept", map[string]any{"apnCrmUniqueIdentifier": "O1", "lastModifiedDate": "2022-03-08T13:15:35.123456Z"},
			[]string{"LastModifiedDate"}, "2022-03-08T13:15:35.123456Z", ""},
		{"offset normalised to UTC", map[string]any{"apnCrmUniqueIdentifier": "O1", "lastModifiedDate": "2022-03-08T15:15:35+02:00"},
			[]string{"LastModifiedDate"}, "2022-03-08T13:15:35Z", ""},
		{"not a timestamp", map[string]any{"apnCrmUniqueIdentifier": "O1", "lastModifiedDate": "yesterday"}, nil, nil,
			"field lastModifiedDate: API path LastModifiedDate expects an ISO 8601 timestamp such as 2022-03-08T13:15:35.000Z, got a string of another form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, issues := ToAPI(tt.rec)
			if tt.problem != "" {
				if len(issues) == 0 || issues[0].String() != tt.problem {
					t.Fatalf("issues %v, want %q", issues, tt.problem)
				}
				return
			}
			if len(issues) > 0 {
				t.Fatal(issues)
			}
			got, _ := lookup(body, segs(tt.path...))
			if got != tt.want {
				t.Errorf("%v, want %v", got, tt.want)
			}
		})
	}

	fromAPI := []struct {
		api  any
		want any
	}{
		{"2022-03-08T13:15:35Z", "2022-03-08T13:15:35.000Z"},
		{"2022-03-08T13:15:35.1Z", "2022-03-08T13:15:35.100Z"},
		{"2022-03-08T13:15:35.123456Z", "2022-03-08T13:15:35.123456Z"},
		{float64(1646745335), "2022-03-08T13:15:35.000Z"}, // epoch seconds, awsJson1_0's default
		{json.Number("1646745335.5"), "2022-03-08T13:15:35.500Z"},
	}
	for _, tt := range fromAPI {
		rec, issues := FromAPI(map[string]any{"LastModifiedDate": tt.api}, nil)
		if len(issues) > 0 || rec["lastModifiedDate"] != tt.want {
			t.Errorf("FromAPI(%v): %v %v, want %v", tt.api, rec["lastModifiedDate"], issues, tt.want)
		}
	}
}

func segs(names ...string) []segment {
	var s []segment
	for _, n := range names {
		s = append(s, segment{name: n})
	}
	return s
}

func TestAmounts(t *testing.T) {
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{100.0, "100", true},
		{0.0, "0", true},
		{12.5, "12.5", true},
		{json.Number("12.50"), "12.5", true},
		{"99.99", "99.99", true},
		{12.345, "", false},
		{-1.0, "", false},
		{true, "", false},
	}
	for _, tt := range tests {
		body, issues := ToAPI(map[string]any{"customerSoftwareValue": tt.in})
		got, _ := lookup(body, segs("SoftwareRevenue", "Value", "Amount"))
		if tt.ok && (len(issues) > 0 || got != tt.want) {
			t.Errorf("%#v: %v %v, want %q", tt.in, got, issues, tt.want)
		}
		if !tt.ok && (len(issues) != 1 || issues[0].Kind != IssueInvalid || got != nil) {
			t.Errorf("%#v: %v %v, want one invalid issue", tt.in, got, issues)
		}
	}
}

func TestPicklistTranslation(t *testing.T) {
	rec := map[string]any{
		"industry": "Software & Internet", "country": "Germany", "IsOppFromMarketingActivity": "No",
		"closedLostReason": "Lost to Competitor – Google", "partnerPrimaryNeedFromAws": "Do Not Need Support from AWS Sales Rep",
		"useCase": "Migration / Database Migration", "stage": "Qualified",
	}
	body, issues := ToAPI(rec)
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	want := map[string]any{
		"Customer":            map[string]any{"Account": map[string]any{"Industry": "Software and Internet", "Address": map[string]any{"CountryCode": "DE"}}},
		"Marketing":           map[string]any{"Source": "None"},
		"LifeCycle":           map[string]any{"ClosedLostReason": "Lost to Competitor - Google", "Stage": "Qualified"},
		"PrimaryNeedsFromAws": []any{},
		"Project":             map[string]any{"CustomerUseCase": "Migration/Database Migration"},
	}
	if !reflect.DeepEqual(body, want) {
		got, _ := json.MarshalIndent(body, "", " ")
		t.Errorf("body:\n%s", got)
	}
	back, _ := FromAPI(body, nil)
	for k, v := range rec {
		if back[k] != v {
			t.Errorf("%s: back %#v, want %#v", k, back[k], v)
		}
	}
}

// TestIssues: unmapped, unknown and invalid fields are reported per field, clearly, and
// never with the record's values.
func TestIssues(t *testing.T) {
	const secret = "Acme Secret Project 42"
	rec := map[string]any{
		"contractVehicle":           secret,          // in AWS's table, not in the API
		"favouriteColour":           secret,          // in no table
		"industry":                  secret,          // not a value of the enum
		"country":                   secret,          // no ISO code
		"stage":                     42.0,            // wrong JSON type
		"targetCloseDate":           secret,          // not a date
		"expectedMonthlyAwsRevenue": secret,          // not an amount
		"opportunityOwnerEmail":     "o@example.com", // CreateOpportunity only
		"apnCrmUniqueIdentifier":    "O123",          // so: an update, without lastModifiedDate
		"nextStepHistory":           nil,             // null: nothing to report
		"subUseCase":                "",              // empty: nothing to report
	}
	_, issues := ToAPI(rec)
	var got []string
	for _, i := range issues {
		s := i.String()
		if strings.Contains(s, secret) || strings.Contains(s, "42") || strings.Contains(s, "o@example.com") {
			t.Errorf("issue carries a record value: %s", s)
		}
		got = append(got, s)
	}
	want := []string{
		"field contractVehicle: is not carried by the Selling API (#N/A in AWS's table); not sent",
		"field country: API path Customer.Account.Address.CountryCode expects one of the 249 values of CountryCode (US, AF, AX, AL, DZ, AS, AD, AO, …), got a value outside them",
		"field expectedMonthlyAwsRevenue: API path Project.ExpectedCustomerSpend[0].Amount expects a non-negative amount with at most two decimals, got a 22-character string",
		"field favouriteColour: is not in AWS's S3-to-Selling-API mapping table; not sent",
		"field industry: API path Customer.Account.Industry expects one of the 28 values of Industry (Aerospace, Agriculture, Automotive, Computers and Electronics, Consumer Goods, Education, Energy - Oil and Gas, Energy - Power and Utilities, …), got a value outside them",
		"field opportunityOwnerEmail: API path OpportunityTeam[BusinessTitle=OpportunityOwner].Email is not taken by UpdateOpportunity, only by CreateOpportunity; not sent",
		"field stage: API path LifeCycle.Stage expects a string, got a number",
		"field targetCloseDate: API path LifeCycle.TargetCloseDate expects a YYYY-MM-DD date, got a 22-character string",
		"field lastModifiedDate: API path LastModifiedDate is required by UpdateOpportunity (the update succeeds only if it matches AWS's); the record has none",
	}
	if !slices.Equal(got, want) {
		t.Errorf("issues:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCreateBody(t *testing.T) {
	rec := map[string]any{
		"partnerCrmUniqueIdentifier": "crm-1", "opportunityOwnership": "Partner Referral",
		"opportunityOwnerEmail": "o@example.com", "status": "Draft", "aWSStage": "Prospect",
		"createdDate": "2022-03-08T13:15:34.000Z",
	}
	if OperationFor(rec) != OpCreate {
		t.Fatal("a record without ACE's id must give a CreateOpportunity body")
	}
	body, issues := ToAPI(rec)
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	mustConform(t, body, shapeCreate)
	want := map[string]any{
		"PartnerOpportunityIdentifier": "crm-1", "Origin": "Partner Referral",
		"OpportunityTeam": []any{map[string]any{"BusinessTitle": "OpportunityOwner", "Email": "o@example.com"}},
	}
	if !reflect.DeepEqual(body, want) { // read-only status, aWSStage and createdDate stay out
		t.Errorf("body %#v", body)
	}
}
