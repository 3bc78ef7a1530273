package ace

import (
	"strings"
	"testing"
)

// pii is a value that must never appear in an error, a quarantine reason or a problem:
// messages describe a value by its type and length.
const pii = "pat.smith@example.org"

func TestParseErrorsDescribeValuesNotQuoteThem(t *testing.T) {
	q := `"` + pii + `"`
	records := []string{
		`{"apnCrmUniqueIdentifier": "O1", "createdDate": ` + q + `}`,
		`{"apnCrmUniqueIdentifier": "O2", "lastModifiedDate": ` + q + `}`,
		`{"apnCrmUniqueIdentifier": "O3", "acceptBy": ` + q + `}`,
		`{"apnCrmUniqueIdentifier": "O4", "expectedMonthlyAwsRevenue": ` + q + `}`,
		`{"apnCrmUniqueIdentifier": "O5", "customerCompanyName": {"email": ` + q + `}}`,
		`{"apnCrmUniqueIdentifier": {"email": ` + q + `}}`,
	}
	f, err := ParseOutbound("opportunity-outbound/pii.json", []byte(`{"version": "2.0", "opportunities": [`+strings.Join(records, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rejected) != len(records) {
		t.Fatalf("rejected %d of %d records: %v", len(f.Rejected), len(records), f.Rejected)
	}
	reason := f.Problem().Error()
	if strings.Contains(reason, pii) {
		t.Errorf("quarantine reason quotes the value: %s", reason)
	}
	for _, want := range []string{"createdDate is a 21-byte string: not a date", "lastModifiedDate is a 21-byte string",
		"acceptBy is a 21-byte string", "expectedMonthlyAwsRevenue is a 21-byte string, want a number", "customerCompanyName is a JSON object"} {
		if !strings.Contains(reason, want) {
			t.Errorf("quarantine reason lacks %q: %s", want, reason)
		}
	}

	for _, body := range []string{
		`{"version": ` + q + `, "opportunities": []}`,
		`{"version": "2.0", "spmsId": {"x": ` + q + `}, "opportunities": []}`,
	} {
		if _, err := ParseOutbound("opportunity-outbound/pii.json", []byte(body)); err == nil || strings.Contains(err.Error(), pii) {
			t.Errorf("ParseOutbound(%s) = %v: want an error describing the value, not quoting it", body, err)
		}
	}
	if _, err := ParseResult("opportunity-inbound-processed-results/a_result.json", []byte(`{"fileApnProcessedDT": `+q+`}`)); err == nil || strings.Contains(err.Error(), pii) {
		t.Errorf("ParseResult = %v: want an error describing the value, not quoting it", err)
	}
}
