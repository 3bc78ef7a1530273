package mapping

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"github.com/oppsync/oppsync/ace"
)

// Edited returns the CRM fields of object that ACE and the CRM both write (direction both)
// whose value in crmRecord means something else to ACE than aceFields' value, in mapping
// order. With aceFields ACE's last version of the record, they are the sales team's edits
// that ACE has not confirmed: a connector keeps them when ACE's next version is written.
//
// Values are compared as ACE reads them (FromCRM's conversion of the CRM's value and of
// the value ToCRM writes for ACE's), so the CRM's own spelling of a number, date or
// datetime (1000.0 for 1000, an offset), the order of multi-select values, and a CRM
// picklist value that stands for the same ACE value (fromCRM: "Value Proposition" for
// Qualified) are not edits. A field absent from crmRecord is not compared (it was not
// read); one absent from aceFields compares with an empty value.
func (m *Mapping) Edited(object ace.Object, crmRecord map[string]any, aceFields map[string]json.RawMessage) ([]string, error) {
	om, err := m.Object(object)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range om.Fields {
		if !f.outbound() || !f.inbound() || slices.Contains(out, f.CRM) {
			continue
		}
		have, read := crmRecord[f.CRM]
		if !read {
			continue
		}
		var want any
		if raw, ok := aceFields[f.ACE]; ok {
			if want, err = f.toCRM(raw); err != nil {
				want = nil // ACE's value cannot be written: any value the CRM holds is its own
			}
		}
		if !f.sameCRMValue(have, want) {
			out = append(out, f.CRM)
		}
	}
	return out, nil
}

// sameCRMValue reports whether two values of the field's CRM field mean the same ACE
// value; see Edited.
func (f Field) sameCRMValue(a, b any) bool {
	ja, errA := f.fromCRM(a)
	jb, errB := f.fromCRM(b)
	if errA != nil || errB != nil {
		return textOf(a) == textOf(b)
	}
	va, vb := aceValue(f.Type, ja), aceValue(f.Type, jb)
	return reflect.DeepEqual(va, vb)
}

// aceValue decodes an ACE value for comparison: empty strings and arrays are null, and
// multi-select values are sorted.
func aceValue(t Type, raw json.RawMessage) any {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		if t == Multi {
			if p := picklistValues(x); len(p) > 0 {
				return p
			}
			return nil
		}
	case []any:
		if len(x) == 0 {
			return nil
		}
		if t == Array {
			s := make([]string, len(x))
			for i, it := range x {
				s[i] = textOf(it)
			}
			slices.Sort(s)
			return s
		}
	}
	return v
}

// picklistValues is a multi-select value's values, sorted, without empty ones.
func picklistValues(v any) []string {
	var out []string
	for _, p := range strings.Split(textOf(v), ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
