package apimapping

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// IssueKind classifies an Issue.
type IssueKind string

const (
	// IssueUnknownField: the S3 record has a field AWS's mapping table does not list; it
	// is not sent.
	IssueUnknownField IssueKind = "unknown-field"
	// IssueUnmapped: the field is in AWS's table but the Selling API does not carry it
	// (Field.Note says why); it is not sent.
	IssueUnmapped IssueKind = "unmapped"
	// IssueNotWritable: the API takes the field, but not in the operation at hand (the
	// opportunity team only on CreateOpportunity, say); it is not sent.
	IssueNotWritable IssueKind = "not-writable"
	// IssueInvalid: the value cannot be converted to the other side's format; it is not
	// sent (ToAPI) or left null (FromAPI).
	IssueInvalid IssueKind = "invalid"
	// IssueMissing: the operation requires the field and the record lacks it.
	IssueMissing IssueKind = "missing"
	// IssueDropped: the API holds more than the S3 field can carry (a second customer
	// contact, an amount in another currency); the extra is not in the S3 record.
	IssueDropped IssueKind = "dropped"
)

// Issue is one field that did not map cleanly. It names the field and the API path, never
// the record's values, so that it can be logged.
type Issue struct {
	Field  string // the S3 field name
	Path   string // the API member path; empty when the field has none
	Kind   IssueKind
	Reason string
}

func (i Issue) String() string {
	if i.Path == "" {
		return fmt.Sprintf("field %s: %s", i.Field, i.Reason)
	}
	return fmt.Sprintf("field %s: API path %s %s", i.Field, i.Path, i.Reason)
}

// OperationFor returns the operation whose body ToAPI builds for rec: UpdateOpportunity
// when rec has ACE's id (apnCrmUniqueIdentifier), CreateOpportunity otherwise, as an S3
// inbound record without that id creates an opportunity.
func OperationFor(rec map[string]any) Operation {
	if id, _ := rec["apnCrmUniqueIdentifier"].(string); id != "" {
		return OpUpdate
	}
	return OpCreate
}

// ToAPI converts an S3 JSON opportunity record into the members of a CreateOpportunity or
// UpdateOpportunity body (see OperationFor), as awsJson1_0 sends them: nested
// map[string]any and []any with the model's member names. The caller adds Catalog and,
// for CreateOpportunity, ClientToken, which have no S3 field.
//
// Read-only fields (AWS's side, CreatedDate, ReviewStatus, RelatedEntityIdentifiers) are
// left out without an issue. Null and empty fields are left out too: UpdateOpportunity
// takes an omitted member as null, which is what null means in an S3 record. Every other
// field that cannot be sent gives an Issue.
func ToAPI(rec map[string]any) (map[string]any, []Issue) {
	t := mustTable()
	op := OperationFor(rec)
	body := map[string]any{}
	var issues []Issue
	for _, key := range sortedKeys(rec) {
		v := rec[key]
		if empty(v) {
			continue
		}
		f, iss := t.mapped(key, "not sent")
		switch {
		case iss != nil:
			issues = append(issues, *iss)
			continue
		case len(f.Write) == 0:
			continue // read-only
		case !f.Writes(op):
			issues = append(issues, Issue{Field: key, Path: f.WritePath, Kind: IssueNotWritable,
				Reason: fmt.Sprintf("is not taken by %s, only by %s; not sent", opName(op), opNames(f.Write))})
			continue
		}
		if iss := t.put(body, f, f.write, v); iss != nil {
			issues = append(issues, *iss)
		}
	}
	if op == OpUpdate {
		if _, ok := body["LastModifiedDate"]; !ok {
			issues = append(issues, Issue{Field: "lastModifiedDate", Path: "LastModifiedDate", Kind: IssueMissing,
				Reason: "is required by UpdateOpportunity (the update succeeds only if it matches AWS's); the record has none"})
		}
	}
	return body, issues
}

