package ace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Fields splits a JSON object into its members, keeping each value's raw bytes. It fails
// when raw is not a JSON object (null included).
//
// Field lookups in this package go through Fields rather than struct tags because ACE's
// keys are case-sensitive ("aWSStage", "IsOppFromMarketingActivity", "Leads" beside
// "leads") while encoding/json matches struct fields case-insensitively.
func Fields(raw json.RawMessage) (map[string]json.RawMessage, error) {
	if k := JSONKind(raw); k != "object" {
		return nil, fmt.Errorf("is a JSON %s, want an object", k)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// JSONKind names the JSON type of raw from its first byte: object, array, string, boolean,
// null or number ("empty value" when blank). It assumes raw is valid JSON.
func JSONKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty value"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// DescribeString describes a text value in an error message by its length only: error
// messages reach logs, workflow history and quarantine reasons, and the value may be
// personal data (an e-mail in the wrong field).
func DescribeString(s string) string { return fmt.Sprintf("a %d-byte string", len(s)) }

// DescribeJSON describes a raw JSON value in an error message. Numbers, booleans and null
// are shown as they are; strings (by their decoded length, see DescribeString), objects and
// arrays only by kind and length, because error messages reach logs and workflow history
// and the value may be personal data.
func DescribeJSON(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	switch k := JSONKind(raw); k {
	case "number", "boolean", "null":
		if len(raw) <= 40 {
			return string(raw)
		}
		return k
	case "string":
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return DescribeString(s)
		}
		return fmt.Sprintf("a %d-byte %s", len(raw), k)
	default:
		return fmt.Sprintf("a %d-byte %s", len(raw), k)
	}
}

// snippet is DescribeJSON.
func snippet(raw []byte) string { return DescribeJSON(raw) }

// ParseTime reads an ACE date or timestamp. ACE sends GMT values such as
// "2022-03-08T13:15:35.000Z" and "2022-09-24" (README, Quirks); any RFC 3339 value is
// accepted too. The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a date such as 2022-03-08T13:15:35.000Z or 2022-09-24")
}

// fieldReader reads typed values out of a JSON object and collects every problem, so a
// rejected record or file names all its bad fields at once. Absent and null values read
// as the zero value: in ACE files null means "no value" (README, Quirks).
type fieldReader struct {
	fields   map[string]json.RawMessage
	problems []string
}

func (d *fieldReader) problem(format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

// value returns the raw value of key, or false when it is absent or null.
func (d *fieldReader) value(key string) (json.RawMessage, bool) {
	raw, ok := d.fields[key]
	if !ok || JSONKind(raw) == "null" {
		return nil, false
	}
	return raw, true
}

func (d *fieldReader) str(key string) string {
	raw, ok := d.value(key)
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.problem("%s is a JSON %s (%s), want a string", key, JSONKind(raw), snippet(raw))
		return ""
	}
	return s
}

// id reads an identifier that must be present and not blank.
func (d *fieldReader) id(key, what string) string {
	before := len(d.problems)
	s := d.str(key)
	if len(d.problems) == before && strings.TrimSpace(s) == "" {
		state := "missing"
		if raw, ok := d.fields[key]; ok {
			state = "blank"
			if JSONKind(raw) == "null" {
				state = "null"
			}
		}
		d.problem("%s is %s; %s", key, state, what)
	}
	return s
}

// number reads a JSON number or a numeric string: ACE has been seen sending amounts such
// as expectedMonthlyAwsRevenue both ways. An empty string reads as no value.
func (d *fieldReader) number(key string) *float64 {
	raw, ok := d.value(key)
	if !ok {
		return nil
	}
	var s string
	switch JSONKind(raw) {
	case "number":
		s = string(raw)
	case "string":
		if err := json.Unmarshal(raw, &s); err != nil {
			d.problem("%s is %s, want a number", key, snippet(raw))
			return nil
		}
		if s = strings.TrimSpace(s); s == "" {
			return nil
		}
	default:
		d.problem("%s is a JSON %s (%s), want a number", key, JSONKind(raw), snippet(raw))
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		d.problem("%s is %s, want a number", key, snippet(raw))
		return nil
	}
	return &f
}

// time reads a date or timestamp string; see parseTime. An empty string reads as zero.
func (d *fieldReader) time(key string) time.Time {
	before := len(d.problems)
	s := d.str(key)
	if len(d.problems) > before || s == "" {
		return time.Time{}
	}
	t, err := ParseTime(s)
	if err != nil {
		d.problem("%s is %s: %v", key, DescribeString(s), err)
	}
	return t
}

func (d *fieldReader) boolean(key string) bool {
	raw, ok := d.value(key)
	if !ok {
		return false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		d.problem("%s is a JSON %s (%s), want true or false", key, JSONKind(raw), snippet(raw))
	}
	return b
}

// messages reads a list of messages such as ACE's errors, warnings and apiErrors. It accepts
// null, a string, or an array whose elements are strings (kept as they are) or any other
// JSON value (kept as compact JSON text), because ACE documents the field only by example.
func (d *fieldReader) messages(key string) []string {
	raw, ok := d.value(key)
	if !ok {
		return nil
	}
	if JSONKind(raw) != "array" {
		return []string{messageText(raw)}
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		d.problem("%s: %v", key, err)
		return nil
	}
	var out []string
	for _, e := range elems {
		if JSONKind(e) == "null" {
			continue
		}
		out = append(out, messageText(e))
	}
	return out
}

func messageText(raw json.RawMessage) string {
	var s string
	if JSONKind(raw) == "string" && json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	// A message is text for a person, not data: bytes that are not UTF-8 are replaced, so
	// what is written to the CRM is valid UTF-8.
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}
