package rules

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/oppsync/oppsync/ace"
)

// referralAnswerKeys are the only fields of a partner's answer to an AWS referral: ACE takes
// the acceptance or rejection (partnerAcceptanceStatus, rejectionReason) on its own, before
// the partner may see or send the rest of the opportunity (its PII is masked until then).
var referralAnswerKeys = []string{
	"apnCrmUniqueIdentifier", "partnerCrmUniqueIdentifier", "partnerAcceptanceStatus", "rejectionReason",
}

// isAnswer reports whether a record is only an answer to an AWS referral or lead: a value
// of status (partnerAcceptanceStatus, or currentLeadStage for a lead) and nothing but the
// answer's fields, keys (referralAnswerKeys or leadAnswerKeys).
func isAnswer(fields map[string]json.RawMessage, status string, keys []string) bool {
	if v, ok := fields[status]; !ok || ace.JSONKind(v) == "null" {
		return false
	}
	for k := range fields {
		if !slices.Contains(keys, k) {
			return false
		}
	}
	return true
}

// checkReferralAnswer checks an answer to an AWS referral: it names the referral by ACE id,
// its status is a standard value, and a rejection says why.
func (c *recordCheck) checkReferralAnswer() {
	if !c.present("apnCrmUniqueIdentifier") {
		c.add("apnCrmUniqueIdentifier", RuleMandatory, "apnCrmUniqueIdentifier is missing: an answer to an AWS referral must name the referral by its ACE id")
	}
	for _, name := range []string{"partnerAcceptanceStatus", "rejectionReason"} {
		if f := c.obj.Field(name); f != nil {
			if raw, ok := c.raw(name); ok {
				c.checkValue(f, raw)
			}
		}
	}
	if c.str("partnerAcceptanceStatus") == acceptanceRejected && !c.present("rejectionReason") {
		c.add("rejectionReason", RuleConditional, "rejectionReason is missing: it is mandatory when partnerAcceptanceStatus is Rejected")
	}
}

// leadAnswerKeys are the only fields of a partner's acceptance or rejection of an AWS lead.
// AWS's lead testing scenarios (custom-lead-sharing) send exactly the lead's ACE id and
// currentLeadStage, Accepted or Rejected; the lead's other fields (status, industry,
// country… mandatory in a whole lead) stay ACE's until the partner has accepted it.
// partnerCrmLeadId may come along to name the partner's record (ACE's result then names it).
var leadAnswerKeys = []string{"apnCrmUniqueIdentifier", "partnerCrmLeadId", "currentLeadStage"}

// checkLeadAnswer checks an acceptance or rejection of an AWS lead: it names the lead by
// ACE id and its currentLeadStage is a standard value.
func (c *recordCheck) checkLeadAnswer() {
	if !c.present("apnCrmUniqueIdentifier") {
		c.add("apnCrmUniqueIdentifier", RuleMandatory, "apnCrmUniqueIdentifier is missing: an acceptance or rejection of an AWS lead must name the lead by its ACE id")
	}
	for _, name := range leadAnswerKeys {
		if f := c.obj.Field(name); f != nil {
			if raw, ok := c.raw(name); ok {
				c.checkValue(f, raw)
			}
		}
	}
}

// InboundRecord builds the record ACE expects for one CRM record going to ACE, and validates
// it. record is the CRM's record (ACE's keys); previous is ACE's last version of it, nil for
// a record ACE never sent. Only the fields ACE takes on inbound go (InboundFields). An AWS
// referral the partner is accepting or rejecting now is sent as only that answer, its
// referralAnswerKeys; an AWS lead the same way, its leadAnswerKeys: the rest stays masked
// until ACE has the acceptance, and AWS's testing scenarios send exactly these fields.
//
// It returns the record's JSON, the names of its fields when it is such an answer (nil for
// a whole record), and every problem of the record (see Validate). The error says the CRM
// record is not a JSON object.
func InboundRecord(o ace.Object, record, previous json.RawMessage, opts Options) (json.RawMessage, []string, []Problem, error) {
	fields, err := ace.Fields(record)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the CRM record is not a JSON object: %w", err)
	}
	fields = InboundFields(o, fields)
	var sent []string
	keep := func(keys []string) {
		answer := map[string]json.RawMessage{}
		for _, k := range keys {
			if v, ok := fields[k]; ok {
				answer[k] = v
				sent = append(sent, k)
			}
		}
		fields = answer
	}
	switch {
	case o == ace.ObjectOpportunity && answers("partnerAcceptanceStatus", fields, previous):
		keep(referralAnswerKeys)
	case o == ace.ObjectLead && answers("currentLeadStage", fields, previous):
		keep(leadAnswerKeys)
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return nil, nil, nil, err // raw members of a decoded object always marshal
	}
	return body, sent, Validate(o, body, previous, opts), nil
}

// answers reports whether the partner is answering an AWS referral or lead now: field
// (partnerAcceptanceStatus, or currentLeadStage for a lead) moves from anything but
// Accepted in ACE's last version to Accepted or Rejected.
func answers(field string, fields map[string]json.RawMessage, previous json.RawMessage) bool {
	if previous == nil {
		return false
	}
	prev, err := ace.Fields(previous)
	if err != nil {
		return false
	}
	var was, now string
	_ = json.Unmarshal(prev[field], &was)
	_ = json.Unmarshal(fields[field], &now)
	return was != acceptanceAccepted && (now == acceptanceAccepted || now == acceptanceRejected)
}
