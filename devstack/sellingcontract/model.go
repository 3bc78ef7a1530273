package sellingcontract

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/oppsync/oppsync/sellingapi/model"
)

// ServiceName is the Smithy service shape's name: X-Amz-Target is ServiceName.<Operation>.
const ServiceName = "AWSPartnerCentralSelling"

// SigningName is the service name a SigV4 credential scope must carry (the model's
// aws.auth#sigv4 trait).
const SigningName = "partnercentral-selling"

const namespace = "com.amazonaws.partnercentralselling#"

// shape is one Smithy shape with the traits the server enforces, resolved once at start.
type shape struct {
	Name    string
	Type    string // structure, union, list, map, string, enum, integer, timestamp, ...
	Members map[string]*member
	Order   []string // member names sorted, for stable error lists
	Member  *member  // list member
	Key     *member  // map key
	Value   *member  // map value
	Enum    map[string]bool
	traits
	// Error shapes: the fault and the HTTP status of smithy.api#httpError.
	ErrorFault string
	HTTPStatus int
}

// traits are the constraint traits of a shape or of a member (a member's own traits
// override its target's, as Smithy says).
type traits struct {
	Required   bool
	HasDefault bool
	MinLen     *int64
	MaxLen     *int64
	Min        *float64
	Max        *float64
	Pattern    string
	Regexp     *regexp.Regexp // nil when Pattern is empty, only a length, or Go cannot compile it
	// PatMin and PatMax, when PatLen, are a length (in characters) the pattern requires:
	// a whole pattern ^(?s).{m,n}$ or a leading lookahead ^(?=.{m,n}$), which RE2 cannot
	// express (no lookaheads, no repeat counts over 1000).
	PatLen         bool
	PatMin, PatMax int
	Sensitive      bool
	Idempotent     bool // smithy.api#idempotencyToken
	TimeFormat     string
}

type member struct {
	Name   string
	Target *shape
	traits
}

// operation is one operation of the service.
type operation struct {
	Name     string
	Input    *shape // nil for smithy.api#Unit
	Output   *shape // nil for smithy.api#Unit
	Errors   map[string]*shape
	ReadOnly bool
	// TokenMember is the input member carrying smithy.api#idempotencyToken, if any.
	TokenMember string
}

// Model is the service model the server checks requests and responses against.
type Model struct {
	Shapes     map[string]*shape // by name without namespace
	Operations map[string]*operation
	// UncompiledPatterns lists the pattern traits Go's regexp cannot compile (lookaheads,
	// mostly), as "Shape[.Member]: pattern"; values are not checked against them.
	UncompiledPatterns []string
}

type rawShape struct {
	Type       string                     `json:"type"`
	Members    map[string]rawMember       `json:"members"`
	Member     *rawMember                 `json:"member"`
	Key        *rawMember                 `json:"key"`
	Value      *rawMember                 `json:"value"`
	Traits     map[string]json.RawMessage `json:"traits"`
	Input      *rawMember                 `json:"input"`
	Output     *rawMember                 `json:"output"`
	Errors     []rawMember                `json:"errors"`
	Operations []rawMember                `json:"operations"`
	Resources  []rawMember                `json:"resources"`
	Create     *rawMember                 `json:"create"`
	Read       *rawMember                 `json:"read"`
	Update     *rawMember                 `json:"update"`
	Delete     *rawMember                 `json:"delete"`
	List       *rawMember                 `json:"list"`
}

type rawMember struct {
	Target string                     `json:"target"`
	Traits map[string]json.RawMessage `json:"traits"`
}

// LoadModel parses the embedded Smithy JSON model of the Selling API.
func LoadModel() (*Model, error) {
	return parseModel(model.JSON)
}