// ToAPIOutputs converts an S3 JSON opportunity record into what the Selling API would
// return for it: GetOpportunity's output (opportunity) and GetAwsOpportunitySummary's
// (awsSummary), each holding the mapped fields it carries, read-only ones included.
// FromAPI inverts it; a contract server or simulator can serve ACE's sample records with it.
func ToAPIOutputs(rec map[string]any) (opportunity, awsSummary map[string]any, issues []Issue) {
	t := mustTable()
	opportunity, awsSummary = map[string]any{}, map[string]any{}
	for _, key := range sortedKeys(rec) {
		v := rec[key]
		if empty(v) {
			continue
		}
		f, iss := t.mapped(key, "left out")
		if iss != nil {
			issues = append(issues, *iss)
			continue
		}
		dst := opportunity
		if f.Source == SourceSummary {
			dst = awsSummary
		}
		if iss := t.put(dst, f, f.read, v); iss != nil {
			issues = append(issues, *iss)
		}
	}
	return opportunity, awsSummary, issues
}

// FromAPI converts GetOpportunity's output (opportunity) and GetAwsOpportunitySummary's
// (awsSummary) into an S3 JSON opportunity record. Each mapped field of a given shape is
// in the record, null when the API has no value, as ACE's outbound records carry nulls; a
// nil shape contributes no fields at all (so a caller that did not fetch the summary does
// not clear AWS's fields in the CRM).
func FromAPI(opportunity, awsSummary map[string]any) (map[string]any, []Issue) {
	t := mustTable()
	rec := map[string]any{}
	var issues []Issue
	dropped := map[string]bool{}
	for i := range t.fields {
		f := &t.fields[i]
		src := opportunity
		switch f.Source {
		case SourceNone:
			continue
		case SourceSummary:
			src = awsSummary
		}
		if src == nil {
			continue
		}
		if prefix, ok := listPrefix(f.read); ok {
			p := pathString(prefix)
			if parent, ok := lookup(src, prefix[:len(prefix)-1]); ok && !dropped[p] {
				pm, _ := parent.(map[string]any)
				if list, ok := pm[prefix[len(prefix)-1].name].([]any); ok && len(list) > 1 {
					dropped[p] = true
					issues = append(issues, Issue{Field: f.S3, Path: strings.TrimSuffix(p, "[0]"), Kind: IssueDropped,
						Reason: fmt.Sprintf("has %d elements; S3 carries the first only", len(list))})
				}
			}
		}
		v, ok := lookup(src, f.read)
		if !ok {
			rec[f.S3] = nil
			continue
		}
		s3v, iss := t.fromAPI(f, v)
		if iss != nil {
			issues = append(issues, *iss)
		}
		rec[f.S3] = s3v
		if len(f.With) > 0 {
			parent, _ := lookup(src, f.read[:len(f.read)-1])
			pm, _ := parent.(map[string]any)
			for _, k := range sortedKeys(f.With) {
				if got, ok := pm[k]; ok && got != f.With[k] {
					issues = append(issues, Issue{Field: f.S3, Path: pathString(f.read[:len(f.read)-1]) + "." + k, Kind: IssueDropped,
						Reason: fmt.Sprintf("is not %s, which the S3 field implies; the amount is taken as is", f.With[k])})
				}
			}
		}
	}
	return rec, issues
}

// put converts the S3 value v of field f and writes it at segs in dst.
func (t *table) put(dst map[string]any, f *Field, segs []segment, v any) *Issue {
	path := pathString(segs)
	if f.Format == FormatName {
		s, ok := v.(string)
		if !ok {
			return invalid(f, path, "expects a name string, got "+kind(v))
		}
		first, last, _ := strings.Cut(strings.TrimSpace(s), " ")
		o := object(dst, segs)
		o["FirstName"] = first
		if last = strings.TrimSpace(last); last != "" {
			o["LastName"] = last
		}
		return nil
	}
	apiv, iss := t.toAPIValue(f, path, v)
	if iss != nil {
		return iss
	}
	parent := set(dst, segs, apiv)
	for k, w := range f.With {
		parent[k] = w
	}
	return nil
}

