package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The subset of the Smithy 2.0 JSON AST (https://smithy.io/2.0/spec/json-ast.html) that the
// generator reads. Member order matters (it is the order of the generated struct fields), so
// members are decoded into an ordered list rather than a map.

type smithyModel struct {
	Smithy string            `json:"smithy"`
	Shapes map[string]*shape `json:"shapes"`
}

type ref struct {
	Target string `json:"target"`
}

type member struct {
	Name   string
	Target string
	Traits map[string]json.RawMessage
}

type shape struct {
	Type    string                     `json:"type"`
	Members members                    `json:"members"`
	Member  *ref                       `json:"member"` // list
	Key     *ref                       `json:"key"`    // map
	Value   *ref                       `json:"value"`  // map
	Traits  map[string]json.RawMessage `json:"traits"`

	// service and resources
	Operations           []ref `json:"operations"`
	CollectionOperations []ref `json:"collectionOperations"`
	Resources            []ref `json:"resources"`
	Create               *ref  `json:"create"`
	Put                  *ref  `json:"put"`
	Read                 *ref  `json:"read"`
	Update               *ref  `json:"update"`
	Delete               *ref  `json:"delete"`
	List                 *ref  `json:"list"`

	// operations
	Input  *ref  `json:"input"`
	Output *ref  `json:"output"`
	Errors []ref `json:"errors"`
}

// members is a shape's members in model order.
type members []member

func (ms *members) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("members: want an object, got %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		var m struct {
			Target string                     `json:"target"`
			Traits map[string]json.RawMessage `json:"traits"`
		}
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
		*ms = append(*ms, member{Name: name, Target: m.Target, Traits: m.Traits})
	}
	_, err = dec.Token()
	return err
}

func hasTrait(traits map[string]json.RawMessage, name string) bool {
	_, ok := traits[name]
	return ok
}

// stringTrait returns a trait whose value is a JSON string ("" if absent).
func stringTrait(traits map[string]json.RawMessage, name string) string {
	var s string
	if raw, ok := traits[name]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}