func parseModel(data []byte) (*Model, error) {
	var doc struct {
		Smithy string              `json:"smithy"`
		Shapes map[string]rawShape `json:"shapes"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("sellingcontract: parse model: %w", err)
	}
	m := &Model{Shapes: map[string]*shape{}, Operations: map[string]*operation{}}
	// Prelude shapes the model targets.
	for _, p := range []struct{ name, typ string }{
		{"smithy.api#String", "string"}, {"smithy.api#Integer", "integer"}, {"smithy.api#Long", "long"},
		{"smithy.api#Boolean", "boolean"}, {"smithy.api#Double", "double"}, {"smithy.api#Float", "float"},
		{"smithy.api#Timestamp", "timestamp"}, {"smithy.api#Document", "document"}, {"smithy.api#Unit", "structure"},
		{"smithy.api#PrimitiveBoolean", "boolean"}, {"smithy.api#PrimitiveInteger", "integer"},
	} {
		m.Shapes[p.name] = &shape{Name: p.name, Type: p.typ, Members: map[string]*member{}}
	}
	for id, rs := range doc.Shapes {
		m.Shapes[local(id)] = &shape{Name: local(id), Type: rs.Type, Members: map[string]*member{}}
	}
	lookup := func(target string) (*shape, error) {
		if s, ok := m.Shapes[local(target)]; ok {
			return s, nil
		}
		return nil, fmt.Errorf("sellingcontract: model targets unknown shape %s", target)
	}
	var ops []string
	for id, rs := range doc.Shapes {
		s := m.Shapes[local(id)]
		t, err := parseTraits(rs.Traits)
		if err != nil {
			return nil, fmt.Errorf("sellingcontract: shape %s: %w", id, err)
		}
		s.traits = t
		m.compile(s.Name, &s.traits)
		if raw, ok := rs.Traits["smithy.api#error"]; ok {
			_ = json.Unmarshal(raw, &s.ErrorFault)
			s.HTTPStatus = 400
			if s.ErrorFault == "server" {
				s.HTTPStatus = 500
			}
			if raw, ok := rs.Traits["smithy.api#httpError"]; ok {
				_ = json.Unmarshal(raw, &s.HTTPStatus)
			}
		}
		mk := func(name string, rm *rawMember) (*member, error) {
			target, err := lookup(rm.Target)
			if err != nil {
				return nil, err
			}
			mt, err := parseTraits(rm.Traits)
			if err != nil {
				return nil, fmt.Errorf("member %s: %w", name, err)
			}
			mem := &member{Name: name, Target: target, traits: mt}
			m.compile(s.Name+"."+name, &mem.traits)
			return mem, nil
		}
		switch rs.Type {
		case "structure", "union":
			for _, name := range sortedMembers(rs.Members) {
				rm := rs.Members[name]
				mem, err := mk(name, &rm)
				if err != nil {
					return nil, fmt.Errorf("sellingcontract: shape %s: %w", id, err)
				}
				s.Members[name] = mem
				s.Order = append(s.Order, name)
			}
		case "enum":
			s.Enum = map[string]bool{}
			for name, rm := range rs.Members {
				v := name
				if raw, ok := rm.Traits["smithy.api#enumValue"]; ok {
					_ = json.Unmarshal(raw, &v)
				}
				s.Enum[v] = true
			}
		case "list":
			if s.Member, err = mk("member", rs.Member); err != nil {
				return nil, fmt.Errorf("sellingcontract: shape %s: %w", id, err)
			}
		case "map":
			if s.Key, err = mk("key", rs.Key); err != nil {
				return nil, fmt.Errorf("sellingcontract: shape %s: %w", id, err)
			}
			if s.Value, err = mk("value", rs.Value); err != nil {
				return nil, fmt.Errorf("sellingcontract: shape %s: %w", id, err)
			}
		case "operation":
			ops = append(ops, id)
		}
	}
	for _, id := range ops {
		rs := doc.Shapes[id]
		op := &operation{Name: local(id), Errors: map[string]*shape{}}
		_, op.ReadOnly = rs.Traits["smithy.api#readonly"]
		if rs.Input != nil && rs.Input.Target != "smithy.api#Unit" {
			op.Input, _ = lookup(rs.Input.Target)
		}
		if rs.Output != nil && rs.Output.Target != "smithy.api#Unit" {
			op.Output, _ = lookup(rs.Output.Target)
		}
		for _, e := range rs.Errors {
			es, err := lookup(e.Target)
			if err != nil {
				return nil, err
			}
			op.Errors[es.Name] = es
		}
		if op.Input != nil {
			for _, name := range op.Input.Order {
				if op.Input.Members[name].Idempotent {
					op.TokenMember = name
				}
			}
		}
		m.Operations[op.Name] = op
	}
	return m, nil
}

// Forms of ECMA 262 the model's patterns use that RE2 lacks, translated by compile.
var (
	wholeLength     = regexp.MustCompile(`^\^\(\?s\)\.\{(\d+),(\d+)\}\$$`)
	leadingLookhead = regexp.MustCompile(`^\^\(\?=\.\{(\d+),(\d+)\}\$\)`)
	unicodeEscape   = regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`)
)

