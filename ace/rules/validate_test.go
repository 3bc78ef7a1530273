package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
)

// testToday is "today" for the date rules in tests.
var testToday = time.Date(2026, 11, 27, 15, 4, 5, 0, time.UTC)

func testOpts() Options { return Options{Today: testToday} }

type wantProblem struct {
	record int
	field  string
	rule   Rule
}

func problemSet(ps []Problem) []wantProblem {
	out := make([]wantProblem, 0, len(ps))
	for _, p := range ps {
		out = append(out, wantProblem{p.Record, p.Field, p.Rule})
	}
	return out
}

func validateTestFile(t *testing.T, path string) *InboundReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ValidateInboundFile(path, b, testOpts())
	if err != nil {
		t.Fatalf("ValidateInboundFile(%s): %v", path, err)
	}
	return r
}

// TestValidateTestdata runs each file of testdata/validate, which breaks exactly one rule,
// and checks that exactly that rule is reported.
func TestValidateTestdata(t *testing.T) {
	tests := map[string][]wantProblem{
		"opportunity-valid.json":              nil,
		"opportunity-mandatory.json":          {{0, "partnerProjectTitle", RuleMandatory}},
		"opportunity-conditional.json":        {{0, "industryOther", RuleConditional}},
		"opportunity-picklist.json":           {{0, "stage", RulePicklist}},
		"opportunity-multiselect.json":        {{0, "deliveryModel", RuleMultiSelect}},
		"opportunity-array.json":              {{0, "awsProducts", RuleArray}},
		"opportunity-min-length.json":         {{0, "projectDescription", RuleMinLength}},
		"opportunity-max-length.json":         {{0, "parentOppId", RuleMaxLength}},
		"opportunity-range.json":              {{0, "expectedMonthlyAwsRevenue", RuleRange}},
		"opportunity-date-not-in-past.json":   {{0, "targetCloseDate", RuleDateNotInPast}},
		"opportunity-duns.json":               {{0, "customerDuns", RuleDUNS}},
		"opportunity-aws-account-id.json":     {{0, "awsAccountId", RuleAWSAccountID}},
		"opportunity-postal-code.json":        {{0, "postalCode", RulePostalCode}},
		"opportunity-natsec.json":             {{0, "doesOppBelongToNatSec", RuleNatSec}},
		"opportunity-marketing-activity.json": {{0, "marketingActivityChannel", RuleMarketingActivity}},
		"opportunity-co-sell.json":            {{0, "partnerPrimaryNeedFromAws", RuleCoSell}},
		"opportunity-solution-id.json":        {{0, "solutionOffered", RuleSolutionID}},
		"opportunity-stage-update.json":       {{0, "offers", RuleStageUpdate}},
		"opportunity-type.json":               {{0, "city", RuleType}},
		"opportunity-version.json":            {{-1, "", RuleVersion}},
		"opportunity-envelope.json":           {{-1, "", RuleEnvelope}},
		"opportunity-record-count.json":       {{-1, "", RuleRecordCount}},
		"opportunity-duplicate.json":          {{1, "partnerCrmUniqueIdentifier", RuleDuplicate}},
		"lead-valid.json":                     nil,
		"lead-mandatory.json":                 {{0, "currentLeadStage", RuleMandatory}},
		"lead-picklist.json":                  {{0, "status", RulePicklist}},
		"lead-read-only.json":                 {{0, "leadSource", RuleReadOnly}},
		"lead-max-length.json":                {{0, "city", RuleMaxLength}},
		"lead-postal-code.json":               {{0, "postalCode", RulePostalCode}},
		// An acceptance or rejection of an AWS lead in AWS's lead testing scenarios' form:
		// currentLeadStage and apnCrmUniqueIdentifier, nothing else.
		"lead-acceptance-valid.json": nil,
		"lead-rejection-valid.json":  nil,
		"opportunity-precision.json": {{0, "expectedMonthlyAwsRevenue", RulePrecision}},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "validate", "*.json"))
	if len(files) != len(tests) {
		t.Errorf("%d files in testdata/validate, %d in the table", len(files), len(tests))
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			r := validateTestFile(t, filepath.Join("testdata", "validate", name))
			got := problemSet(r.Problems)
			if fmt.Sprint(got) != fmt.Sprint(append([]wantProblem{}, want...)) {
				t.Errorf("problems = %v, want %v", r.Problems, want)
			}
			for _, p := range r.Problems {
				if p.Field != "" && !strings.Contains(p.Message, p.Field) {
					t.Errorf("message %q does not name field %s", p.Message, p.Field)
				}
			}
		})
	}
}

