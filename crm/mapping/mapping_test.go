package mapping

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oppsync/oppsync/ace"
)

func TestDefaultsAreValid(t *testing.T) {
	for _, name := range CRMs {
		m := Default(name)
		if m == nil {
			t.Fatalf("Default(%q) = nil", name)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("Default(%q).Validate(): %v", name, err)
		}
		// Round trip through YAML.
		b, err := m.YAML()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: re-parse: %v\n%s", name, err, b)
		}
		if err := m2.Validate(); err != nil {
			t.Errorf("%s: re-parsed: %v", name, err)
		}
	}
	if Default("dynamics") != nil {
		t.Error("Default(dynamics) should be nil")
	}
	sf := Default("Salesforce")
	if got := sf.Objects[ace.ObjectOpportunity].ExternalID; got != "ACE_Opportunity_Id__c" {
		t.Errorf("salesforce opportunity externalId = %q", got)
	}
	if got := sf.Objects[ace.ObjectLead].ExternalID; got != "ACE_Lead_Id__c" {
		t.Errorf("salesforce lead externalId = %q", got)
	}
	if got := Default("hubspot").Objects[ace.ObjectOpportunity].ExternalID; got != "ace_opportunity_id" {
		t.Errorf("hubspot deal externalId = %q", got)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	doc := `
crm: salesforce
objects:
  opportunity:
    crmObject: Opportunity
    externalId: ACE_Opportunity_Id__c
    partnerId: Id
    lastModified: SystemModstamp
    fields:
      - {ace: partnerprojecttitle, crm: Name}
      - ace: stage
        crm: StageName
        values: {prospect: Prospecting, Qualified: Qualification}
      - {ace: customerCompanyName, crm: Name}
      - {ace: aWSStage, crm: ACE_AWS_Stage__c}
      - {ace: country, crm: X__c, type: picklist}
      - {ace: apnCrmUniqueIdentifier, crm: Y__c}
  account:
    crmObject: Account
`
	m, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	err = m.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v, want *ValidationError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`objects.account: unknown ACE object`,
		`objects.opportunity.raw is missing`,
		`objects.opportunity.aceLastModified is missing`,
		`"partnerprojecttitle" is not a opportunity field`,
		`did you mean "partnerProjectTitle"?`,
		`values key "prospect" is not one of ACE's standard values for stage; did you mean "Prospect"?`,
		`CRM field Name is used by both`,
		`ACE only writes aWSStage`,
		`type "picklist" is not valid`,
		`ACE's ids are not mapped as fields`,
		`mandatory ACE field targetCloseDate`,
		`mandatory ACE field partnerProjectTitle`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("Validate() does not report %q:\n%s", want, msg)
		}
	}
}

