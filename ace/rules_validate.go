package ace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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

// ValidateOptions tune validation. The zero value validates against the embedded tables with
// today's date.
type ValidateOptions struct {
	// Today is the date "date cannot be in the past" compares with (its UTC date); zero means now.
	Today time.Time
	// Rules overrides the embedded tables; nil means DefaultRules().
	Rules *Rules
	// ConsultingPartner makes awsAccountId mandatory at stage Launched ("For Consulting Partners").
	ConsultingPartner bool
	// SpecialProgram makes the software-revenue fields mandatory at stage Launched
	// ("For special programs when stage = Launched").
	SpecialProgram bool
	// Previous, if set, returns a record's previous version (as ACE last sent it or as the CRM
	// last synced it) for ValidateInboundFile, or nil for a new record. It enables the checks
	// that compare with the previous version: which fields may change in which stage.
	Previous func(o Object, partnerID string) json.RawMessage
}

func (o ValidateOptions) rules() *Rules {
	if o.Rules != nil {
		return o.Rules
	}
	return DefaultRules()
}

func (o ValidateOptions) today() time.Time {
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
func ValidateOpportunity(rec, prev json.RawMessage, opts ValidateOptions) []Problem {
	return validateRecord(ObjectOpportunity, rec, prev, opts)
}

// ValidateLead checks one inbound lead record against the field tables; see ValidateOpportunity.
func ValidateLead(rec, prev json.RawMessage, opts ValidateOptions) []Problem {
	return validateRecord(ObjectLead, rec, prev, opts)
}

// recordCheck holds one record under validation and collects its problems.
type recordCheck struct {
	object   Object
	rules    *Rules
	obj      *ObjectRules
	opts     ValidateOptions
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
// "useCaseWorkload" (README, Quirks); ACE takes AWS's sample, so the alias is accepted and
// validated as the field it names.
var leadKeyAliases = map[string]string{"useCaseWorkLoad": "useCaseWorkload"}

func validateRecord(o Object, rec, prev json.RawMessage, opts ValidateOptions) []Problem {
	rules := opts.rules()
	c := &recordCheck{object: o, rules: rules, obj: rules.For(o), opts: opts, today: opts.today()}
	fields, err := Fields(rec)
	if err != nil {
		c.add("", RuleType, "record %v", err)
		return c.problems
	}
	c.rec = fields
	if len(prev) > 0 && JSONKind(prev) == "object" {
		c.prev, _ = Fields(prev)
	}
	if o == ObjectLead {
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
	if o == ObjectOpportunity && isReferralAnswer(fields) {
		c.checkReferralAnswer()
		return c.problems
	}
	if o == ObjectLead && isLeadAnswer(fields) {
		c.checkLeadAnswer()
		return c.problems
	}
	c.create = c.prev == nil && !c.present("apnCrmUniqueIdentifier")
	c.checkFields()
	if o == ObjectOpportunity {
		c.checkOpportunity()
		c.checkChanges()
	}
	c.checkPostalCode()
	return c.problems
}

// referralAnswerKeys are the only fields of a partner's answer to an AWS referral: ACE takes
// the acceptance or rejection (partnerAcceptanceStatus, rejectionReason) on its own, before
// the partner may see or send the rest of the opportunity (its PII is masked until then).
var referralAnswerKeys = map[string]bool{
	"apnCrmUniqueIdentifier": true, "partnerCrmUniqueIdentifier": true,
	"partnerAcceptanceStatus": true, "rejectionReason": true,
}

// isReferralAnswer reports whether an opportunity record is only an answer to an AWS
// referral: an acceptance status and nothing but the answer's fields.
func isReferralAnswer(fields map[string]json.RawMessage) bool {
	if v, ok := fields["partnerAcceptanceStatus"]; !ok || JSONKind(v) == "null" {
		return false
	}
	for k := range fields {
		if !referralAnswerKeys[k] {
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
var leadAnswerKeys = map[string]bool{
	"apnCrmUniqueIdentifier": true, "partnerCrmLeadId": true, "currentLeadStage": true,
}

// isLeadAnswer reports whether a lead record is only an answer to an AWS lead: a
// currentLeadStage and nothing but the answer's fields.
func isLeadAnswer(fields map[string]json.RawMessage) bool {
	if v, ok := fields["currentLeadStage"]; !ok || JSONKind(v) == "null" {
		return false
	}
	for k := range fields {
		if !leadAnswerKeys[k] {
			return false
		}
	}
	return true
}

// checkLeadAnswer checks an acceptance or rejection of an AWS lead: it names the lead by
// ACE id and its currentLeadStage is a standard value.
func (c *recordCheck) checkLeadAnswer() {
	if !c.present("apnCrmUniqueIdentifier") {
		c.add("apnCrmUniqueIdentifier", RuleMandatory, "apnCrmUniqueIdentifier is missing: an acceptance or rejection of an AWS lead must name the lead by its ACE id")
	}
	for _, name := range []string{"apnCrmUniqueIdentifier", "partnerCrmLeadId", "currentLeadStage"} {
		if f := c.obj.Field(name); f != nil {
			if raw, ok := c.raw(name); ok {
				c.checkValue(f, raw)
			}
		}
	}
}

// raw returns the value of key, or false when it is absent or null.
func (c *recordCheck) raw(key string) (json.RawMessage, bool) {
	v, ok := c.rec[key]
	if !ok || JSONKind(v) == "null" {
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
	if JSONKind(raw) != "string" || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// present reports whether key has a value: not absent, null, a blank string or an empty array.
func (c *recordCheck) present(key string) bool { return hasValue(c.rec[key]) }

func hasValue(raw json.RawMessage) bool {
	switch JSONKind(raw) {
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
	if !ok || JSONKind(raw) != "array" {
		return nil
	}
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		return nil
	}
	var out []string
	for _, e := range elems {
		if JSONKind(e) == "string" {
			out = append(out, stringOf(e))
		}
	}
	return out
}

func (c *recordCheck) requirements() map[string]requirement {
	if c.object == ObjectLead {
		return leadRequirements
	}
	return opportunityRequirements
}

// checkFields applies each field's own rules: presence, type, standard values, lengths, ranges.
func (c *recordCheck) checkFields() {
	reqs := c.requirements()
	for _, name := range c.obj.Order {
		f := c.obj.Fields[name]
		if !c.present(name) {
			c.checkPresence(f, reqs)
		}
		if f.ReadOnly && c.present(name) {
			c.add(name, RuleReadOnly, "%s is read-only: %s marks it Read Only and Outbound Only, so ACE does not "+
				"take it from partners; leave it out", name, fileLeadFields)
			continue
		}
		if raw, ok := c.raw(name); ok {
			c.checkValue(f, raw)
		}
	}
}

func (c *recordCheck) checkPresence(f *FieldRule, reqs map[string]requirement) {
	req, hasReq := reqs[f.Name]
	state := "missing"
	if raw, ok := c.rec[f.Name]; ok {
		state = "null"
		if JSONKind(raw) != "null" {
			state = "blank"
		}
	}
	switch f.Presence {
	case PresenceMandatory:
		if hasReq && !req.required(c) {
			return
		}
		why := f.Condition
		if hasReq {
			why = req.csv
		}
		if why == "" && c.object == ObjectLead {
			why = f.Validation // "Mandatory. Accepts only standard values"
		}
		if why != "" {
			why = fmt.Sprintf(" (%s)", why)
		}
		c.add(f.Name, RuleMandatory, "%s is %s; %s marks it mandatory on inbound%s", f.Name, state, c.obj.Source, why)
	case PresenceConditional:
		if hasReq && req.required(c) {
			c.add(f.Name, RuleConditional, "%s is %s; it is mandatory %s", f.Name, state, lowerFirst(req.csv))
		}
	}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// fieldFormats are format rules the tables give only in prose, keyed by field.
var fieldFormats = map[string]struct {
	rule Rule
	re   *regexp.Regexp
	what string // the table text
}{
	// Opportunity-Fields.csv: Text (9), "The DUNS is a nine-digit identification number".
	"customerDuns": {RuleDUNS, regexp.MustCompile(`^\d{9}$`), "a nine-digit DUNS number, e.g. 123456789"},
	// Opportunity-Fields.csv: "Specifies the 12-digit AWS account number of the end customer".
	"awsAccountId": {RuleAWSAccountID, regexp.MustCompile(`^\d{12}$`), "a 12-digit AWS account number, e.g. 123456789012"},
}

// reSolutionID is the solution id pattern of solutionOffered: "Solution ID needs to follow
// the pattern: S-0001234" (Opportunity-Fields.csv).
var reSolutionID = regexp.MustCompile(`^S-\d{7}$`)

func (c *recordCheck) checkValue(f *FieldRule, raw json.RawMessage) {
	name := f.Name
	k := JSONKind(raw)
	if f.Kind == KindArray {
		c.checkArray(f, raw)
		return
	}
	if f.Kind == KindNumber {
		c.checkNumber(f, raw)
		return
	}
	if k != "string" {
		c.add(name, RuleType, "%s is a JSON %s (%s); want a string (%s)", name, k, snippet(raw), f.Datatype)
		return
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	if strings.TrimSpace(s) == "" {
		return // blank: presence rules decide
	}
	if ff, ok := fieldFormats[name]; ok {
		if !ff.re.MatchString(s) {
			c.add(name, ff.rule, "%s (%s) is not %s", name, DescribeString(s), ff.what)
		}
		return
	}
	switch f.Kind {
	case KindPicklist:
		c.checkPicklist(f, s)
	case KindMultiSelect:
		c.checkMultiSelect(f, s)
	case KindDate:
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			c.add(name, RuleType, "%s (%s) is not a date in the form yyyy-mm-dd (GMT), e.g. 2027-03-31", name, DescribeString(s))
			return
		}
		// Closed opportunities keep their historical close date, so the rule is applied
		// only while the opportunity is open.
		if f.NotInPast && d.Before(c.today) && !stageIsClosed(c.str("stage")) {
			c.add(name, RuleDateNotInPast, "%s %s is in the past (today is %s); %s: %s",
				name, s, c.today.Format(time.DateOnly), fileOpportunityFields, f.Validation)
		}
	case KindDateTime:
		if _, err := parseTime(s); err != nil {
			c.add(name, RuleType, "%s (%s) is %v", name, DescribeString(s), err)
		}
	}
	n := utf8.RuneCountInString(s)
	if f.MinLength > 0 && n < f.MinLength {
		c.add(name, RuleMinLength, "%s is %d characters; it must be at least %d (%q)", name, n, f.MinLength, f.Validation)
	}
	if f.MaxLength > 0 && n > f.MaxLength {
		c.add(name, RuleMaxLength, "%s is %d characters; it may be at most %d (%s)", name, n, f.MaxLength, f.Datatype)
	}
}

// allowedList describes a picklist's values for a message: all of them when few, else a
// count, the first few and the table to look in.
func allowedList(f *FieldRule) string {
	const maxShown = 12
	if len(f.Allowed) <= maxShown {
		return strings.Join(f.Allowed, ", ")
	}
	return fmt.Sprintf("%d values of %s, column %s, e.g. %s, …", len(f.Allowed), f.AllowedFrom, f.Name,
		strings.Join(f.Allowed[:maxShown], ", "))
}

// suggest returns a hint when v matches a standard value but for case or spacing.
func suggest(f *FieldRule, v string) string {
	norm := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }
	for _, a := range f.Allowed {
		if norm(a) == norm(v) {
			return fmt.Sprintf(" (did you mean %q? values are case-sensitive)", a)
		}
	}
	return ""
}

func isAllowed(f *FieldRule, v string) bool {
	for _, a := range f.Allowed {
		if a == v {
			return true
		}
	}
	return false
}

func (c *recordCheck) checkPicklist(f *FieldRule, v string) {
	if f.Allowed == nil || isAllowed(f, v) {
		return
	}
	c.add(f.Name, RulePicklist, "%s %q is not a standard value%s; allowed: %s", f.Name, v, suggest(f, v), allowedList(f))
}

// checkMultiSelect checks a ";"-separated multi-select value: "multiple values need to be
// separated by a semi colon" (Opportunity-Fields.csv), without spaces around it (README, Quirks).
func (c *recordCheck) checkMultiSelect(f *FieldRule, v string) {
	parts := strings.Split(v, ";")
	for _, p := range parts {
		switch {
		case p == "":
			c.add(f.Name, RuleMultiSelect, "%s %q has an empty value; separate values with a single \";\"", f.Name, v)
		case p != strings.TrimSpace(p):
			c.add(f.Name, RuleMultiSelect, "%s %q has spaces around a \";\"; separate values with \";\" and no spaces", f.Name, v)
		case f.Allowed != nil && !isAllowed(f, p):
			c.add(f.Name, RuleMultiSelect, "%s value %q is not a standard value%s; allowed (separated by \";\"): %s",
				f.Name, p, suggest(f, p), allowedList(f))
		default:
			continue
		}
		return // one problem per field is enough to act on
	}
}

func (c *recordCheck) checkArray(f *FieldRule, raw json.RawMessage) {
	name := f.Name
	example := fmt.Sprintf(`["%s"]`, "value")
	if name == "solutionOffered" {
		example = `["S-0001234"]`
	}
	if k := JSONKind(raw); k != "array" {
		c.add(name, RuleArray, "%s is a JSON %s (%s); want a JSON array of strings such as %s", name, k, snippet(raw), example)
		return
	}
	var elems []json.RawMessage
	_ = json.Unmarshal(raw, &elems)
	for i, e := range elems {
		if JSONKind(e) != "string" || stringOf(e) == "" {
			c.add(name, RuleArray, "%s[%d] is %s; want a non-blank string, as in %s", name, i, snippet(e), example)
			return
		}
	}
	if name == "solutionOffered" {
		for _, s := range c.strings(name) {
			if s != solutionOther && !reSolutionID.MatchString(s) {
				c.add(name, RuleSolutionID, `solutionOffered has a value (%s) that is not a solution id of the form S-0001234 or "Other"`, DescribeString(s))
				return
			}
		}
	}
}

func (c *recordCheck) checkNumber(f *FieldRule, raw json.RawMessage) {
	name := f.Name
	var s string
	switch JSONKind(raw) {
	case "number":
		s = string(bytes.TrimSpace(raw))
	case "string":
		// Accepted like ACE's own outbound files, which send amounts both ways.
		s = strings.TrimSpace(stringOf(raw))
		if s == "" {
			return
		}
	default:
		c.add(name, RuleType, "%s is a JSON %s (%s); want a number (%s)", name, JSONKind(raw), snippet(raw), f.Datatype)
		return
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		c.add(name, RuleType, "%s is %s; want a number (%s)", name, snippet(raw), f.Datatype)
		return
	}
	if f.Min != nil && (v < *f.Min || (!f.MinInclusive && v == *f.Min)) {
		c.add(name, RuleRange, "%s is %s; it must be %s (%s)", name, s, rangeText(f), f.Validation)
	}
	if f.HasPrecision {
		c.checkPrecision(f, s)
	}
}

// checkPrecision applies a currency's Currency(digits,decimals) datatype to the number s.
func (c *recordCheck) checkPrecision(f *FieldRule, s string) {
	whole, decimals, ok := digitCounts(s)
	if !ok {
		return // ParseFloat took it but it is not decimal notation (e.g. hexadecimal): the type check's concern
	}
	allowed := fmt.Sprintf("at most %d digits before the decimal point and no decimal places", f.IntegerDigits)
	if f.Decimals > 0 {
		allowed = fmt.Sprintf("at most %d digits before the decimal point and %d after it", f.IntegerDigits, f.Decimals)
	}
	switch {
	case whole > f.IntegerDigits:
		c.add(f.Name, RulePrecision, "%s %s has %d digits before the decimal point; %s (%s) allows %s",
			f.Name, s, whole, f.Datatype, fileOpportunityFields, allowed)
	case decimals > f.Decimals:
		c.add(f.Name, RulePrecision, "%s %s has %d decimal places; %s (%s) allows %s",
			f.Name, s, decimals, f.Datatype, fileOpportunityFields, allowed)
	}
}

// digitCounts returns how many digits the number s (JSON number syntax, or a numeric
// string) has before and after its decimal point, leading and trailing zeros aside: "0012.50"
// has 2 and 1, "1.5e3" 4 and 0, "-0.25" 0 and 2. It reads the digits themselves, never a
// float, so 18-digit amounts are counted exactly.
func digitCounts(s string) (whole, decimals int, ok bool) {
	s = strings.TrimLeft(s, "+-")
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	exp := 0
	if hasExp {
		var err error
		if exp, err = strconv.Atoi(expText); err != nil {
			return 0, 0, false
		}
		exp = max(min(exp, 1<<20), -1<<20) // beyond any table; keeps the arithmetic small
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, 0, false
	}
	point := len(intPart) + exp // the decimal point's position in digits
	trimmed := strings.TrimLeft(digits, "0")
	point -= len(digits) - len(trimmed)
	trimmed = strings.TrimRight(trimmed, "0")
	if trimmed == "" {
		return 0, 0, true // zero
	}
	return max(point, 0), max(len(trimmed)-point, 0), true
}

func rangeText(f *FieldRule) string {
	op := "greater than"
	if f.MinInclusive {
		op = "at least"
	}
	return fmt.Sprintf("%s %s", op, strconv.FormatFloat(*f.Min, 'f', -1, 64))
}

// checkOpportunity applies the opportunity rules that involve several fields.
func (c *recordCheck) checkOpportunity() {
	// Opportunity-Fields.csv, state: "Value to this field will be accepted only when country
	// is United States."
	if c.present("state") && c.present("country") && c.str("country") != countryUS {
		c.add("state", RuleConditional, "state is set but country is %q; state is accepted only when country is %s",
			c.str("country"), countryUS)
	}
	// doesOppBelongToNatSec: "Takes a value "Yes" only when the industry is "Government"" and
	// "partnerPrimaryNeedFromAws cannot take the value "Do not need support from AWS Sales Rep"".
	if natSec(c) {
		if ind := c.str("industry"); ind != industryGovernment {
			c.add("doesOppBelongToNatSec", RuleNatSec, "doesOppBelongToNatSec is Yes but industry is %q; "+
				"it may be Yes only when industry is %s", ind, industryGovernment)
		}
		if c.multiHas("partnerPrimaryNeedFromAws", needNoSupport) {
			c.add("partnerPrimaryNeedFromAws", RuleNatSec, "partnerPrimaryNeedFromAws may not be %q when "+
				"doesOppBelongToNatSec is Yes", needNoSupport)
		}
	}
	// IsOppFromMarketingActivity: "When this field is "No" the fields marketingActivityChannel,
	// marketingActivityUsecase, isMarketingDevelopmentFunded and awsSFCampaignNam must be null".
	if c.str("IsOppFromMarketingActivity") == valueNo {
		for _, k := range []string{"awsSFCampaignName", "marketingActivityChannel", "marketingActivityUsecase",
			"isMarketingDevelopmentFunded"} {
			if c.present(k) {
				c.add(k, RuleMarketingActivity, "%s must be null when IsOppFromMarketingActivity is No", k)
			}
		}
	}
	// partnerPrimaryNeedFromAws: "Cannot select co-sell picklist values along with "Do not need
	// support from AWS Sales Rep". Cannot move from one of the co-sell values to "Do not need
	// support from AWS Sales Rep"."
	if c.multiHas("partnerPrimaryNeedFromAws", needNoSupport) {
		if c.multiHasPrefix(c.str("partnerPrimaryNeedFromAws"), coSellPrefix) {
			c.add("partnerPrimaryNeedFromAws", RuleCoSell, "partnerPrimaryNeedFromAws combines co-sell values with %q; "+
				"choose one or the other", needNoSupport)
		} else if c.multiHasPrefix(c.prevStr("partnerPrimaryNeedFromAws"), coSellPrefix) {
			c.add("partnerPrimaryNeedFromAws", RuleCoSell, "partnerPrimaryNeedFromAws cannot move from co-sell values "+
				"to %q; an opportunity stays co-sell once switched", needNoSupport)
		}
	}
	// solutionOffered: "Once the opportunity reaches the "Committed" stage this field cannot be
	// "Other" and needs to be a valid solution."
	if st := c.str("stage"); (st == stageCommitted || st == stageLaunched) && c.arrayHas("solutionOffered", solutionOther) {
		c.add("solutionOffered", RuleSolutionID, `solutionOffered may not be "Other" at stage %s; give a solution id `+
			`such as S-0001234`, st)
	}
}

func (c *recordCheck) multiHas(key, v string) bool {
	for _, p := range strings.Split(c.str(key), ";") {
		if strings.EqualFold(strings.TrimSpace(p), v) {
			return true
		}
	}
	return false
}

func (c *recordCheck) multiHasPrefix(v, prefix string) bool {
	for _, p := range strings.Split(v, ";") {
		if strings.HasPrefix(strings.TrimSpace(p), prefix) {
			return true
		}
	}
	return false
}

// checkPostalCode applies PostalCodeValidations.csv and CountriesWithoutPostalCode.csv.
func (c *recordCheck) checkPostalCode() {
	code, country := c.str("postalCode"), c.str("country")
	if code == "" || country == "" {
		return
	}
	if !c.rules.HasPostalCode(country) {
		// Opportunity-Fields.csv, postalCode: "Countries without postal code will no longer take values."
		c.add("postalCode", RulePostalCode, "postalCode is set but %s has no postal codes (%s); send null",
			country, fileNoPostalCode)
		return
	}
	if p := c.rules.PostalFormatFor(country); p != nil && !p.Match(code) {
		c.add("postalCode", RulePostalCode, "postalCode (%s): %s", DescribeString(code), p.Message)
	}
}

// checkChanges applies the Create and update columns of Opportunity-Fields.csv: on creation,
// fields whose Create column says No must not be sent; on an update, fields whose column for
// the previous record's stage or status says No must not change.
func (c *recordCheck) checkChanges() {
	if c.create {
		for _, name := range c.obj.Order {
			f := c.obj.Fields[name]
			if f.Create != valueNo || !c.present(name) || c.excepted(name) {
				continue
			}
			c.add(name, RuleStageUpdate, "%s cannot be set when creating an opportunity (%s, Create: No); leave it out",
				name, fileOpportunityFields)
		}
		return
	}
	if c.prev == nil {
		return // an update whose previous version is unknown
	}
	prevStage, prevStatus := c.prevStr("stage"), c.prevStr("status")
	column, when := "Updates up until Launched/Lost", fmt.Sprintf("at stage %q", prevStage)
	pick := func(f *FieldRule) string { return f.UpdateUntilLaunched }
	switch {
	case prevStatus == statusActionReq:
		// While AWS asks for changes, only the fields of this column may change.
		column, when = colOppActionRequired, `while status is "Action Required"`
		pick = func(f *FieldRule) string { return f.UpdateActionRequired }
	case stageIsClosed(prevStage):
		// The table has no column for after Closed Lost; "Updates up until Launched/Lost"
		// ends there, so the After Launched column applies to both.
		column = colOppAfterLaunched
		pick = func(f *FieldRule) string { return f.UpdateAfterLaunched }
	}
	for _, name := range c.obj.Order {
		f := c.obj.Fields[name]
		if pick(f) != valueNo || !c.changed(name) || c.excepted(name) || c.hasProblem(name) {
			continue
		}
		c.add(name, RuleStageUpdate, "%s cannot change %s (%s, %q: No); send the previous value",
			name, when, fileOpportunityFields, column)
	}
}

// hasProblem reports whether field already has a problem: one is enough to act on.
func (c *recordCheck) hasProblem(field string) bool {
	for _, p := range c.problems {
		if p.Field == field {
			return true
		}
	}
	return false
}

func (c *recordCheck) excepted(name string) bool {
	a, ok := updateExceptions[name]
	return ok && a.allowed(c)
}

// changed reports whether the record sends key with a value other than the previous one. An
// absent key is not sent and so unchanged; null, "" and absent are the same empty value.
func (c *recordCheck) changed(key string) bool {
	raw, sent := c.rec[key]
	if !sent {
		return false
	}
	return !sameValue(raw, c.prev[key])
}

func sameValue(a, b json.RawMessage) bool {
	if !hasValue(a) || !hasValue(b) {
		return hasValue(a) == hasValue(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	if s, ok := x.(string); ok {
		x = strings.TrimSpace(s)
	}
	if s, ok := y.(string); ok {
		y = strings.TrimSpace(s)
	}
	return reflect.DeepEqual(x, y)
}
