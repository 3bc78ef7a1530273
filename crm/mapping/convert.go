package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
)

// aceDateTime is how ACE writes datetimes: "2022-03-08T13:15:35.000Z".
const aceDateTime = "2006-01-02T15:04:05.000Z"

// ToCRM translates an ACE record (its JSON members, as ace.Fields returns them) into the
// CRM fields to write: every outbound field mapping present in the record, converted and
// value-mapped, plus the external id, ACE's lastModifiedDate and the raw record. A JSON
// null clears the CRM field (nil value). The partner id is never written: it is the CRM's
// own record id. Problems are returned together, each naming the ACE field.
func (m *Mapping) ToCRM(object ace.Object, aceFields map[string]json.RawMessage) (map[string]any, error) {
	om, err := m.Object(object)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(om.Fields)+3)
	var errs []error
	for _, f := range om.Fields {
		if !f.outbound() {
			continue
		}
		raw, ok := aceFields[f.ACE]
		if !ok {
			continue
		}
		v, err := f.toCRM(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("ACE field %s → %s.%s: %w", f.ACE, om.CRMObject, f.CRM, err))
			continue
		}
		out[f.CRM] = v
	}
	if id := stringValue(aceFields[aceIDKey]); id != "" && om.ExternalID != "" {
		out[om.ExternalID] = id
	}
	if om.ACELastModified != "" {
		if lm := stringValue(aceFields["lastModifiedDate"]); lm != "" {
			out[om.ACELastModified] = lm
		}
	}
	if om.Raw != "" {
		b, err := json.Marshal(aceFields) // sorted keys: the same record always gives the same text
		if err != nil {
			errs = append(errs, fmt.Errorf("raw ACE record: %w", err))
		} else {
			out[om.Raw] = string(b)
		}
	}
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	return out, nil
}

// FromCRM rebuilds an ACE record from a CRM record: the raw ACE record the CRM holds (if
// any) with every inbound field mapping applied on top, ACE's id from the external id field
// and the partner id from the partner-id field. A CRM field that is absent leaves ACE's
// value; a CRM null clears it (JSON null). Problems are returned together.
func (m *Mapping) FromCRM(object ace.Object, crmFields map[string]any) (map[string]json.RawMessage, error) {
	om, err := m.Object(object)
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	var errs []error
	if om.Raw != "" {
		if s, ok := crmFields[om.Raw].(string); ok && strings.TrimSpace(s) != "" {
			base, err := ace.Fields(json.RawMessage(s))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.%s (raw ACE record): %w", om.CRMObject, om.Raw, err))
			} else {
				out = base
			}
		}
	}
	for _, f := range om.Fields {
		if !f.inbound() {
			continue
		}
		v, ok := crmFields[f.CRM]
		if !ok {
			continue
		}
		raw, err := f.fromCRM(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.%s → ACE field %s: %w", om.CRMObject, f.CRM, f.ACE, err))
			continue
		}
		out[f.ACE] = raw
	}
	if om.ExternalID != "" {
		if id := textOf(crmFields[om.ExternalID]); id != "" {
			out[aceIDKey] = jsonString(id)
		}
	}
	if om.PartnerID != "" {
		if id := textOf(crmFields[om.PartnerID]); id != "" {
			out[PartnerKey(object)] = jsonString(id)
		}
	}
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	return out, nil
}

// toCRM converts one ACE value.
func (f Field) toCRM(raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch f.Type {
	case Number:
		var n json.Number
		if raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, err
			}
			if strings.TrimSpace(s) == "" {
				return nil, nil
			}
			n = json.Number(strings.TrimSpace(s))
		} else if err := json.Unmarshal(raw, &n); err != nil {
			return nil, fmt.Errorf("want a number, got %s", snippet(raw))
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return nil, fmt.Errorf("want a number, got %s", snippet(raw))
		}
		return n, nil
	case Array:
		if raw[0] != '[' {
			s, err := aceString(raw)
			if err != nil {
				return nil, err
			}
			return f.mapMulti(s, f.Values), nil
		}
		var items []string
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("want an array of strings, got %s", snippet(raw))
		}
		for i, it := range items {
			items[i] = mapValue(it, f.Values)
		}
		return strings.Join(items, ";"), nil
	case Bool:
		s, err := aceString(raw)
		if err != nil {
			var b bool
			if json.Unmarshal(raw, &b) == nil {
				return b, nil
			}
			return nil, err
		}
		switch s {
		case "Yes":
			return true, nil
		case "No":
			return false, nil
		case "":
			return nil, nil
		}
		return nil, fmt.Errorf("want Yes or No, got %s", ace.DescribeString(s))
	}
	s, err := aceString(raw)
	if err != nil {
		return nil, err
	}
	switch f.Type {
	case Multi:
		return f.mapMulti(s, f.Values), nil
	case Date, DateTime:
		if s == "" {
			return nil, nil
		}
		return s, nil
	}
	return mapValue(s, f.Values), nil
}

func (f Field) mapMulti(s string, values map[string]string) string {
	if s == "" {
		return ""
	}
	parts := strings.Split(s, ";")
	for i, p := range parts {
		parts[i] = mapValue(strings.TrimSpace(p), values)
	}
	return strings.Join(parts, ";")
}