func TestValidatePicklistMessage(t *testing.T) {
	r := validateTestFile(t, filepath.Join("testdata", "validate", "opportunity-picklist.json"))
	want := `stage "Prospecting" is not a standard value; allowed: Prospect, Qualified, Technical Validation, ` +
		`Business Validation, Committed, Launched, Closed Lost`
	if len(r.Problems) != 1 || r.Problems[0].Message != want || r.Problems[0].RecordID != "CRM-OPP-0001" {
		t.Errorf("problems = %+v\nwant message %s", r.Problems, want)
	}
}

// TestValidateSamples pins what AWS's own inbound samples break. The opportunity sample's
// targetCloseDate (2022-09-24) is in the past and its solutionOffered "S-XXXXXXX" is a
// placeholder, not an S-0001234 id. The lead sample lacks currentLeadStage, which
// Leads-Fields.csv marks "Mandatory. Accepts only standard values". Its version "1.0", its
// "Leads" key and its "useCaseWorkLoad" spelling are not problems: ACE takes lead files in
// version 1.x, and OppSync accepts the sample's spellings (ace/FACTS.md, Quirks).
func TestValidateSamples(t *testing.T) {
	for name, want := range map[string][]wantProblem{
		"opportunity-inbound-create.json": {
			{0, "targetCloseDate", RuleDateNotInPast},
			{0, "solutionOffered", RuleSolutionID},
		},
		"lead-inbound-update.json": {
			{0, "currentLeadStage", RuleMandatory},
		},
	} {
		r := validateTestFile(t, filepath.Join("..", "testdata", "samples", name))
		if got := problemSet(r.Problems); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: problems = %v\nwant %v", name, r.Problems, want)
		}
	}
	r := validateTestFile(t, filepath.Join("..", "testdata", "samples", "lead-inbound-update.json"))
	if r.Object != ace.ObjectLead || r.RecordsKey != "Leads" || r.Version != "1.0" {
		t.Errorf("lead sample report = %+v", r)
	}
}

