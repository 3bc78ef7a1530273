package main

import (
	"strings"
	"testing"
)

// A minimal awsJson1_0 model exercising what the Partner Central model does not: a timestamp
// without a timestampFormat (awsJson1_0's default, epoch seconds), a member-level format that
// overrides the target's, and operations bound through a resource.
const syntheticModel = `{
  "smithy": "2.0",
  "shapes": {
    "ex#Svc": {"type": "service", "version": "1", "operations": [{"target": "ex#PutThing"}],
      "resources": [{"target": "ex#Thing"}],
      "traits": {"aws.protocols#awsJson1_0": {}, "aws.auth#sigv4": {"name": "ex"}}},
    "ex#Thing": {"type": "resource", "read": {"target": "ex#GetThing"}},
    "ex#PutThing": {"type": "operation", "input": {"target": "ex#PutThingRequest"}, "output": {"target": "smithy.api#Unit"}},
    "ex#GetThing": {"type": "operation", "input": {"target": "ex#GetThingRequest"}, "output": {"target": "ex#GetThingResponse"},
      "traits": {"smithy.api#readonly": {}}},
    "ex#PutThingRequest": {"type": "structure", "members": {
      "At": {"target": "smithy.api#Timestamp"},
      "Stamped": {"target": "ex#Iso", "traits": {"smithy.api#timestampFormat": "http-date"}},
      "Iso": {"target": "ex#Iso"}}},
    "ex#Iso": {"type": "timestamp", "traits": {"smithy.api#timestampFormat": "date-time"}},
    "ex#GetThingRequest": {"type": "structure", "members": {"Id": {"target": "smithy.api#String", "traits": {"smithy.api#required": {}}}}},
    "ex#GetThingResponse": {"type": "structure", "members": {"Count": {"target": "smithy.api#Integer"}, "Flag": {"target": "smithy.api#Boolean"}}}
  }
}`

func TestTimestampFormatsAndResourceBindings(t *testing.T) {
	files, err := generate([]byte(syntheticModel))
	if err != nil {
		t.Fatal(err)
	}
	types := string(files["types_gen.go"])
	for _, want := range []string{
		"At      *epochSeconds `json:\"At,omitempty\"`",
		"Stamped *httpDate     `json:\"Stamped,omitempty\"`",
		"Iso     *dateTime     `json:\"Iso,omitempty\"`",
		"Count *int32 `json:\"Count,omitempty\"`",
		"Flag *bool `json:\"Flag,omitempty\"`",
		"type PutThingOutput struct{}",
	} {
		if !strings.Contains(types, want) {
			t.Errorf("types_gen.go lacks %q:\n%s", want, types)
		}
	}
	ops := string(files["operations_gen.go"])
	for _, want := range []string{"func (c *Client) GetThing(", "func (c *Client) PutThing(", `"GetThing": AccessRead`, `"PutThing": AccessWrite`, `targetPrefix = "Svc."`} {
		if !strings.Contains(ops, want) {
			t.Errorf("operations_gen.go lacks %q", want)
		}
	}
}

func TestUnsupportedShapesFailLoudly(t *testing.T) {
	for name, model := range map[string]string{
		"timestamp list": strings.Replace(syntheticModel, `"Iso": {"target": "ex#Iso"}}}`,
			`"Iso": {"target": "ex#Iso"}, "L": {"target": "ex#TsList"}}}, "ex#TsList": {"type": "list", "member": {"target": "ex#Iso"}}`, 1),
		"bigDecimal":     strings.Replace(syntheticModel, `"Flag": {"target": "smithy.api#Boolean"}`, `"Flag": {"target": "smithy.api#BigDecimal"}`, 1),
		"readonly write": strings.Replace(syntheticModel, `"traits": {"smithy.api#readonly": {}}`, `"traits": {}`, 1),
		"restJson":       strings.Replace(syntheticModel, `"aws.protocols#awsJson1_0": {}`, `"aws.protocols#restJson1": {}`, 1),
	} {
		if _, err := generate([]byte(model)); err == nil {
			t.Errorf("%s: generated without an error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// Every timestamp of the Partner Central model targets DateTime, whose timestampFormat is
// date-time, so none goes out as epoch seconds.
func TestPartnerCentralTimestampsAreDateTime(t *testing.T) {
	files, err := generate(mustModel(t))
	if err != nil {
		t.Fatal(err)
	}
	types := string(files["types_gen.go"])
	if strings.Contains(types, "*epochSeconds") || strings.Contains(types, "*httpDate") {
		t.Error("a Partner Central timestamp is generated as epoch-seconds or http-date")
	}
	if n := strings.Count(types, " *dateTime `json:"); n < 36*2 {
		t.Errorf("%d date-time conversions, want 2 (marshal, unmarshal) for each of the model's 36 timestamp members", n)
	}
	if !strings.Contains(types, "LastModifiedDate *dateTime `json:\"LastModifiedDate,omitempty\"`") {
		t.Error("LastModifiedDate is not date-time")
	}
}
