package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
)

// Rule is a stable code for the kind of rule a Problem breaks, for machines (reports, CRM
// error fields, tests) to match on. Messages may change; codes do not.
type Rule string

// Rule codes for records.
const (
	RuleMandatory         Rule = "mandatory"          // a mandatory field is missing, null or blank
	RuleConditional       Rule = "conditional"        // a conditionally mandatory field is missing, or a field is set where its condition forbids it
	RulePicklist          Rule = "picklist"           // not one of the standard values
	RuleMultiSelect       Rule = "multiselect"        // a ";"-separated value with spaces, blanks or non-standard values
	RuleArray             Rule = "array"              // not a JSON array of strings
	RuleMinLength         Rule = "min-length"         // shorter than the table's minimum
	RuleMaxLength         Rule = "max-length"         // longer than the table's length
	RuleRange             Rule = "range"              // a number out of range ("Greater than 0")
	RulePrecision         Rule = "precision"          // a currency with more digits or decimal places than Currency(digits,decimals) allows
	RuleDateNotInPast     Rule = "date-not-in-past"   // a date before today
	RuleDUNS              Rule = "duns"               // customerDuns is not 9 digits
	RuleAWSAccountID      Rule = "aws-account-id"     // awsAccountId is not 12 digits
	RulePostalCode        Rule = "postal-code"        // wrong format for the country, or given for a country without postal codes
	RuleNatSec            Rule = "natsec"             // national-security rules
	RuleMarketingActivity Rule = "marketing-activity" // marketing fields set while IsOppFromMarketingActivity is No
	RuleCoSell            Rule = "co-sell"            // co-sell needs mixed with, or changed to, "Do Not Need Support from AWS Sales Rep"
	RuleSolutionID        Rule = "solution-id"        // solutionOffered element is not S-0001234 (or Other before Committed)
	RuleStageUpdate       Rule = "stage-update"       // a field set or changed when the table says it may not be
	RuleReadOnly          Rule = "read-only"          // a lead field only ACE writes
	RuleDuplicate         Rule = "duplicate"          // two records of a file with the same partner id
	RuleType              Rule = "type"               // wrong JSON type, or a malformed date or number
)

// Rule codes for whole files (Problem.Record is -1).
const (
	RuleFileName    Rule = "file-name"    // key does not end in .json
	RuleFileSize    Rule = "file-size"    // over MaxInboundFileBytes
	RuleRecordCount Rule = "record-count" // no records, or more than MaxInboundRecords
	RuleVersion     Rule = "version"      // envelope version missing, malformed or unsupported
	RuleEnvelope    Rule = "envelope"     // spmsId missing or not a string
)

// Problem is one rule an inbound record or file breaks.
type Problem struct {
	// Record is the record's index in the file's records array, from 0; -1 for the file.
	Record int `json:"record"`
	// RecordID is the record's partner id (partnerCrmUniqueIdentifier or partnerCrmLeadId)
	// when it has one, so the problem can be written back to the CRM record.
	RecordID string `json:"recordId,omitempty"`
	// Field is the field's JSON key; empty for a problem with the record or file as a whole.
	Field string `json:"field,omitempty"`
	Rule  Rule   `json:"rule"`
	// Message names the field, the rule and what is allowed.
	Message string `json:"message"`
}