// TestValidateOpportunityRules covers rules and conditions record by record, against a valid
// opportunity built here.
func TestValidateOpportunityRules(t *testing.T) {
	base := readValidRecord(t, "opportunity-valid.json")
	if ps := ValidateOpportunity(marshal(t, base), nil, testOpts()); len(ps) != 0 {
		t.Fatalf("valid opportunity: %v", ps)
	}
	// An update of an ACE record: the previous version has ACE's id.
	prev := withFields(base, "apnCrmUniqueIdentifier", "O7654321", "stage", "Qualified", "status", "Approved")
	update := withFields(prev)
	delete(update, "status")
	type tc struct {
		name      string
		rec, prev map[string]any
		opts      func(*Options)
		want      []wantProblem
	}
	tests := []tc{
		{name: "valid update", rec: update, prev: prev},
		{name: "state for US", rec: withFields(base, "state", nil), want: []wantProblem{{0, "state", RuleConditional}}},
		{name: "state not needed for NatSec", rec: withFields(base, "state", nil, "doesOppBelongToNatSec", "Yes",
			"industry", "Government")},
		{name: "state outside US", rec: withFields(base, "country", "Germany", "postalCode", "10115"),
			want: []wantProblem{{0, "state", RuleConditional}}},
		{name: "NatSec website and company not mandatory", rec: withFields(base, "doesOppBelongToNatSec", "Yes",
			"industry", "Government", "customerWebsite", deleteField, "customerCompanyName", "")},
		{name: "website mandatory", rec: withFields(base, "customerWebsite", deleteField),
			want: []wantProblem{{0, "customerWebsite", RuleMandatory}}},
		{name: "NatSec no-support need", rec: withFields(base, "doesOppBelongToNatSec", "Yes", "industry", "Government",
			"partnerPrimaryNeedFromAws", "Do Not Need Support from AWS Sales Rep"),
			want: []wantProblem{{0, "partnerPrimaryNeedFromAws", RuleNatSec}}},
		{name: "marketing Yes needs MDF", rec: withFields(base, "IsOppFromMarketingActivity", "Yes"),
			want: []wantProblem{{0, "isMarketingDevelopmentFunded", RuleConditional}}},
		{name: "marketing Yes complete", rec: withFields(base, "IsOppFromMarketingActivity", "Yes",
			"isMarketingDevelopmentFunded", "No", "marketingActivityChannel", "Email;Social",
			"marketingActivityUsecase", "Analytics", "awsSFCampaignName", "Campaign-1")},
		{name: "marketing No all four", rec: withFields(base, "isMarketingDevelopmentFunded", "No",
			"awsSFCampaignName", "x", "marketingActivityUsecase", "Analytics", "marketingActivityChannel", nil),
			want: []wantProblem{{0, "awsSFCampaignName", RuleMarketingActivity},
				{0, "marketingActivityUsecase", RuleMarketingActivity},
				{0, "isMarketingDevelopmentFunded", RuleMarketingActivity}}},
		{name: "flat renewal needs parent", rec: withFields(base, "opportunityType", "Flat Renewal"),
			want: []wantProblem{{0, "parentOppId", RuleConditional}}},
		{name: "other solution", rec: withFields(base, "solutionOffered", []string{"Other"}),
			want: []wantProblem{{0, "otherSolutionOffered", RuleConditional}}},
		{name: "other solution at Committed", rec: withFields(update, "stage", "Committed", "solutionOffered",
			[]string{"Other"}, "otherSolutionOffered", "Custom build"), prev: prev,
			want: []wantProblem{{0, "solutionOffered", RuleSolutionID}}},
		{name: "closed lost needs reason", rec: withFields(update, "stage", "Closed Lost"), prev: prev,
			want: []wantProblem{{0, "closedLostReason", RuleConditional}}},
		{name: "closed lost with reason", rec: withFields(update, "stage", "Closed Lost", "closedLostReason", "Price"),
			prev: prev},
		{name: "competitive other", rec: withFields(base, "competitiveTracking", "*Other"),
			want: []wantProblem{{0, "competitiveTrackingOther", RuleConditional}}},
		{name: "competitive other unstarred", rec: withFields(base, "competitiveTracking", "Other",
			"competitiveTrackingOther", "x"), want: []wantProblem{{0, "competitiveTracking", RulePicklist}}},
		{name: "no postal code country", rec: withFields(base, "country", "Hong Kong", "state", nil, "postalCode", "999077"),
			want: []wantProblem{{0, "postalCode", RulePostalCode}}},
		{name: "no postal code needed", rec: withFields(base, "country", "Hong Kong", "state", nil, "postalCode", nil)},
		{name: "postal code mandatory", rec: withFields(base, "postalCode", ""),
			want: []wantProblem{{0, "postalCode", RuleMandatory}}},
		{name: "Canada postal code", rec: withFields(base, "country", "Canada", "state", nil, "postalCode", "98101"),
			want: []wantProblem{{0, "postalCode", RulePostalCode}}},
		{name: "picklist case", rec: withFields(base, "industry", "software & internet"),
			want: []wantProblem{{0, "industry", RulePicklist}}},
		{name: "multiselect unknown value", rec: withFields(base, "salesActivities", "Initialized discussions with customer;Demo"),
			want: []wantProblem{{0, "salesActivities", RuleMultiSelect}}},
		{name: "array of numbers", rec: withFields(base, "solutionOffered", []int{1}),
			want: []wantProblem{{0, "solutionOffered", RuleArray}}},
		{name: "revenue as string", rec: withFields(base, "expectedMonthlyAwsRevenue", "250")},
		{name: "revenue not a number", rec: withFields(base, "expectedMonthlyAwsRevenue", "lots"),
			want: []wantProblem{{0, "expectedMonthlyAwsRevenue", RuleType}}},
		{name: "negative revenue", rec: withFields(base, "expectedMonthlyAwsRevenue", -5),
			want: []wantProblem{{0, "expectedMonthlyAwsRevenue", RuleRange}}},
		{name: "date today", rec: withFields(base, "targetCloseDate", "2026-11-27")},
		{name: "date format", rec: withFields(base, "targetCloseDate", "27/11/2027"),
			want: []wantProblem{{0, "targetCloseDate", RuleType}}},
		{name: "past date once launched", rec: withFields(update, "stage", "Launched", "targetCloseDate", "2026-01-01"),
			prev: withFields(prev, "stage", "Launched", "targetCloseDate", "2026-01-01")},
		{name: "title after creation", rec: withFields(update, "partnerProjectTitle", "New title"), prev: prev,
			want: []wantProblem{{0, "partnerProjectTitle", RuleStageUpdate}}},
		{name: "title unchanged", rec: withFields(update, "partnerProjectTitle", base["partnerProjectTitle"]), prev: prev},
		{name: "after launched", rec: withFields(update, "stage", "Launched", "nextStep", "Go live"),
			prev: withFields(prev, "stage", "Launched"), want: []wantProblem{{0, "nextStep", RuleStageUpdate}}},
		{name: "action required", rec: withFields(update, "projectDescription", "A clearer description of the problem.",
			"nextStep", "Call"), prev: withFields(prev, "status", "Action Required"),
			want: []wantProblem{{0, "nextStep", RuleStageUpdate}}},
		{name: "ACE id needed on update", rec: withFields(update, "apnCrmUniqueIdentifier", nil), prev: prev,
			want: []wantProblem{{0, "apnCrmUniqueIdentifier", RuleConditional}}},
		{name: "stage at create", rec: withFields(base, "stage", "Prospect")},
		{name: "stage beyond Prospect at create", rec: withFields(base, "stage", "Qualified"),
			want: []wantProblem{{0, "stage", RuleStageUpdate}}},
		{name: "stage mandatory on update", rec: withFields(update, "stage", deleteField, "apnCrmUniqueIdentifier", "O1"),
			want: []wantProblem{{0, "stage", RuleMandatory}}},
		{name: "co-sell to no support", rec: withFields(update, "partnerPrimaryNeedFromAws",
			"Do Not Need Support from AWS Sales Rep"), prev: prev,
			want: []wantProblem{{0, "partnerPrimaryNeedFromAws", RuleCoSell}}},
		{name: "AWS referral acceptance", rec: withFields(update, "partnerAcceptanceStatus", "Rejected"),
			prev: withFields(prev, "opportunityOwnership", "AWS Referral"),
			want: []wantProblem{{0, "rejectionReason", RuleConditional}}},
		{name: "AWS referral accepted", rec: withFields(update, "partnerAcceptanceStatus", "Accepted"),
			prev: withFields(prev, "opportunityOwnership", "AWS Referral")},
		{name: "AWS referral needs acceptance", rec: update,
			prev: withFields(prev, "opportunityOwnership", "AWS Referral"),
			want: []wantProblem{{0, "partnerAcceptanceStatus", RuleConditional}}},
		{name: "consulting partner launch", rec: withFields(update, "stage", "Launched", "awsAccountId", nil), prev: prev,
			opts: func(o *Options) { o.ConsultingPartner = true },
			want: []wantProblem{{0, "awsAccountId", RuleConditional}}},
		{name: "special program launch", rec: withFields(update, "stage", "Launched", "contractStartDate", "2026-12-01",
			"contractEndDate", "2027-12-01", "customerSoftwareValue", 1000, "customerSoftwareValueCurrency", "USD"),
			prev: prev, opts: func(o *Options) { o.SpecialProgram = true },
			want: []wantProblem{{0, "procurementType", RuleConditional}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOpts()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			var prev json.RawMessage
			if tc.prev != nil {
				prev = marshal(t, tc.prev)
			}
			ps := ValidateOpportunity(marshal(t, tc.rec), prev, opts)
			if got := problemSet(ps); fmt.Sprint(got) != fmt.Sprint(append([]wantProblem{}, tc.want...)) {
				t.Errorf("problems = %v\nwant %v", ps, tc.want)
			}
		})
	}
}

