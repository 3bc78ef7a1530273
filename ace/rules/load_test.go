package rules

import (
	"bytes"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestFieldTablesAreAWSFormat(t *testing.T) {
	// The copies must stay byte for byte AWS's files, whose formats differ: most start with
	// a BOM, some end lines with CRLF, PostalCodeValidations.csv has neither. The parser
	// must take each as it is.
	for _, tc := range []struct {
		name      string
		bom, crlf bool
	}{
		{fileOpportunityFields, true, true},
		{fileOpportunityValues, true, true},
		{fileNoPostalCode, true, true},
		{"MappingToS3Fields.csv", true, true},
		{fileLeadFields, true, false},
		{fileLeadValues, true, false},
		{filePostalFormats, false, false},
	} {
		b, err := fs.ReadFile(fieldTables, "fields/"+tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.HasPrefix(b, []byte("\uFEFF")); got != tc.bom {
			t.Errorf("%s: BOM %v, want %v", tc.name, got, tc.bom)
		}
		if got := bytes.Contains(b, []byte("\r\n")); got != tc.crlf {
			t.Errorf("%s: CRLF %v, want %v", tc.name, got, tc.crlf)
		}
	}
}

func TestLoadRulesOpportunity(t *testing.T) {
	r := Default()
	o := r.Opportunity
	if got := len(o.Order); got != 88 {
		t.Errorf("Opportunity-Fields.csv: %d fields, want 88 (README)", got)
	}
	if o.Order[0] != "doesOppBelongToNatSec" {
		t.Errorf("first field %q: BOM not stripped?", o.Order[0])
	}
	// "cosellConvertReason " has a trailing space in the table.
	if o.Field("cosellConvertReason") == nil {
		t.Error("cosellConvertReason not found (name not trimmed?)")
	}
	stage := o.Field("stage")
	wantStages := []string{"Prospect", "Qualified", "Technical Validation", "Business Validation", "Committed",
		"Launched", "Closed Lost"}
	if stage.Kind != KindPicklist || !slices.Equal(stage.Allowed, wantStages) || stage.Presence != PresenceMandatory {
		t.Errorf("stage = %+v", stage)
	}
	if stage.Create != "No" || stage.UpdateUntilLaunched != "Yes" || stage.UpdateAfterLaunched != "No" {
		t.Errorf("stage update columns = %q %q %q", stage.Create, stage.UpdateUntilLaunched, stage.UpdateAfterLaunched)
	}
	// The header " customerSoftwareValueCurrency" has a leading space.
	if cur := o.Field("customerSoftwareValueCurrency"); len(cur.Allowed) != 168 || cur.Allowed[0] != "USD" {
		t.Errorf("customerSoftwareValueCurrency: %d values", len(cur.Allowed))
	}
	if n := len(o.Field("country").Allowed); n != 251 {
		t.Errorf("country: %d values, want 251", n)
	}
	// A multi-line cell must not split a row: partnerPrimaryNeedFromAws's validation spans two lines.
	need := o.Field("partnerPrimaryNeedFromAws")
	if need.Kind != KindMultiSelect || !strings.Contains(need.Validation, "\n") || len(need.Allowed) != 9 {
		t.Errorf("partnerPrimaryNeedFromAws = %+v", need)
	}
	if f := o.Field("projectDescription"); f.MinLength != 20 {
		t.Errorf("projectDescription MinLength = %d, want 20", f.MinLength)
	}
	if f := o.Field("expectedMonthlyAwsRevenue"); f.Kind != KindNumber || f.Min == nil || *f.Min != 0 || f.MinInclusive {
		t.Errorf("expectedMonthlyAwsRevenue = %+v", f)
	}
	if f := o.Field("targetCloseDate"); f.Kind != KindDate || !f.NotInPast {
		t.Errorf("targetCloseDate = %+v", f)
	}
	if f := o.Field("parentOppId"); f.MaxLength != 20 {
		t.Errorf("parentOppId MaxLength = %d", f.MaxLength)
	}
	if f := o.Field("awsProducts"); f.Kind != KindArray {
		t.Errorf("awsProducts kind %q", f.Kind)
	}
	// "Yes | No" in the validation column gives the values when the standard-values table has none.
	if f := o.Field("IsOppFromMarketingActivity"); !slices.Equal(f.Allowed, []string{"Yes", "No"}) {
		t.Errorf("IsOppFromMarketingActivity allowed %q", f.Allowed)
	}
	if f := o.Field("industryOther"); f.Presence != PresenceConditional || f.Condition != "When Industry = Other" {
		t.Errorf("industryOther = %q %q", f.Presence, f.Condition)
	}
}

func TestLoadRulesLead(t *testing.T) {
	l := Default().Lead
	for field, n := range map[string]int{"industry": 37, "country": 249, "state": 163, "status": 4,
		"useCaseWorkload": 10, "currentLeadStage": 2} {
		f := l.Field(field)
		if f == nil || len(f.Allowed) != n {
			t.Errorf("lead %s: %+v, want %d values", field, f, n)
		}
	}
	// "Industry Vertical \n(required)" and "Country\n(required)" make the fields mandatory.
	for _, field := range []string{"industry", "country", "status", "currentLeadStage", "partnerCrmLeadId"} {
		if p := l.Field(field).Presence; p != PresenceMandatory {
			t.Errorf("lead %s presence %q, want Mandatory", field, p)
		}
	}
	if f := l.Field("useCaseWorkload"); f.Kind != KindMultiSelect {
		t.Errorf("useCaseWorkload kind %q", f.Kind)
	}
	// "Company", "Campaign Name" and "CampaignMemberStatus" are labels in the table.
	for _, field := range []string{"company", "campaignName", "campaignMemberStatus", "leadSource"} {
		if f := l.Field(field); f == nil || !f.ReadOnly || f.Presence != PresenceNA {
			t.Errorf("lead %s = %+v, want read-only outbound field", field, f)
		}
	}
	if f := l.Field("apnCrmUniqueIdentifier"); f.ReadOnly || f.MaxLength != 18 {
		t.Errorf("lead apnCrmUniqueIdentifier = %+v", f)
	}
	if f := l.Field("city"); f.MaxLength != 40 {
		t.Errorf("lead city MaxLength = %d", f.MaxLength)
	}
}

// TestConditionsCoverTable fails when a table swap brings a condition conditions.go
// does not implement: every conditionally mandatory field, and every mandatory field with an
// exception, needs an entry.
func TestConditionsCoverTable(t *testing.T) {
	o := Default().Opportunity
	for _, name := range o.Order {
		f := o.Fields[name]
		needs := f.Presence == PresenceConditional ||
			(f.Presence == PresenceMandatory && strings.TrimSpace(f.Condition) != "")
		if _, ok := opportunityRequirements[name]; needs && !ok {
			t.Errorf("%s is %s with condition %q but has no entry in opportunityRequirements", name, f.Presence, f.Condition)
		}
	}
	for name := range opportunityRequirements {
		if o.Field(name) == nil {
			t.Errorf("opportunityRequirements has %q, which the table does not list", name)
		}
	}
	for _, name := range []string{"doesOppBelongToNatSec", "industry", "partnerPrimaryNeedFromAws", "IsOppFromMarketingActivity",
		"solutionOffered", "competitiveTracking", "stage", "opportunityType", "country", "state", "customerDuns", "awsAccountId"} {
		if o.Field(name) == nil {
			t.Errorf("rules refer to %s, which the table does not list", name)
		}
	}
	if !slices.Contains(o.Field("competitiveTracking").Allowed, "*Other") {
		t.Error(`competitiveTracking has no "*Other"; update competitiveTrackingOther's condition`)
	}
	if !slices.Contains(o.Field("partnerPrimaryNeedFromAws").Allowed, needNoSupport) {
		t.Errorf("partnerPrimaryNeedFromAws has no %q", needNoSupport)
	}
}

func TestLoadRulesErrors(t *testing.T) {
	good := make(fstest.MapFS)
	entries, _ := fs.ReadDir(fieldTables, "fields")
	for _, e := range entries {
		b, _ := fs.ReadFile(fieldTables, "fields/"+e.Name())
		good[e.Name()] = &fstest.MapFile{Data: b}
	}
	if _, err := Load(good); err != nil {
		t.Fatalf("Load(copy) = %v", err)
	}
	missing := maps(good)
	delete(missing, fileLeadFields)
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), fileLeadFields) {
		t.Errorf("missing file: err = %v", err)
	}
	renamed := maps(good)
	renamed[fileOpportunityFields] = &fstest.MapFile{Data: bytes.Replace(good[fileOpportunityFields].Data,
		[]byte("Field Validation"), []byte("Validation"), 1)}
	if _, err := Load(renamed); err == nil || !strings.Contains(err.Error(), `"Field Validation"`) {
		t.Errorf("renamed column: err = %v", err)
	}
	// LF line endings and no BOM read the same.
	lf := maps(good)
	lf[fileOpportunityFields] = &fstest.MapFile{Data: bytes.ReplaceAll(bytes.TrimPrefix(
		good[fileOpportunityFields].Data, []byte("\uFEFF")), []byte("\r\n"), []byte("\n"))}
	r, err := Load(lf)
	if err != nil || len(r.Opportunity.Order) != 88 {
		t.Errorf("LF table: %v", err)
	}
}

func maps(m fstest.MapFS) fstest.MapFS {
	out := make(fstest.MapFS, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
