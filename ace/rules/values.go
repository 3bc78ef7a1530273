package rules

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oppsync/oppsync/ace"
)

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
	k := ace.JSONKind(raw)
	if f.Kind == KindArray {
		c.checkArray(f, raw)
		return
	}
	if f.Kind == KindNumber {
		c.checkNumber(f, raw)
		return
	}
	if k != "string" {
		c.add(name, RuleType, "%s is a JSON %s (%s); want a string (%s)", name, k, ace.DescribeJSON(raw), f.Datatype)
		return
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	if strings.TrimSpace(s) == "" {
		return // blank: presence rules decide
	}
	if ff, ok := fieldFormats[name]; ok {
		if !ff.re.MatchString(s) {
			c.add(name, ff.rule, "%s (%s) is not %s", name, ace.DescribeString(s), ff.what)
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
			c.add(name, RuleType, "%s (%s) is not a date in the form yyyy-mm-dd (GMT), e.g. 2027-03-31", name, ace.DescribeString(s))
			return
		}
		// Closed opportunities keep their historical close date, so the rule is applied
		// only while the opportunity is open.
		if f.NotInPast && d.Before(c.today) && !stageIsClosed(c.str("stage")) {
			c.add(name, RuleDateNotInPast, "%s %s is in the past (today is %s); %s: %s",
				name, s, c.today.Format(time.DateOnly), fileOpportunityFields, f.Validation)
		}
	case KindDateTime:
		if _, err := ace.ParseTime(s); err != nil {
			c.add(name, RuleType, "%s (%s) is %v", name, ace.DescribeString(s), err)
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
// separated by a semi colon" (Opportunity-Fields.csv), without spaces around it (ace/FACTS.md, Quirks).
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
	if k := ace.JSONKind(raw); k != "array" {
		c.add(name, RuleArray, "%s is a JSON %s (%s); want a JSON array of strings such as %s", name, k, ace.DescribeJSON(raw), example)
		return
	}
	var elems []json.RawMessage
	_ = json.Unmarshal(raw, &elems)
	for i, e := range elems {
		if ace.JSONKind(e) != "string" || stringOf(e) == "" {
			c.add(name, RuleArray, "%s[%d] is %s; want a non-blank string, as in %s", name, i, ace.DescribeJSON(e), example)
			return
		}
	}
	if name == "solutionOffered" {
		for _, s := range c.strings(name) {
			if s != solutionOther && !reSolutionID.MatchString(s) {
				c.add(name, RuleSolutionID, `solutionOffered has a value (%s) that is not a solution id of the form S-0001234 or "Other"`, ace.DescribeString(s))
				return
			}
		}
	}
}