func TestValidateLeadAlias(t *testing.T) {
	base := readValidRecord(t, "lead-valid.json")
	rec := withFields(base, "useCaseWorkload", deleteField, "useCaseWorkLoad", "Big Data;Cloud")
	ps := ValidateLead(marshal(t, rec), nil, testOpts())
	if got := problemSet(ps); fmt.Sprint(got) != fmt.Sprint([]wantProblem{{0, "useCaseWorkload", RuleMultiSelect}}) {
		t.Errorf("problems = %v", ps)
	}
}

func TestValidateInboundFileErrors(t *testing.T) {
	opp := `{"version":"2.0","spmsId":"s","opportunities":[]}`
	for _, tc := range []struct {
		key, body string
		want      string
	}{
		{"x.json", `[1]`, "want an object"},
		{"x.json", `{"version":`, "invalid JSON"},
		{"x.json", `{"version":"2.0","spmsId":"s"}`, `no "opportunities" or "leads"`},
		{"x.json", `{"version":"2.0","spmsId":"s","opportunities":[],"leads":[]}`, "both"},
		{"opportunity-outbound/x.json", opp, "folder ACE writes"},
		{"lead-inbound/x.json", opp, `no "leads" array but a "opportunities" one`},
		{"x.json", `{"version":"2.0","spmsId":"s","opportunities":{}}`, "want an array"},
	} {
		_, err := ValidateInboundFile(tc.key, []byte(tc.body), testOpts())
		var fe *ace.FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: err = %v, want *ace.FileError with %q", tc.key, tc.body, err, tc.want)
		}
	}
}

