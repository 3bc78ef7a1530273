package crm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oppsync/oppsync/ace"
)

// KeepUnmasked returns incoming (ACE's new version of a record, a JSON object) with every
// member that is ACE's mask (ace.IsMasked), where stored (the CRM's copy of ACE's last
// version) holds a real value, set back to the stored value: a masked value carries no
// data and must not erase data the CRM already has, while an unmasked value fills it. It
// returns incoming itself when there is nothing to restore, so an unmasked record is
// stored byte for byte. A blank or unreadable stored record restores nothing; the error
// says incoming is not a JSON object. Every connector applies it before it compares and
// writes, so a masked file applied again is unchanged.
func KeepUnmasked(incoming, stored []byte) ([]byte, error) {
	if !containsMask(incoming) || len(bytes.TrimSpace(stored)) == 0 {
		return incoming, nil
	}
	in, err := ace.Fields(incoming)
	if err != nil {
		return nil, fmt.Errorf("record %w", err)
	}
	old, err := ace.Fields(stored)
	if err != nil {
		return incoming, nil // nothing readable to keep (a CRM user may have edited the raw field)
	}
	restored := false
	for k, v := range in {
		if s, ok := jsonText(v); !ok || !ace.IsMasked(s) {
			continue
		}
		if kept := old[k]; IsRealValue(kept) {
			in[k] = kept
			restored = true
		}
	}
	if !restored {
		return incoming, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // a value is stored as it was given
	if err := enc.Encode(in); err != nil {
		return nil, err // raw members of a decoded object always encode
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// IsRealValue reports whether a JSON value holds data: present, not null, not a blank
// string and not ACE's mask.
func IsRealValue(raw json.RawMessage) bool {
	switch ace.JSONKind(raw) {
	case "empty value", "null":
		return false
	case "string":
		s, ok := jsonText(raw)
		return ok && strings.TrimSpace(s) != "" && !ace.IsMasked(s)
	default:
		return true
	}
}

// jsonText returns a JSON string's text, and false for any other value.
func jsonText(raw json.RawMessage) (string, bool) {
	var s string
	if ace.JSONKind(raw) != "string" || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// containsMask reports whether b holds ACE's mask in any case: the quick test that spares
// decoding the records that carry none (nearly all).
func containsMask(b []byte) bool {
	m := []byte(ace.MaskedValue)
	for i := 0; i+len(m) <= len(b); i++ {
		if b[i]|0x20 == 'a' && bytes.EqualFold(b[i:i+len(m)], m) {
			return true
		}
	}
	return false
}
