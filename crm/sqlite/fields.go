package sqlite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
)

// A record's fields are handled as a JSON object of raw members (ACE's key names, values
// byte for byte), never through a struct: ACE's keys are case-sensitive and a field ACE
// adds later must survive every read-modify-write.
type jsonObject = map[string]json.RawMessage

// aceIDKey is ACE's record id key, the same on opportunities and leads.
const aceIDKey = "apnCrmUniqueIdentifier"

// decodeObject parses a JSON object. Empty input reads as an empty object.
func decodeObject(b []byte) (jsonObject, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return jsonObject{}, nil
	}
	if ace.JSONKind(b) != "object" {
		return nil, fmt.Errorf("is a JSON %s, want an object", ace.JSONKind(b))
	}
	var m jsonObject
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = jsonObject{}
	}
	return m, nil
}

// encodeObject renders m compacted with sorted keys. Unlike json.Marshal it leaves <, >
// and & alone, so a value is stored as it was given.
func encodeObject(m jsonObject) []byte {
	if m == nil {
		m = jsonObject{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		// Every value came from a successful decode or from json.Marshal.
		panic(fmt.Sprintf("sqlite CRM: encode JSON object: %v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// str returns a JSON string member's value and whether m[key] is a string.
func str(m jsonObject, key string) (string, bool) {
	raw, ok := m[key]
	if !ok || ace.JSONKind(raw) != "string" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// mergePatch applies patch to target as a JSON Merge Patch (RFC 7386): null removes a
// member, an object merges into an object member, anything else replaces. target is not
// modified.
func mergePatch(target, patch jsonObject) (jsonObject, error) {
	out := make(jsonObject, len(target)+len(patch))
	for k, v := range target {
		out[k] = v
	}
	for k, pv := range patch {
		switch ace.JSONKind(pv) {
		case "null":
			delete(out, k)
		case "object":
			sub, err := decodeObject(pv)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			base := jsonObject{}
			if tv, ok := out[k]; ok && ace.JSONKind(tv) == "object" {
				if base, err = decodeObject(tv); err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
			}
			merged, err := mergePatch(base, sub)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = encodeObject(merged)
		default:
			out[k] = pv
		}
	}
	return out, nil
}

// applyEdits returns base (ACE's version) with the CRM's edits on top: each edited member
// replaces ACE's whole value, and null removes it. Top-level replacement rather than a
// merge patch, because an edit holds the member's complete new value.
func applyEdits(base, edits jsonObject) jsonObject {
	out := make(jsonObject, len(base)+len(edits))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range edits {
		if ace.JSONKind(v) == "null" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// columnKind says how a mapped column reads its ACE field.
type columnKind int

const (
	textColumn   columnKind = iota // a string; anything else reads as ''
	numberColumn                   // a JSON number or numeric string; anything else NULL
	timeColumn                     // an ACE date or timestamp, stored in timeLayout; else ''
)

// column maps one ACE field to a table column.
type column struct {
	name string // column name
	key  string // ACE key, case-sensitive
	kind columnKind
}

// columnValues reads the mapped columns of cols out of a record's fields. It is lenient:
// the fields may be the sales team's unvalidated edits, and a value of the wrong type
// leaves its column empty rather than failing the edit (pre-flight validation reports it).
func columnValues(cols []column, m jsonObject) []any {
	out := make([]any, len(cols))
	for i, c := range cols {
		switch c.kind {
		case textColumn:
			s, _ := str(m, c.key)
			out[i] = s
		case numberColumn:
			out[i] = number(m[c.key])
		case timeColumn:
			s, _ := str(m, c.key)
			t, err := parseACETime(s)
			if err != nil {
				t = time.Time{}
			}
			out[i] = formatTime(t)
		}
	}
	return out
}

// number reads a JSON number or a numeric string (ACE sends amounts both ways); nil when
// absent or not a number.
func number(raw json.RawMessage) any {
	var s string
	switch ace.JSONKind(raw) {
	case "number":
		s = string(bytes.TrimSpace(raw))
	case "string":
		if json.Unmarshal(raw, &s) != nil {
			return nil
		}
		s = strings.TrimSpace(s)
	default:
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil
	}
	return f
}

// parseACETime reads a GMT date or timestamp as ACE writes them ("2022-03-08T13:15:35.000Z",
// "2022-09-24"); "" is the zero time.
func parseACETime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not an ACE date")
}