func TestValidateInboundFileLimits(t *testing.T) {
	rec := readValidRecord(t, "opportunity-valid.json")
	rec["additionalComments"] = strings.Repeat("x", ace.MaxInboundFileBytes)
	body := fmt.Sprintf(`{"version":"2.0","spmsId":"s","opportunities":[%s]}`, marshal(t, rec))
	r, err := ValidateInboundFile("opportunity-inbound/big.txt", []byte(body), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	want := []wantProblem{{-1, "", RuleFileName}, {-1, "", RuleFileSize}}
	if got := problemSet(r.Problems); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("problems = %v", r.Problems)
	}
	r, err = ValidateInboundFile("x.json", []byte(`{"version":"3.0","spmsId":7,"leads":[]}`), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	want = []wantProblem{{-1, "", RuleRecordCount}, {-1, "", RuleVersion}, {-1, "", RuleEnvelope}}
	if got := problemSet(r.Problems); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("problems = %v", r.Problems)
	}
}

func TestValidateInboundFilePrevious(t *testing.T) {
	rec := readValidRecord(t, "opportunity-valid.json")
	prev := withFields(rec, "apnCrmUniqueIdentifier", "O1", "stage", "Qualified")
	upd := withFields(prev, "partnerProjectTitle", "Renamed")
	body, err := ace.BuildInbound(ace.ObjectOpportunity, "spms", []json.RawMessage{marshal(t, upd)})
	if err != nil {
		t.Fatal(err)
	}
	opts := testOpts()
	opts.Previous = func(o ace.Object, id string) json.RawMessage {
		if o == ace.ObjectOpportunity && id == rec["partnerCrmUniqueIdentifier"] {
			return marshal(t, prev)
		}
		return nil
	}
	r, err := ValidateInboundFile("opportunity-inbound/u.json", body, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := problemSet(r.Problems); fmt.Sprint(got) != fmt.Sprint([]wantProblem{{0, "partnerProjectTitle", RuleStageUpdate}}) {
		t.Errorf("problems = %v", r.Problems)
	}
}

func readValidRecord(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "validate", name))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"opportunities", "leads"} {
		var recs []map[string]any
		if raw, ok := env[k]; ok {
			if err := json.Unmarshal(raw, &recs); err != nil {
				t.Fatal(err)
			}
			return recs[0]
		}
	}
	t.Fatal("no records")
	return nil
}

func marshal(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withFields(rec map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(rec))
	for k, v := range rec {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == deleteField {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

var deleteField = &struct{}{}