// reverse returns the CRM→ACE value map: the inverse of Values, then FromCRM.
func (f Field) reverse() map[string]string {
	if len(f.Values) == 0 && len(f.FromCRM) == 0 {
		return nil
	}
	r := make(map[string]string, len(f.Values)+len(f.FromCRM))
	// Sorted, so two ACE values mapped to one CRM value reverse deterministically (the first wins).
	keys := make([]string, 0, len(f.Values))
	for k := range f.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, dup := r[f.Values[k]]; !dup {
			r[f.Values[k]] = k
		}
	}
	for k, v := range f.FromCRM {
		r[k] = v
	}
	return r
}

// fromCRM converts one CRM value to ACE's JSON.
func (f Field) fromCRM(v any) (json.RawMessage, error) {
	if v == nil {
		return json.RawMessage("null"), nil
	}
	switch f.Type {
	case Number:
		switch n := v.(type) {
		case float64:
			return json.Marshal(n)
		case json.Number:
			return json.RawMessage(n.String()), nil
		case int:
			return json.Marshal(n)
		case int64:
			return json.Marshal(n)
		case string:
			if strings.TrimSpace(n) == "" {
				return json.RawMessage("null"), nil
			}
			if _, err := strconv.ParseFloat(n, 64); err != nil {
				return nil, fmt.Errorf("want a number, got %s", ace.DescribeString(n))
			}
			return json.RawMessage(strings.TrimSpace(n)), nil
		}
		return nil, fmt.Errorf("want a number, got %T", v)
	case Bool:
		b, ok := v.(bool)
		if !ok {
			s := textOf(v)
			switch strings.ToLower(s) {
			case "true":
				b = true
			case "false":
				b = false
			case "":
				return json.RawMessage("null"), nil
			default:
				return nil, fmt.Errorf("want a checkbox (true/false), got %s", ace.DescribeString(s))
			}
		}
		if b {
			return jsonString("Yes"), nil
		}
		return jsonString("No"), nil
	case Date, DateTime:
		t, isTime, err := crmTime(v)
		if err != nil {
			return nil, err
		}
		if !isTime {
			s := textOf(v)
			if s == "" {
				return json.RawMessage("null"), nil
			}
			return jsonString(s), nil
		}
		if f.Type == Date {
			return jsonString(t.UTC().Format(time.DateOnly)), nil
		}
		return jsonString(t.UTC().Format(aceDateTime)), nil
	}
	s := textOf(v)
	rev := f.reverse()
	switch f.Type {
	case Multi:
		if s == "" {
			return json.RawMessage("null"), nil
		}
		return jsonString(f.mapMulti(s, rev)), nil
	case Array:
		if s == "" {
			return json.RawMessage("[]"), nil
		}
		parts := strings.Split(s, ";")
		for i, p := range parts {
			parts[i] = mapValue(strings.TrimSpace(p), rev)
		}
		return json.Marshal(parts)
	}
	if s == "" {
		return json.RawMessage("null"), nil
	}
	return jsonString(mapValue(s, rev)), nil
}

// crmTime reads a CRM date or datetime: epoch milliseconds (HubSpot) or an ISO form
// (Salesforce "2026-01-31T10:00:00.000+0000", RFC 3339, yyyy-mm-dd). isTime is false for
// a string in none of these forms, which is passed through.
func crmTime(v any) (t time.Time, isTime bool, err error) {
	switch n := v.(type) {
	case float64:
		return time.UnixMilli(int64(n)).UTC(), true, nil
	case json.Number:
		ms, err := n.Int64()
		if err != nil {
			return time.Time{}, false, fmt.Errorf("want epoch milliseconds, got %s", n)
		}
		return time.UnixMilli(ms).UTC(), true, nil
	case time.Time:
		return n, true, nil
	}
	s := strings.TrimSpace(textOf(v))
	if s == "" {
		return time.Time{}, false, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && len(s) > 8 {
		return time.UnixMilli(ms).UTC(), true, nil
	}
	t, err = ParseTime(s)
	if err != nil {
		return time.Time{}, false, nil
	}
	return t, true, nil
}

// ParseTime reads the datetime forms CRMs and ACE use: RFC 3339 with or without fraction,
// Salesforce's "2006-01-02T15:04:05.000+0000", and yyyy-mm-dd (midnight UTC).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s is not a date or datetime", ace.DescribeString(s))
}

func mapValue(s string, values map[string]string) string {
	if v, ok := values[s]; ok {
		return v
	}
	return s
}

// aceString reads a JSON string (numbers and booleans are spelt as they are).
func aceString(raw json.RawMessage) (string, error) {
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '{', '[':
		return "", fmt.Errorf("want a single value, got %s", snippet(raw))
	}
	return string(raw), nil
}

// stringValue is a JSON string's value, "" for anything else.
func stringValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// textOf spells a CRM value as text.
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// snippet describes a value in an error by kind and length (ace.DescribeJSON): the error
// reaches the quarantine reason and history, and the value may be personal data.
func snippet(raw []byte) string { return ace.DescribeJSON(raw) }
