package crm

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// SameJSON reports whether two JSON documents are equal: byte for byte, or else as values
// (key order ignored, number spellings such as 1.0 and 1 kept distinct), so that a
// re-serialised but equal record does not count as a change.
func SameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}