// String formats the problem for logs and the CLI.
func (p Problem) String() string {
	var b strings.Builder
	if p.Record >= 0 {
		fmt.Fprintf(&b, "record %d", p.Record)
		if p.RecordID != "" {
			fmt.Fprintf(&b, " (%q)", p.RecordID)
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	fmt.Fprintf(&b, "[%s] %s", p.Rule, p.Message)
	return b.String()
}

// Options tune validation. The zero value validates against the embedded tables with
// today's date.
type Options struct {
	// Today is the date "date cannot be in the past" compares with (its UTC date); zero means now.
	Today time.Time
	// Rules overrides the embedded tables; nil means Default().
	Rules *Rules
	// ConsultingPartner makes awsAccountId mandatory at stage Launched ("For Consulting Partners").
	ConsultingPartner bool
	// SpecialProgram makes the software-revenue fields mandatory at stage Launched
	// ("For special programs when stage = Launched").
	SpecialProgram bool
	// Previous, if set, returns a record's previous version (as ACE last sent it or as the CRM
	// last synced it) for ValidateInboundFile, or nil for a new record. It enables the checks
	// that compare with the previous version: which fields may change in which stage.
	Previous func(o ace.Object, partnerID string) json.RawMessage
}

func (o Options) rules() *Rules {
	if o.Rules != nil {
		return o.Rules
	}
	return Default()
}

func (o Options) today() time.Time {
	t := o.Today
	if t.IsZero() {
		t = time.Now()
	}
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ValidateOpportunity checks one inbound opportunity record against the field tables. prev is
// the record's previous version (from ACE or the CRM), or nil; with it, changes to fields the
// current stage does not allow to change are reported. A record without ACE's id
// (apnCrmUniqueIdentifier) and without prev is a creation. Problems have Record 0.
func ValidateOpportunity(rec, prev json.RawMessage, opts Options) []Problem {
	return validateRecord(ace.ObjectOpportunity, rec, prev, opts)
}

// ValidateLead checks one inbound lead record against the field tables; see ValidateOpportunity.
func ValidateLead(rec, prev json.RawMessage, opts Options) []Problem {
	return validateRecord(ace.ObjectLead, rec, prev, opts)
}

// Validate checks one inbound record of object o: ValidateLead for a lead, else
// ValidateOpportunity.
func Validate(o ace.Object, rec, prev json.RawMessage, opts Options) []Problem {
	if o == ace.ObjectLead {
		return ValidateLead(rec, prev, opts)
	}
	return ValidateOpportunity(rec, prev, opts)
}

// recordCheck holds one record under validation and collects its problems.
type recordCheck struct {
	object   ace.Object
	rules    *Rules
	obj      *ObjectRules
	opts     Options
	today    time.Time
	rec      map[string]json.RawMessage
	prev     map[string]json.RawMessage // nil when unknown
	create   bool
	recordID string
	problems []Problem
}

func (c *recordCheck) add(field string, rule Rule, format string, args ...any) {
	c.problems = append(c.problems, Problem{RecordID: c.recordID, Field: field, Rule: rule,
		Message: fmt.Sprintf(format, args...)})
}

// leadKeyAliases maps key spellings seen in AWS's own files to the table's key. AWS's lead
// inbound sample sends "useCaseWorkLoad" while the table and outbound files say
// "useCaseWorkload" (ace/FACTS.md, Quirks); ACE takes AWS's sample, so the alias is accepted and
// validated as the field it names.
var leadKeyAliases = map[string]string{"useCaseWorkLoad": "useCaseWorkload"}

func validateRecord(o ace.Object, rec, prev json.RawMessage, opts Options) []Problem {
	rules := opts.rules()
	c := &recordCheck{object: o, rules: rules, obj: rules.For(o), opts: opts, today: opts.today()}
	fields, err := ace.Fields(rec)
	if err != nil {
		c.add("", RuleType, "record %v", err)
		return c.problems
	}
	c.rec = fields
	if len(prev) > 0 && ace.JSONKind(prev) == "object" {
		c.prev, _ = ace.Fields(prev)
	}
	if o == ace.ObjectLead {
		c.recordID = c.str("partnerCrmLeadId")
		for alias, key := range leadKeyAliases {
			if v, ok := fields[alias]; ok {
				if _, both := fields[key]; !both {
					c.rec[key] = v
				}
			}
		}
	} else {
		c.recordID = c.str("partnerCrmUniqueIdentifier")
	}
	if o == ace.ObjectOpportunity && isAnswer(fields, "partnerAcceptanceStatus", referralAnswerKeys) {
		c.checkReferralAnswer()
		return c.problems
	}
	if o == ace.ObjectLead && isAnswer(fields, "currentLeadStage", leadAnswerKeys) {
		c.checkLeadAnswer()
		return c.problems
	}
	c.create = c.prev == nil && !c.present("apnCrmUniqueIdentifier")
	c.checkFields()
	if o == ace.ObjectOpportunity {
		c.checkOpportunity()
		c.checkChanges()
	}
	c.checkPostalCode()
	return c.problems
}

// raw returns the value of key, or false when it is absent or null.
func (c *recordCheck) raw(key string) (json.RawMessage, bool) {
	v, ok := c.rec[key]
	if !ok || ace.JSONKind(v) == "null" {
		return nil, false
	}
	return v, true
}

// str returns the string value of key, or "" when it is absent, null or not a string.
func (c *recordCheck) str(key string) string { return stringOf(c.rec[key]) }

func (c *recordCheck) prevStr(key string) string {
	if c.prev == nil {
		return ""
	}
	return stringOf(c.prev[key])
}

func stringOf(raw json.RawMessage) string {
	var s string
	if ace.JSONKind(raw) != "string" || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// present reports whether key has a value: not absent, null, a blank string or an empty array.
func (c *recordCheck) present(key string) bool { return hasValue(c.rec[key]) }

func hasValue(raw json.RawMessage) bool {
	switch ace.JSONKind(raw) {
	case "null", "empty value":
		return false
	case "string":
		var s string
		return json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != ""
	case "array":
		var a []json.RawMessage
		return json.Unmarshal(raw, &a) == nil && len(a) > 0
	}
	return true
}

// arrayHas reports whether key is an array with a string element equal to v.
func (c *recordCheck) arrayHas(key, v string) bool {
	for _, s := range c.strings(key) {
		if s == v {
			return true
		}
	}
	return false
}

// strings returns the string elements of an array field.
func (c *recordCheck) strings(key string) []string {
	raw, ok := c.raw(key)
	if !ok || ace.JSONKind(raw) != "array" {
		return nil
	}
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		return nil
	}
	var out []string
	for _, e := range elems {
		if ace.JSONKind(e) == "string" {
			out = append(out, stringOf(e))
		}
	}
	return out
}