func (t *table) toAPIValue(f *Field, path string, v any) (any, *Issue) {
	switch f.Format {
	case FormatString:
		s, ok := v.(string)
		if !ok {
			return nil, invalid(f, path, "expects a string, got "+kind(v))
		}
		return t.apiEnumValue(f, path, s)
	case FormatList:
		var items []string
		switch v := v.(type) {
		case string:
			for p := range strings.SplitSeq(v, ";") {
				if p = strings.TrimSpace(p); p != "" {
					items = append(items, p)
				}
			}
		case []any:
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, invalid(f, path, "expects values separated by ; (or a list of strings), got a list holding "+kind(e))
				}
				items = append(items, s)
			}
		default:
			return nil, invalid(f, path, "expects values separated by ;, got "+kind(v))
		}
		out := []any{}
		for _, s := range items {
			a, iss := t.apiEnumValue(f, path, s)
			if iss != nil {
				return nil, iss
			}
			if a != "" { // an S3 value that stands for "none" (values.csv) adds nothing
				out = append(out, a)
			}
		}
		return out, nil
	case FormatArray:
		l, ok := v.([]any)
		if !ok {
			return nil, invalid(f, path, "expects a JSON array of strings, got "+kind(v))
		}
		out := make([]any, 0, len(l))
		for _, e := range l {
			if _, ok := e.(string); !ok {
				return nil, invalid(f, path, "expects a JSON array of strings, got one holding "+kind(e))
			}
			out = append(out, e)
		}
		return out, nil
	case FormatDate:
		s, ok := v.(string)
		if !ok || !isDate(s) {
			return nil, invalid(f, path, "expects a YYYY-MM-DD date, got "+describe(v))
		}
		return s, nil
	case FormatDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, invalid(f, path, "expects an ISO 8601 timestamp, got "+kind(v))
		}
		tm, err := parseS3Time(s)
		if err != nil {
			return nil, invalid(f, path, "expects an ISO 8601 timestamp such as 2022-03-08T13:15:35.000Z, got a string of another form")
		}
		// date-time is RFC 3339 (the model's timestampFormat); UTC keeps ACE's GMT.
		return tm.UTC().Format(time.RFC3339Nano), nil
	case FormatAmount:
		amt, ok := amountString(v)
		if !ok {
			return nil, invalid(f, path, "expects a non-negative amount with at most two decimals, got "+describe(v))
		}
		return amt, nil
	}
	return nil, invalid(f, path, "has format "+string(f.Format)+", which ToAPI does not know")
}

// apiEnumValue translates one S3 value (values.csv) and checks it against the field's enum.
func (t *table) apiEnumValue(f *Field, path, s string) (string, *Issue) {
	if a, ok := t.toAPI[f.S3][s]; ok {
		s = a
	}
	if f.Enum == "" || s == "" {
		return s, nil
	}
	vals := t.enums[f.Enum]
	if slices.Contains(vals, s) {
		return s, nil
	}
	shown := vals
	more := ""
	if len(shown) > 8 {
		shown, more = shown[:8], ", …"
	}
	return "", invalid(f, path, fmt.Sprintf("expects one of the %d values of %s (%s%s), got a value outside them",
		len(vals), f.Enum, strings.Join(shown, ", "), more))
}

func (t *table) fromAPI(f *Field, v any) (any, *Issue) {
	path := f.Path
	switch f.Format {
	case FormatName:
		o, ok := v.(map[string]any)
		if !ok {
			return nil, invalid(f, path, "expects an object with FirstName and LastName, got "+kind(v))
		}
		first, _ := o["FirstName"].(string)
		last, _ := o["LastName"].(string)
		name := strings.TrimSpace(strings.TrimSpace(first) + " " + strings.TrimSpace(last))
		if name == "" {
			return nil, nil
		}
		return name, nil
	case FormatString:
		s, ok := v.(string)
		if !ok {
			return nil, invalid(f, path, "expects a string, got "+kind(v))
		}
		return t.s3Value(f, s), nil
	case FormatList:
		l, ok := v.([]any)
		if !ok {
			return nil, invalid(f, path, "expects a list of strings, got "+kind(v))
		}
		if len(l) == 0 {
			if s, ok := t.toS3[f.S3][""]; ok {
				return s, nil
			}
			return nil, nil
		}
		parts := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, invalid(f, path, "expects a list of strings, got one holding "+kind(e))
			}
			parts = append(parts, t.s3Value(f, s))
		}
		return strings.Join(parts, ";"), nil
	case FormatArray:
		l, ok := v.([]any)
		if !ok {
			return nil, invalid(f, path, "expects a list of strings, got "+kind(v))
		}
		return slices.Clone(l), nil
	case FormatDate:
		s, ok := v.(string)
		if !ok || !isDate(s) {
			return nil, invalid(f, path, "expects a YYYY-MM-DD date, got "+describe(v))
		}
		return s, nil
	case FormatDateTime:
		tm, ok := apiTime(v)
		if !ok {
			return nil, invalid(f, path, "expects an RFC 3339 date-time or epoch seconds, got "+describe(v))
		}
		return s3Time(tm), nil
	case FormatAmount:
		s, ok := v.(string)
		if !ok {
			return nil, invalid(f, path, "expects a decimal string, got "+kind(v))
		}
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || n < 0 || math.IsInf(n, 0) {
			return nil, invalid(f, path, "expects a non-negative decimal string, got a string of another form")
		}
		return n, nil
	}
	return nil, invalid(f, path, "has format "+string(f.Format)+", which FromAPI does not know")
}

