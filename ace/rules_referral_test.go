package ace

import (
	"encoding/json"
	"testing"
)

// A partner's answer to an AWS referral carries only the answer: the rest of the record is
// still masked, so the mandatory fields of a full opportunity do not apply.
func TestReferralAnswer(t *testing.T) {
	opts := ValidateOptions{}
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
