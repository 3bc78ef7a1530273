package ace

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func readEncoding(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "encoding", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A file saved with a UTF-8 byte-order mark parses as the same file without it.
func TestParseOutboundIgnoresByteOrderMark(t *testing.T) {
	for _, tt := range []struct{ fixture, sample, key string }{
		{"opportunity-bom.json", "opportunity-outbound.json", "opportunity-outbound/bom.json"},
		{"lead-bom.json", "lead-outbound.json", "lead-outbound/bom.json"},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			body := readEncoding(t, tt.fixture)
			if !bytes.HasPrefix(body, utf8BOM) {
				t.Fatal("the fixture lost its byte-order mark")
			}
			got, err := ParseOutbound(tt.key, body)
			if err != nil {
				t.Fatalf("ParseOutbound: %v", err)
			}
			want, err := ParseOutbound(tt.key, readSample(t, tt.sample))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) || len(got.Records) != 1 || got.Problem() != nil {
				t.Errorf("with a BOM: %+v\nwithout: %+v", got, want)
			}
		})
	}
	// ACE's result files too.
	body := append(append([]byte{}, utf8BOM...), readSample(t, "opportunity-result-success.json")...)
	if _, err := ParseResult("opportunity-inbound-processed-results/a_result.json", body); err != nil {
		t.Errorf("ParseResult with a BOM: %v", err)
	}
	// Only a BOM is no JSON, and the reason says so.
	if _, err := ParseOutbound("opportunity-outbound/bom.json", utf8BOM); err == nil || !strings.Contains(err.Error(), "no JSON") {
		t.Errorf("a lone BOM: %v", err)
	}
}

// A record with bytes that are not valid UTF-8 is rejected, naming the fields, and never
// reaches Records (whose Raw goes to the CRM as it is); the file's other records parse.
func TestParseOutboundRejectsInvalidUTF8(t *testing.T) {
	f, err := ParseOutbound("opportunity-outbound/latin1.json", readEncoding(t, "opportunity-invalid-utf8.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 1 || f.Records[0].ACEID != "O0000001" || f.Records[0].Opportunity.CustomerCompanyName != "Müller GmbH" {
		t.Fatalf("records = %+v, want O0000001 (valid UTF-8) only", f.Records)
	}
	for _, r := range f.Records {
		if !utf8.Valid(r.Raw) {
			t.Errorf("record %s: Raw is not valid UTF-8", r.ACEID)
		}
	}
	want := map[string]string{
		"O0000002": "customerCompanyName holds bytes that are not valid UTF-8",
		"O0000003": "customerCompanyName and projectDescription hold bytes that are not valid UTF-8",
	}
	if len(f.Rejected) != len(want) {
		t.Fatalf("rejected = %v", f.Rejected)
	}
	for _, r := range f.Rejected {
		if !strings.Contains(r.Reason, want[r.ACEID]) || !strings.Contains(r.Reason, "re-drive") {
			t.Errorf("%s: reason %q, want %q and what to do", r.ACEID, r.Reason, want[r.ACEID])
		}
	}
	if p := f.Problem(); p == nil || !utf8.ValidString(p.Error()) {
		t.Errorf("Problem() = %v: want the file quarantined with a valid UTF-8 reason", p)
	}

	_, err = ParseOutbound("opportunity-outbound/latin1.json", readEncoding(t, "opportunity-envelope-invalid-utf8.json"))
	if err == nil || !strings.Contains(err.Error(), "spmsId holds bytes that are not valid UTF-8") {
		t.Errorf("invalid UTF-8 in the envelope: %v", err)
	}
}

// A field named twice in a record is refused, whichever value encoding/json would keep;
// a records array named twice refuses the file (the first array's records would be lost).
func TestParseOutboundRefusesDuplicateKeys(t *testing.T) {
	f, err := ParseOutbound("opportunity-outbound/dup.json", readEncoding(t, "opportunity-duplicate-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 1 || f.Records[0].ACEID != "O0000001" {
		t.Fatalf("records = %+v, want O0000001 only", f.Records)
	}
	want := map[string]string{"O0000002": "stage appears twice", "O0000003": "customerContacts.email appears twice"}
	if len(f.Rejected) != len(want) {
		t.Fatalf("rejected = %v", f.Rejected)
	}
	for _, r := range f.Rejected {
		if !strings.Contains(r.Reason, want[r.ACEID]) {
			t.Errorf("%s: reason %q, want %q", r.ACEID, r.Reason, want[r.ACEID])
		}
	}
	_, err = ParseOutbound("opportunity-outbound/dup.json", readEncoding(t, "opportunity-duplicate-array.json"))
	if err == nil || !strings.Contains(err.Error(), `the file has "opportunities" twice`) {
		t.Errorf("two records arrays: %v", err)
	}
}

func TestDuplicateKey(t *testing.T) {
	tests := []struct{ json, want string }{
		{`{"a":1,"b":{"a":2},"c":[{"a":1},{"a":1}]}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"a":1,"\u0061":2}`, "a"}, // the same name, escaped
		{`{"a":{"b":[1,{"c":1,"c":2}]}}`, "a.b[1].c"},
		{`[{"x":1},{"y":1,"y":1}]`, "[1].y"},
		{`"s"`, ""},
	}
	for _, tt := range tests {
		if got := duplicateKey([]byte(tt.json)); got != tt.want {
			t.Errorf("duplicateKey(%s) = %q, want %q", tt.json, got, tt.want)
		}
	}
}

// ACE's messages in a result file are written to the CRM: they come out valid UTF-8
// whatever bytes the file holds.
func TestParseResultMessagesAreValidUTF8(t *testing.T) {
	body := []byte("{\"success\":\"NONE\",\"inboundApiResults\":[{\"isSuccess\":false,\"partnerCrmUniqueIdentifier\":\"P1\"," +
		"\"errors\":[\"M\xfcller is not valid\",{\"field\":\"customerCompanyName\",\"message\":\"M\xfcller\"}]}]}")
	r, err := ParseResult("opportunity-inbound-processed-results/a_result.json", body)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Records) != 1 || len(r.Records[0].Errors) != 2 {
		t.Fatalf("result = %+v", r)
	}
	for _, m := range r.Records[0].Errors {
		if !utf8.ValidString(m) || !strings.Contains(m, "M\uFFFDller") {
			t.Errorf("message %q: want valid UTF-8 with the bad byte replaced", m)
		}
	}
}
