package rules

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/oppsync/oppsync/ace"
)

// A partner's answer to an AWS referral carries only the answer: the rest of the record is
// still masked, so the mandatory fields of a full opportunity do not apply.
func TestReferralAnswer(t *testing.T) {
	opts := Options{}
	tests := []struct {
		name string
		rec  string
		want []Rule
	}{
		{"accept", `{"apnCrmUniqueIdentifier":"O1234567","partnerCrmUniqueIdentifier":"P-1","partnerAcceptanceStatus":"Accepted"}`, nil},
		{"reject with reason", `{"apnCrmUniqueIdentifier":"O1234567","partnerAcceptanceStatus":"Rejected","rejectionReason":"Customer problem unclear"}`, nil},
		{"reject without reason", `{"apnCrmUniqueIdentifier":"O1234567","partnerAcceptanceStatus":"Rejected"}`, []Rule{RuleConditional}},
		{"no ACE id", `{"partnerAcceptanceStatus":"Accepted"}`, []Rule{RuleMandatory}},
		{"bad status", `{"apnCrmUniqueIdentifier":"O1234567","partnerAcceptanceStatus":"Maybe"}`, []Rule{RulePicklist}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ValidateOpportunity(json.RawMessage(tt.rec), nil, opts)
			if len(got) != len(tt.want) {
				t.Fatalf("problems = %+v, want rules %v", got, tt.want)
			}
			for i, p := range got {
				if p.Rule != tt.want[i] {
					t.Errorf("problem %d = %+v, want rule %s", i, p, tt.want[i])
				}
			}
		})
	}
	// A record with more than the answer is validated as a whole opportunity.
	if got := ValidateOpportunity(json.RawMessage(`{"apnCrmUniqueIdentifier":"O1234567","partnerAcceptanceStatus":"Accepted","stage":"Prospect"}`), nil, opts); len(got) == 0 {
		t.Error("an answer with other fields was not validated as a full opportunity")
	}
}

// A partner's answer to an AWS lead carries only the answer, as AWS's lead testing scenarios
// send it: a whole lead's mandatory fields (status, partnerCrmLeadId, industry, country) do
// not apply; an answer still names the lead and uses a standard stage.
func TestLeadAnswer(t *testing.T) {
	tests := []struct {
		name string
		rec  string
		want []wantProblem
	}{
		{"accept", `{"currentLeadStage":"Accepted","apnCrmUniqueIdentifier":"L1234567"}`, nil},
		{"reject", `{"currentLeadStage":"Rejected","apnCrmUniqueIdentifier":"L1234567"}`, nil},
		{"with the partner's id", `{"currentLeadStage":"Accepted","apnCrmUniqueIdentifier":"L1234567","partnerCrmLeadId":"CRM-LEAD-1"}`, nil},
		{"no ACE id", `{"currentLeadStage":"Accepted"}`, []wantProblem{{0, "apnCrmUniqueIdentifier", RuleMandatory}}},
		{"bad stage", `{"currentLeadStage":"accepted","apnCrmUniqueIdentifier":"L1234567"}`, []wantProblem{{0, "currentLeadStage", RulePicklist}}},
		{"partner id too long", `{"currentLeadStage":"Accepted","apnCrmUniqueIdentifier":"L1234567","partnerCrmLeadId":"` + strings.Repeat("x", 19) + `"}`,
			[]wantProblem{{0, "partnerCrmLeadId", RuleMaxLength}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ValidateLead(json.RawMessage(tt.rec), nil, testOpts())
			if fmt.Sprint(problemSet(got)) != fmt.Sprint(append([]wantProblem{}, tt.want...)) {
				t.Errorf("problems = %v, want %v", got, tt.want)
			}
		})
	}
	// More than the answer is a whole lead, validated as one.
	got := ValidateLead(json.RawMessage(`{"currentLeadStage":"Accepted","apnCrmUniqueIdentifier":"L1234567","city":"Seattle"}`), nil, testOpts())
	var fields []string
	for _, p := range got {
		fields = append(fields, p.Field)
	}
	if want := "[status partnerCrmLeadId industry country]"; fmt.Sprint(fields) != want {
		t.Errorf("a lead with more than the answer: problems on %v, want %s", fields, want)
	}
	// The fixtures: AWS's acceptance and rejection as whole files.
	for _, name := range []string{"lead-acceptance-valid.json", "lead-rejection-valid.json"} {
		if r := validateTestFile(t, filepath.Join("testdata", "validate", name)); !r.OK() {
			t.Errorf("%s: %v", name, r.Problems)
		}
	}
}

func TestAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, field, rec, prev string
		want                   bool
	}{
		{"referral accepted now", "partnerAcceptanceStatus", `{"partnerAcceptanceStatus":"Accepted"}`, `{"partnerAcceptanceStatus":"Pending"}`, true},
		{"referral rejected now", "partnerAcceptanceStatus", `{"partnerAcceptanceStatus":"Rejected"}`, `{}`, true},
		{"already accepted in ACE", "partnerAcceptanceStatus", `{"partnerAcceptanceStatus":"Accepted"}`, `{"partnerAcceptanceStatus":"Accepted"}`, false},
		{"rejected after accepting is no answer", "partnerAcceptanceStatus", `{"partnerAcceptanceStatus":"Rejected"}`, `{"partnerAcceptanceStatus":"Accepted"}`, false},
		{"still pending", "partnerAcceptanceStatus", `{"partnerAcceptanceStatus":"Pending"}`, `{"partnerAcceptanceStatus":"Pending"}`, false},
		{"never from ACE", "partnerAcceptanceStatus", `{"partnerAcceptanceStatus":"Accepted"}`, ``, false},
		{"previous not an object", "partnerAcceptanceStatus", `{"partnerAcceptanceStatus":"Accepted"}`, `[1]`, false},
		{"lead accepted now", "currentLeadStage", `{"currentLeadStage":"Accepted"}`, `{"currentLeadStage":"Open"}`, true},
		{"lead in progress", "currentLeadStage", `{"currentLeadStage":"Contacted"}`, `{"currentLeadStage":"Open"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields, err := ace.Fields(json.RawMessage(tc.rec))
			if err != nil {
				t.Fatal(err)
			}
			var prev json.RawMessage
			if tc.prev != "" {
				prev = json.RawMessage(tc.prev)
			}
			if got := answers(tc.field, fields, prev); got != tc.want {
				t.Errorf("answers(%s, %s, %s) = %v, want %v", tc.field, tc.rec, tc.prev, got, tc.want)
			}
		})
	}
}

func TestInboundRecord(t *testing.T) {
	referral := `{"apnCrmUniqueIdentifier":"O1234567","partnerAcceptanceStatus":"Pending","opportunityOwnership":"AWS Referral","customerEmail":"Accept To View"}`
	lead := `{"apnCrmUniqueIdentifier":"L1234567","currentLeadStage":"Open","email":"Accept To View"}`
	for _, tc := range []struct {
		name     string
		o        ace.Object
		rec      string
		prev     string
		wantBody string
		wantSent []string
		problems bool
		wantErr  bool
	}{
		{name: "referral accepted: only the answer goes", o: ace.ObjectOpportunity,
			rec:      `{"apnCrmUniqueIdentifier":"O1234567","partnerCrmUniqueIdentifier":"P-1","partnerAcceptanceStatus":"Accepted","customerEmail":"Accept To View","stage":"Prospect"}`,
			prev:     referral,
			wantBody: `{"apnCrmUniqueIdentifier":"O1234567","partnerAcceptanceStatus":"Accepted","partnerCrmUniqueIdentifier":"P-1"}`,
			wantSent: []string{"apnCrmUniqueIdentifier", "partnerCrmUniqueIdentifier", "partnerAcceptanceStatus"}},
		{name: "referral rejected without a reason: the answer, with its problem", o: ace.ObjectOpportunity,
			rec:      `{"apnCrmUniqueIdentifier":"O1234567","partnerAcceptanceStatus":"Rejected"}`,
			prev:     referral,
			wantBody: `{"apnCrmUniqueIdentifier":"O1234567","partnerAcceptanceStatus":"Rejected"}`,
			wantSent: []string{"apnCrmUniqueIdentifier", "partnerAcceptanceStatus"}, problems: true},
		{name: "lead accepted: only the answer goes", o: ace.ObjectLead,
			rec:      `{"apnCrmUniqueIdentifier":"L1234567","partnerCrmLeadId":"CRM-LEAD-1","currentLeadStage":"Accepted","email":"Accept To View"}`,
			prev:     lead,
			wantBody: `{"apnCrmUniqueIdentifier":"L1234567","currentLeadStage":"Accepted","partnerCrmLeadId":"CRM-LEAD-1"}`,
			wantSent: []string{"apnCrmUniqueIdentifier", "partnerCrmLeadId", "currentLeadStage"}},
		{name: "a whole record: ACE's own fields left out, every problem", o: ace.ObjectOpportunity,
			rec:      `{"partnerCrmUniqueIdentifier":"P-2","lastModifiedDate":"2026-01-01T00:00:00.000Z","partnerProjectTitle":"x"}`,
			wantBody: `{"partnerCrmUniqueIdentifier":"P-2","partnerProjectTitle":"x"}`, problems: true},
		{name: "not an object", o: ace.ObjectLead, rec: `[1]`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prev json.RawMessage
			if tc.prev != "" {
				prev = json.RawMessage(tc.prev)
			}
			body, sent, problems, err := InboundRecord(tc.o, json.RawMessage(tc.rec), prev, testOpts())
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if string(body) != tc.wantBody {
				t.Errorf("body = %s\nwant   %s", body, tc.wantBody)
			}
			if !slices.Equal(sent, tc.wantSent) {
				t.Errorf("sent = %q, want %q", sent, tc.wantSent)
			}
			if (len(problems) > 0) != tc.problems {
				t.Errorf("problems = %v, want some: %v", problems, tc.problems)
			}
			if want := Validate(tc.o, body, prev, testOpts()); !reflect.DeepEqual(problems, want) {
				t.Errorf("problems = %v, want Validate's %v", problems, want)
			}
		})
	}
}

func TestValidateDispatch(t *testing.T) {
	rec := json.RawMessage(`{"partnerCrmLeadId":"L-1"}`)
	if got, want := Validate(ace.ObjectLead, rec, nil, testOpts()), ValidateLead(rec, nil, testOpts()); !reflect.DeepEqual(got, want) {
		t.Errorf("Validate(lead) = %v, want ValidateLead's %v", got, want)
	}
	rec = json.RawMessage(`{"partnerCrmUniqueIdentifier":"P-1"}`)
	if got, want := Validate(ace.ObjectOpportunity, rec, nil, testOpts()), ValidateOpportunity(rec, nil, testOpts()); !reflect.DeepEqual(got, want) || len(got) == 0 {
		t.Errorf("Validate(opportunity) = %v, want ValidateOpportunity's %v", got, want)
	}
}