func TestParseRejectsUnknownKeys(t *testing.T) {
	_, err := Parse([]byte("crm: salesforce\nobjects:\n  opportunity:\n    externalID: X\n"))
	if err == nil || !strings.Contains(err.Error(), "externalID") {
		t.Fatalf("Parse with a misspelt key = %v, want an error naming it", err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(path, DefaultYAML("salesforce"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.CRM != "salesforce" {
		t.Errorf("CRM = %q", m.CRM)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func fields(t *testing.T, doc string) map[string]json.RawMessage {
	t.Helper()
	f, err := ace.Fields(json.RawMessage(doc))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestToCRMAndBack(t *testing.T) {
	m := Default("salesforce")
	in := fields(t, `{"apnCrmUniqueIdentifier":"O123","partnerCrmUniqueIdentifier":"006xx","stage":"Technical Validation",
		"partnerProjectTitle":"Big move","expectedMonthlyAwsRevenue":"1200.5","solutionOffered":["S-0000001","S-0000002"],
		"deliveryModel":"SaaS or PaaS;BYOL or AMI","targetCloseDate":"2026-12-31","lastModifiedDate":"2026-01-02T03:04:05.000Z",
		"aWSStage":"Qualified","someNewAceField":{"x":1},"customerWebsite":null}`)
	out, err := m.ToCRM(ace.ObjectOpportunity, in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"ACE_Opportunity_Id__c":               "O123",
		"StageName":                           "Needs Analysis",
		"Name":                                "Big move",
		"ACE_Expected_Monthly_AWS_Revenue__c": json.Number("1200.5"),
		"ACE_Solution_Offered__c":             "S-0000001;S-0000002",
		"ACE_Delivery_Model__c":               "SaaS or PaaS;BYOL or AMI",
		"CloseDate":                           "2026-12-31",
		"ACE_Last_Modified__c":                "2026-01-02T03:04:05.000Z",
		"ACE_AWS_Stage__c":                    "Qualified",
		"ACE_Customer_Website__c":             nil,
	}
	for k, v := range want {
		if got, ok := out[k]; !ok || got != v {
			t.Errorf("ToCRM[%s] = %#v (present %v), want %#v", k, got, ok, v)
		}
	}
	if _, ok := out["Id"]; ok {
		t.Error("ToCRM wrote the partner id field Id")
	}
	raw, _ := out["ACE_Raw__c"].(string)
	if !strings.Contains(raw, `"someNewAceField":{"x":1}`) {
		t.Errorf("raw does not keep the unmapped field: %s", raw)
	}

	// Back: a CRM record as Salesforce returns it, edited by the sales team.
	crmRec := map[string]any{}
	for k, v := range out {
		crmRec[k] = v
	}
	crmRec["Id"] = "006xx"
	crmRec["StageName"] = "Perception Analysis"                   // fromCRM
	crmRec["ACE_Expected_Monthly_AWS_Revenue__c"] = float64(1300) // JSON number from the API
	crmRec["ACE_AWS_Stage__c"] = "Launched"                       // outbound only: ignored
	back, err := m.FromCRM(ace.ObjectOpportunity, crmRec)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"apnCrmUniqueIdentifier":     `"O123"`,
		"partnerCrmUniqueIdentifier": `"006xx"`,
		"stage":                      `"Technical Validation"`,
		"expectedMonthlyAwsRevenue":  `1300`,
		"solutionOffered":            `["S-0000001","S-0000002"]`,
		"aWSStage":                   `"Qualified"`,
		"someNewAceField":            `{"x":1}`,
		"customerWebsite":            `null`,
		"targetCloseDate":            `"2026-12-31"`,
	}
	for k, want := range checks {
		if got := string(back[k]); got != want {
			t.Errorf("FromCRM[%s] = %s, want %s", k, got, want)
		}
	}
}

func TestValueMapsBothWays(t *testing.T) {
	m := Default("salesforce")
	for aceStage, sfStage := range m.Objects[ace.ObjectOpportunity].Fields[1].Values {
		out, err := m.ToCRM(ace.ObjectOpportunity, map[string]json.RawMessage{"stage": jsonString(aceStage)})
		if err != nil || out["StageName"] != sfStage {
			t.Errorf("stage %q → %v (%v), want %q", aceStage, out["StageName"], err, sfStage)
		}
		back, err := m.FromCRM(ace.ObjectOpportunity, map[string]any{"StageName": sfStage})
		if err != nil || string(back["stage"]) != string(jsonString(aceStage)) {
			t.Errorf("StageName %q → %s (%v), want %q", sfStage, back["stage"], err, aceStage)
		}
	}
}

func TestConversions(t *testing.T) {
	tests := []struct {
		name  string
		f     Field
		ace   string
		crm   any
		crmIn any    // what the CRM returns (defaults to crm)
		back  string // ACE JSON from crmIn
	}{
		{"text", Field{ACE: "x", CRM: "X"}, `"a"`, "a", nil, `"a"`},
		{"number from number", Field{Type: Number}, `12.5`, json.Number("12.5"), float64(12.5), `12.5`},
		{"number from hubspot string", Field{Type: Number}, `"7"`, json.Number("7"), "7", `7`},
		{"bool yes", Field{Type: Bool}, `"Yes"`, true, nil, `"Yes"`},
		{"bool no", Field{Type: Bool}, `"No"`, false, "false", `"No"`},
		{"date from epoch ms", Field{Type: Date}, `"2026-03-01"`, "2026-03-01", float64(1772323200000), `"2026-03-01"`},
		{"datetime salesforce form", Field{Type: DateTime}, `"2022-03-08T13:15:35.000Z"`, "2022-03-08T13:15:35.000Z", "2022-03-08T13:15:35.000+0000", `"2022-03-08T13:15:35.000Z"`},
		{"multi mapped per value", Field{Type: Multi, Values: map[string]string{"A": "a"}}, `"A;B"`, "a;B", nil, `"A;B"`},
		{"array", Field{Type: Array}, `["x","y"]`, "x;y", nil, `["x","y"]`},
		{"null clears", Field{}, `null`, nil, nil, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.f.toCRM(json.RawMessage(tt.ace))
			if err != nil || got != tt.crm {
				t.Fatalf("toCRM(%s) = %#v, %v; want %#v", tt.ace, got, err, tt.crm)
			}
			in := tt.crmIn
			if in == nil {
				in = tt.crm
			}
			back, err := tt.f.fromCRM(in)
			if err != nil || string(back) != tt.back {
				t.Fatalf("fromCRM(%#v) = %s, %v; want %s", in, back, err, tt.back)
			}
		})
	}
}

func TestToCRMReportsBadValues(t *testing.T) {
	m := Default("salesforce")
	_, err := m.ToCRM(ace.ObjectOpportunity, fields(t, `{"expectedMonthlyAwsRevenue":"lots","solutionOffered":{"a":1}}`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"expectedMonthlyAwsRevenue", "solutionOffered"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, err := m.ToCRM("account", nil); err == nil {
		t.Error("unknown object accepted")
	}
}

func TestReadFields(t *testing.T) {
	om := Default("salesforce").Objects[ace.ObjectOpportunity]
	got := om.ReadFields()
	seen := map[string]bool{}
	for _, f := range got {
		if seen[f] {
			t.Errorf("ReadFields repeats %s", f)
		}
		seen[f] = true
	}
	for _, f := range []string{"Id", "ACE_Opportunity_Id__c", "SystemModstamp", "LastModifiedById", "ACE_Raw__c", "StageName"} {
		if !seen[f] {
			t.Errorf("ReadFields misses %s", f)
		}
	}
}

// A value that cannot be converted is described by kind and length in the error, never
// quoted: the error becomes a quarantine reason and reaches history.
func TestConversionErrorsDoNotQuoteValues(t *testing.T) {
	const pii = "pat.smith@example.org"
	q := json.RawMessage(`"` + pii + `"`)
	for _, f := range []Field{{Type: Number}, {Type: Bool}, {Type: Array}, {Type: Date}} {
		if _, err := f.toCRM(q); err != nil && strings.Contains(err.Error(), pii) {
			t.Errorf("toCRM as %s: %v", f.Type, err)
		}
	}
	for _, f := range []Field{{Type: Number}, {Type: Bool}, {Type: Date}, {Type: DateTime}} {
		if _, err := f.fromCRM(pii); err != nil && strings.Contains(err.Error(), pii) {
			t.Errorf("fromCRM as %s: %v", f.Type, err)
		}
	}
	_, err := Default("salesforce").ToCRM(ace.ObjectOpportunity, map[string]json.RawMessage{
		"expectedMonthlyAwsRevenue": q, "solutionOffered": json.RawMessage(`{"email":"` + pii + `"}`)})
	if err == nil || strings.Contains(err.Error(), pii) || !strings.Contains(err.Error(), "21-byte string") {
		t.Errorf("ToCRM = %v: want the bad values described, not quoted", err)
	}
}
