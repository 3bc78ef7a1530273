package sellingcontract

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Codes of ValidationExceptionError (the model's ValidationExceptionErrorCode enum).
const (
	CodeRequiredFieldMissing = "REQUIRED_FIELD_MISSING"
	CodeInvalidEnumValue     = "INVALID_ENUM_VALUE"
	CodeInvalidStringFormat  = "INVALID_STRING_FORMAT"
	CodeInvalidValue         = "INVALID_VALUE"
	CodeNotEnoughValues      = "NOT_ENOUGH_VALUES"
	CodeTooManyValues        = "TOO_MANY_VALUES"
	CodeInvalidResourceState = "INVALID_RESOURCE_STATE"
	CodeValueOutOfRange      = "VALUE_OUT_OF_RANGE"
	CodeActionNotPermitted   = "ACTION_NOT_PERMITTED"
)

// FieldError is one entry of a ValidationException's ErrorList (the model's
// ValidationExceptionError): the path of the field (members joined by ".", list items as
// "[i]"), what is wrong, and the code.
type FieldError struct {
	FieldName string `json:"FieldName,omitempty"`
	Message   string `json:"Message"`
	Code      string `json:"Code"`
}

// serializationError is a body that does not have the JSON types the shape says (a string
// where a structure belongs, a number that is not an integer, a timestamp that is not
// date-time): AWS's JSON protocols refuse these while deserializing, before validation, as
// SerializationException.
type serializationError struct{ msg string }

func (e *serializationError) Error() string { return e.msg }

// checker walks a decoded JSON value (numbers as json.Number) against a shape.
type checker struct {
	errs []FieldError
	ser  *serializationError
	// strict also reports members the shape does not have: used on responses, which must
	// carry only what the model says; requests' unknown members are ignored, as AWS's JSON
	// protocols do for forward compatibility.
	strict bool
}

func (c *checker) fail(path, code, msg string) {
	c.errs = append(c.errs, FieldError{FieldName: path, Message: msg, Code: code})
}

func (c *checker) serial(path, want string, got any) {
	if c.ser == nil {
		c.ser = &serializationError{msg: fmt.Sprintf("%s: expected %s, found %s", orBody(path), want, jsonKind(got))}
	}
}

func orBody(path string) string {
	if path == "" {
		return "request body"
	}
	return path
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (c *checker) structure(path string, s *shape, v any) {
	obj, ok := v.(map[string]any)
	if !ok {
		c.serial(path, "a JSON object ("+s.Name+")", v)
		return
	}
	if c.strict {
		for name := range obj {
			if _, known := s.Members[name]; !known {
				c.fail(join(path, name), CodeInvalidValue, "member "+name+" is not in shape "+s.Name)
			}
		}
	}
	if s.Type == "union" {
		var set []string
		for _, name := range s.Order {
			if x, ok := obj[name]; ok && x != nil {
				set = append(set, name)
			}
		}
		if len(set) != 1 {
			c.fail(path, CodeInvalidValue, fmt.Sprintf("union %s must set exactly one of %s; it sets %d", s.Name, strings.Join(s.Order, ", "), len(set)))
		}
	}
	for _, name := range s.Order {
		mem := s.Members[name]
		t := mem.effective()
		x, present := obj[name]
		if !present || x == nil {
			if t.Required && !t.HasDefault && s.Type != "union" {
				c.fail(join(path, name), CodeRequiredFieldMissing, "Member "+name+" is required")
			}
			continue
		}
		c.value(join(path, name), t, mem.Target, x)
	}
}

func (c *checker) value(path string, t traits, s *shape, v any) {
	switch s.Type {
	case "structure", "union":
		c.structure(path, s, v)
	case "list", "set":
		arr, ok := v.([]any)
		if !ok {
			c.serial(path, "a JSON array ("+s.Name+")", v)
			return
		}
		c.count(path, t, len(arr), "values")
		et := s.Member.effective()
		for i, x := range arr {
			p := fmt.Sprintf("%s[%d]", path, i)
			if x == nil {
				c.fail(p, CodeInvalidValue, "list "+s.Name+" does not take null values")
				continue
			}
			c.value(p, et, s.Member.Target, x)
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			c.serial(path, "a JSON object ("+s.Name+")", v)
			return
		}
		c.count(path, t, len(obj), "entries")
		kt, vt := s.Key.effective(), s.Value.effective()
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			c.value(path+"."+k+"(key)", kt, s.Key.Target, k)
			if obj[k] != nil {
				c.value(path+"."+k, vt, s.Value.Target, obj[k])
			}
		}
	case "string", "enum":
		str, ok := v.(string)
		if !ok {
			c.serial(path, "a JSON string ("+s.Name+")", v)
			return
		}
		if s.Type == "enum" {
			if !s.Enum[str] {
				c.fail(path, CodeInvalidEnumValue, fmt.Sprintf("Member must be one of the values of %s: %s", s.Name, strings.Join(sortedKeys(s.Enum), ", ")))
			}
			return
		}
		n := utf8.RuneCountInString(str)
		if (t.MinLen != nil && int64(n) < *t.MinLen) || (t.MaxLen != nil && int64(n) > *t.MaxLen) {
			c.fail(path, CodeInvalidStringFormat, "Member must have length "+bounds(t.MinLen, t.MaxLen))
		}
		if (t.PatLen && (n < t.PatMin || n > t.PatMax)) || (t.Regexp != nil && !t.Regexp.MatchString(str)) {
			c.fail(path, CodeInvalidStringFormat, "Member must satisfy regular expression pattern: "+t.Pattern)
		}
	case "integer", "long", "short", "byte":
		num, ok := v.(json.Number)
		if !ok {
			c.serial(path, "a JSON number ("+s.Name+")", v)
			return
		}
		i, err := num.Int64()
		if err != nil || (s.Type == "integer" && (i > math.MaxInt32 || i < math.MinInt32)) {
			c.serial(path, "an integer ("+s.Name+")", v)
			return
		}
		if (t.Min != nil && float64(i) < *t.Min) || (t.Max != nil && float64(i) > *t.Max) {
			c.fail(path, CodeValueOutOfRange, "Member must be in range "+rangeText(t.Min, t.Max))
		}
	case "double", "float":
		num, ok := v.(json.Number)
		if !ok {
			c.serial(path, "a JSON number ("+s.Name+")", v)
			return
		}
		f, err := num.Float64()
		if err != nil {
			c.serial(path, "a number ("+s.Name+")", v)
			return
		}
		if (t.Min != nil && f < *t.Min) || (t.Max != nil && f > *t.Max) {
			c.fail(path, CodeValueOutOfRange, "Member must be in range "+rangeText(t.Min, t.Max))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			c.serial(path, "true or false ("+s.Name+")", v)
		}
	case "timestamp":
		switch t.TimeFormat {
		case "date-time":
			str, ok := v.(string)
			if !ok {
				c.serial(path, "an RFC 3339 date-time string", v)
				return
			}
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				c.serial(path, "an RFC 3339 date-time string", v)
			}
		case "", "epoch-seconds":
			if _, ok := v.(json.Number); !ok {
				c.serial(path, "epoch seconds (a JSON number)", v)
			}
		default:
			if _, ok := v.(string); !ok {
				c.serial(path, "a "+t.TimeFormat+" string", v)
			}
		}
	case "document":
	default:
		c.serial(path, "a value of unsupported type "+s.Type, v)
	}
}

