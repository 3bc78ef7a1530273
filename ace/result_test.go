package ace

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseResultSamples(t *testing.T) {
	processed := time.Date(2023, 5, 28, 15, 21, 22, 331e6, time.UTC)
	tests := []struct {
		sample   string
		success  string
		fileName string
		want     ResultRecord
	}{
		{"opportunity-result-success.json", "ALL", "opportunity-inbound/test-2023-05-28T01:21:20.json",
			ResultRecord{PartnerID: "testIdentifier", ACEID: "01234567", IsSuccess: true}},
		{"opportunity-result-errors.json", "NONE", "opportunity-inbound/test-2023-05-28T01:21:20.json",
			ResultRecord{PartnerID: "OP004149", ACEID: "O1234567", Errors: []string{"User not found for Opportunity Owner email:xyz.abc@test.com"}}},
		{"lead-result-success.json", "ALL", "lead-inbound/test-2023-05-28T01:21:20.json",
			ResultRecord{PartnerID: "testLeadIdentifier", ACEID: "L1234567", IsSuccess: true}},
		{"lead-result-errors.json", "NONE", "lead-inbound/test-2023-05-28T01:21:20.json",
			ResultRecord{PartnerID: "testLeadIdentifier", ACEID: "L1234567", Errors: []string{"No new update identified for this record"}}},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			r, err := ParseResult("opportunity-inbound-processed-results/x_result.json", readSample(t, tt.sample))
			if err != nil {
				t.Fatal(err)
			}
			if r.Success != tt.success || r.SpmsID != "spmsId" || r.IsAPIError || r.APIErrors != nil ||
				r.FileName != tt.fileName || !r.ProcessedAt.Equal(processed) {
				t.Errorf("Result = %+v", r)
			}
			if len(r.Records) != 1 || !equalResultRecord(r.Records[0], tt.want) {
				t.Errorf("Records = %+v, want [%+v]", r.Records, tt.want)
			}
		})
	}
}

func equalResultRecord(a, b ResultRecord) bool {
	return a.PartnerID == b.PartnerID && a.ACEID == b.ACEID && a.IsSuccess == b.IsSuccess &&
		slices.Equal(a.Errors, b.Errors) && slices.Equal(a.Warnings, b.Warnings)
}

func TestParseResultMessages(t *testing.T) {
	tests := []struct {
		name, apiErrors string
		want            []string
	}{
		{"null", `null`, nil},
		{"strings", `["Access denied", "Bad file"]`, []string{"Access denied", "Bad file"}},
		{"objects", `[{"code": 400, "message": "bad"}, {"code": 500}]`, []string{`{"code":400,"message":"bad"}`, `{"code":500}`}},
		{"mixed with null", `["a", null, 1]`, []string{"a", "1"}},
		{"single string", `"Malformed file"`, []string{"Malformed file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"success": "NONE", "isApiError": true, "apiErrors": ` + tt.apiErrors + `, "inboundApiResults": null}`
			r, err := ParseResult("r_result.json", []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if !r.IsAPIError || !slices.Equal(r.APIErrors, tt.want) || r.Records != nil {
				t.Errorf("got IsAPIError %v APIErrors %q Records %v, want %q", r.IsAPIError, r.APIErrors, r.Records, tt.want)
			}
		})
	}
}

func TestParseResultErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty", "", "empty"},
		{"invalid JSON", `{"success": `, "invalid JSON"},
		{"top-level array", `[]`, "top level is a JSON array"},
		{"success number", `{"success": 1}`, "success is a JSON number"},
		{"isApiError string", `{"isApiError": "false"}`, "isApiError is a JSON string"},
		{"results object", `{"inboundApiResults": {}}`, "inboundApiResults is a JSON object, want an array"},
		{"result not object", `{"inboundApiResults": [{"isSuccess": true}, "x"]}`, "inboundApiResults[1] is a JSON string"},
		{"isSuccess string", `{"inboundApiResults": [{"isSuccess": "yes"}]}`, "inboundApiResults[0]: isSuccess is a JSON string"},
		{"bad processed date", `{"fileApnProcessedDT": "soon"}`, `fileApnProcessedDT is a 4-byte string: not a date`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResult("res/r_result.json", []byte(tt.body))
			var fe *FileError
			if !errors.As(err, &fe) || !strings.Contains(fe.Reason, tt.want) {
				t.Errorf("error = %v, want a *FileError with %q", err, tt.want)
			}
		})
	}
}

func TestErrorFileReason(t *testing.T) {
	long := strings.Repeat("x", 299) + "é and more"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"error field", `{"error": "Unsupported file type", "message": "other"}`, "Unsupported file type"},
		{"errorMessage field", `{"errorMessage": "bad"}`, "bad"},
		{"message field", `{"message": "bad", "reason": "other"}`, "bad"},
		{"reason field", `{"reason": "bad"}`, "bad"},
		{"blank fields skipped", `{"error": "", "reason": "bad"}`, "bad"},
		{"no known field: the text", `{"code": 7}`, `{"code": 7}`},
		{"not JSON: the text", "ACE could not read the file", "ACE could not read the file"},
		// The reason is written to the CRM: valid UTF-8 even when the file is not, or the
		// cut at 300 bytes splits a character.
		{"cut at 300 bytes, split rune replaced", long, strings.Repeat("x", 299) + "\uFFFD…"},
		{"invalid UTF-8 replaced", "ACE could not read M\xfcller's file", "ACE could not read M\uFFFDller's file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ErrorFileReason([]byte(tc.body))
			if got != tc.want {
				t.Errorf("ErrorFileReason(%q) = %q, want %q", tc.body, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("ErrorFileReason(%q) = %q: not valid UTF-8", tc.body, got)
			}
		})
	}
}

func TestResultByPartnerID(t *testing.T) {
	accepted := ResultRecord{PartnerID: "P1", ACEID: "O1", IsSuccess: true, Warnings: []string{"w"}}
	refused := ResultRecord{PartnerID: "P2", Errors: []string{"bad stage"}}
	for _, tc := range []struct {
		name string
		res  Result
		sent []string
		want map[string]ResultRecord
	}{
		{"each record's own entry; success is an open string",
			Result{Success: "PARTIAL", Records: []ResultRecord{accepted, refused}}, []string{"P1", "P2"},
			map[string]ResultRecord{"P1": accepted, "P2": refused}},
		{"a record sent but not mentioned fails",
			Result{Success: "ALL", Records: []ResultRecord{accepted}}, []string{"P1", "P3"},
			map[string]ResultRecord{"P1": accepted,
				"P3": {PartnerID: "P3", Errors: []string{`ACE's result (success "ALL") has no entry for this record`}}}},
		{"an API error fails every record sent",
			Result{IsAPIError: true, APIErrors: []string{"throttled"}, Records: []ResultRecord{accepted}}, []string{"P1", "P2"},
			map[string]ResultRecord{
				"P1": {PartnerID: "P1", Errors: []string{"ACE rejected the whole file (API error)", "throttled"}},
				"P2": {PartnerID: "P2", Errors: []string{"ACE rejected the whole file (API error)", "throttled"}}}},
		{"nothing sent, nothing answered", Result{Success: "NONE"}, nil, map[string]ResultRecord{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.res.ByPartnerID(tc.sent); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ByPartnerID(%q) =\n%+v\nwant\n%+v", tc.sent, got, tc.want)
			}
		})
	}
}