// compile compiles a pattern trait with Go's regexp (RE2). The model's patterns are ECMA
// 262: a length written as a pattern (^(?s).{m,n}$, or a leading lookahead ^(?=.{m,n}$))
// becomes a length check, \uXXXX becomes \x{XXXX}; a pattern still not compilable is
// recorded in UncompiledPatterns and not checked.
func (m *Model) compile(where string, t *traits) {
	if t.Pattern == "" {
		return
	}
	p := t.Pattern
	if g := wholeLength.FindStringSubmatch(p); g != nil {
		t.PatLen, t.PatMin, t.PatMax = true, atoi(g[1]), atoi(g[2])
		return
	}
	if g := leadingLookhead.FindStringSubmatch(p); g != nil {
		t.PatLen, t.PatMin, t.PatMax = true, atoi(g[1]), atoi(g[2])
		p = "^" + p[len(g[0]):]
	}
	p = unicodeEscape.ReplaceAllString(p, `\x{$1}`)
	re, err := regexp.Compile(p)
	if err != nil {
		m.UncompiledPatterns = append(m.UncompiledPatterns, where+": "+t.Pattern)
		return
	}
	t.Regexp = re
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func parseTraits(raw map[string]json.RawMessage) (traits, error) {
	var t traits
	for name, v := range raw {
		switch name {
		case "smithy.api#required":
			t.Required = true
		case "smithy.api#default":
			t.HasDefault = true
		case "smithy.api#sensitive":
			t.Sensitive = true
		case "smithy.api#idempotencyToken":
			t.Idempotent = true
		case "smithy.api#pattern":
			if err := json.Unmarshal(v, &t.Pattern); err != nil {
				return t, fmt.Errorf("pattern: %w", err)
			}
		case "smithy.api#timestampFormat":
			if err := json.Unmarshal(v, &t.TimeFormat); err != nil {
				return t, fmt.Errorf("timestampFormat: %w", err)
			}
		case "smithy.api#length":
			var l struct{ Min, Max *int64 }
			if err := json.Unmarshal(v, &l); err != nil {
				return t, fmt.Errorf("length: %w", err)
			}
			t.MinLen, t.MaxLen = l.Min, l.Max
		case "smithy.api#range":
			var r struct{ Min, Max *float64 }
			if err := json.Unmarshal(v, &r); err != nil {
				return t, fmt.Errorf("range: %w", err)
			}
			t.Min, t.Max = r.Min, r.Max
		}
	}
	return t, nil
}

// effective merges a member's traits over its target's: a member trait overrides the
// target's trait of the same kind.
func (mem *member) effective() traits {
	t := mem.Target.traits
	o := mem.traits
	t.Required, t.HasDefault, t.Idempotent = o.Required, o.HasDefault, o.Idempotent
	t.Sensitive = t.Sensitive || o.Sensitive
	if o.Pattern != "" {
		t.Pattern, t.Regexp, t.PatLen, t.PatMin, t.PatMax = o.Pattern, o.Regexp, o.PatLen, o.PatMin, o.PatMax
	}
	if o.MinLen != nil || o.MaxLen != nil {
		t.MinLen, t.MaxLen = o.MinLen, o.MaxLen
	}
	if o.Min != nil || o.Max != nil {
		t.Min, t.Max = o.Min, o.Max
	}
	if o.TimeFormat != "" {
		t.TimeFormat = o.TimeFormat
	}
	return t
}

func sortedMembers(m map[string]rawMember) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func local(id string) string {
	if strings.HasPrefix(id, "smithy.api#") {
		return id
	}
	return strings.TrimPrefix(id, namespace)
}