func (c *checker) count(path string, t traits, n int, what string) {
	if t.MinLen != nil && int64(n) < *t.MinLen {
		c.fail(path, CodeNotEnoughValues, fmt.Sprintf("Member must have at least %d %s", *t.MinLen, what))
	}
	if t.MaxLen != nil && int64(n) > *t.MaxLen {
		c.fail(path, CodeTooManyValues, fmt.Sprintf("Member must have at most %d %s", *t.MaxLen, what))
	}
}

func bounds(lo, hi *int64) string {
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("between %d and %d", *lo, *hi)
	case lo != nil:
		return fmt.Sprintf("at least %d", *lo)
	case hi != nil:
		return fmt.Sprintf("at most %d", *hi)
	}
	return "any"
}

func rangeText(lo, hi *float64) string {
	l, h := "-inf", "+inf"
	if lo != nil {
		l = fmt.Sprint(*lo)
	}
	if hi != nil {
		h = fmt.Sprint(*hi)
	}
	return "[" + l + ", " + h + "]"
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Check validates a decoded JSON document (numbers as json.Number) against the input or
// output shape named shapeName. Requests ignore unknown members, as AWS does; strict (for
// responses) reports them too. A type mismatch is returned as the error.
func (m *Model) Check(shapeName string, doc any, strict bool) ([]FieldError, error) {
	s, ok := m.Shapes[shapeName]
	if !ok {
		return nil, fmt.Errorf("sellingcontract: no shape %s in the model", shapeName)
	}
	c := &checker{strict: strict}
	c.structure("", s, doc)
	if c.ser != nil {
		return c.errs, c.ser
	}
	return c.errs, nil
}

// project keeps of v only what shape s has, recursively: a stored document answered as a
// response shape (a GetOpportunityResponse as an OpportunitySummary, say).
func project(s *shape, v any) any {
	switch s.Type {
	case "structure", "union":
		obj, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(obj))
		for name, x := range obj {
			if mem, ok := s.Members[name]; ok && x != nil {
				out[name] = project(mem.Target, x)
			}
		}
		return out
	case "list", "set":
		arr, ok := v.([]any)
		if !ok {
			return v
		}
		out := make([]any, len(arr))
		for i, x := range arr {
			out[i] = project(s.Member.Target, x)
		}
		return out
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(obj))
		for k, x := range obj {
			out[k] = project(s.Value.Target, x)
		}
		return out
	}
	return v
}