func (t *table) s3Value(f *Field, s string) string {
	if v, ok := t.toS3[f.S3][s]; ok && s != "" {
		return v
	}
	return s
}

func invalid(f *Field, path, reason string) *Issue {
	return &Issue{Field: f.S3, Path: path, Kind: IssueInvalid, Reason: reason}
}

// amountPattern is the model's pattern for MonetaryValue.Amount (ExpectedCustomerSpend's
// also allows the empty string, which ToAPI never sends).
var amountPattern = regexp.MustCompile(`^(0|([1-9][0-9]{0,30}))(\.[0-9]{0,2})?$`)

// amountString renders an S3 amount (a JSON number, or a string holding one) as the API's
// decimal string: 100.0 is "100", 12.5 is "12.5".
func amountString(v any) (string, bool) {
	var n float64
	switch v := v.(type) {
	case float64:
		n = v
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return "", false
		}
		n = f
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return "", false
		}
		n = f
	default:
		return "", false
	}
	if n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return "", false
	}
	s := strconv.FormatFloat(n, 'f', -1, 64)
	return s, amountPattern.MatchString(s)
}

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// parseS3Time reads an S3 timestamp: ISO 8601 in GMT, with or without fractional seconds
// ("2022-03-08T13:15:35.000Z"); a bare date is midnight GMT.
func parseS3Time(s string) (time.Time, error) {
	if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return tm, nil
	}
	return time.Parse(time.DateOnly, s)
}

// apiTime reads a Selling API timestamp: RFC 3339 (the model's timestampFormat date-time
// for every timestamp) or, leniently, epoch seconds, awsJson1_0's default.
func apiTime(v any) (time.Time, bool) {
	var secs float64
	switch v := v.(type) {
	case string:
		tm, err := time.Parse(time.RFC3339Nano, v)
		return tm, err == nil
	case float64:
		secs = v
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return time.Time{}, false
		}
		secs = f
	default:
		return time.Time{}, false
	}
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(math.Round(frac*1e9))), true
}

// s3Time renders a timestamp as ACE's S3 records do (2022-03-08T13:15:35.000Z), with more
// digits only when the instant has them, so an UpdateOpportunity built from the record
// sends back the LastModifiedDate AWS returned.
func s3Time(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		return t.Format(time.RFC3339Nano)
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(v) == ""
	}
	return false
}

// kind names the JSON type of v, never its content.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64, json.Number, int, int64:
		return "a number"
	case bool:
		return "true or false"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// describe is kind, with a string's length, which helps tell a timestamp from a date
// without showing either.
func describe(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("a %d-character string", len([]rune(s)))
	}
	return kind(v)
}

func opName(op Operation) string {
	switch op {
	case OpCreate:
		return "CreateOpportunity"
	case OpUpdate:
		return "UpdateOpportunity"
	}
	return string(op)
}

func opNames(ops []Operation) string {
	names := make([]string, len(ops))
	for i, op := range ops {
		names[i] = opName(op)
	}
	return strings.Join(names, " and ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mapped is the mapping of the S3 field key, or the Issue saying why the Selling API does not
// carry it (unknown to AWS's table, or a field the API has no place for); fate says what
// becomes of its value ("not sent", "left out").
func (t *table) mapped(key, fate string) (*Field, *Issue) {
	f, ok := t.byS3[key]
	switch {
	case !ok:
		return nil, &Issue{Field: key, Kind: IssueUnknownField, Reason: "is not in AWS's S3-to-Selling-API mapping table; " + fate}
	case f.Source == SourceNone:
		return nil, &Issue{Field: key, Kind: IssueUnmapped,
			Reason: "is not carried by the Selling API (" + strings.TrimSuffix(f.Note, ".") + "); " + fate}
	}
	return f, nil
}
