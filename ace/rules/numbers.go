package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/oppsync/oppsync/ace"
)

func (c *recordCheck) checkNumber(f *FieldRule, raw json.RawMessage) {
	name := f.Name
	var s string
	switch ace.JSONKind(raw) {
	case "number":
		s = string(bytes.TrimSpace(raw))
	case "string":
		// Accepted like ACE's own outbound files, which send amounts both ways.
		s = strings.TrimSpace(stringOf(raw))
		if s == "" {
			return
		}
	default:
		c.add(name, RuleType, "%s is a JSON %s (%s); want a number (%s)", name, ace.JSONKind(raw), ace.DescribeJSON(raw), f.Datatype)
		return
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		c.add(name, RuleType, "%s is %s; want a number (%s)", name, ace.DescribeJSON(raw), f.Datatype)
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
