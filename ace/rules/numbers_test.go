package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Currency fields carry the precision of their datatype: Currency(18,0) takes whole numbers
// of up to 18 digits, Currency(16,2) up to 16 digits and 2 decimal places. A value outside
// is refused with a message naming the field, the datatype and the allowed precision.
func TestCurrencyPrecision(t *testing.T) {
	base := readValidRecord(t, "opportunity-valid.json")
	// customerSoftwareValue may not be set on creation (Create: No): an update then.
	update := withFields(base, "apnCrmUniqueIdentifier", "O1234567", "stage", "Qualified")
	tests := []struct {
		name  string
		rec   map[string]any
		field string
		want  string // "" for no problem, else a part of the message
	}{
		{"18 digits", withFields(base, "expectedMonthlyAwsRevenue", json.Number("123456789012345678")), "expectedMonthlyAwsRevenue", ""},
		{"19 digits", withFields(base, "expectedMonthlyAwsRevenue", json.Number("1234567890123456789")), "expectedMonthlyAwsRevenue",
			"expectedMonthlyAwsRevenue 1234567890123456789 has 19 digits before the decimal point; Currency(18,0) (Opportunity-Fields.csv) allows at most 18 digits before the decimal point and no decimal places"},
		{"19 digits as a string", withFields(base, "expectedMonthlyAwsRevenue", "1234567890123456789"), "expectedMonthlyAwsRevenue", "has 19 digits"},
		{"a decimal where none is allowed", withFields(base, "expectedMonthlyAwsRevenue", json.Number("5000.5")), "expectedMonthlyAwsRevenue",
			"expectedMonthlyAwsRevenue 5000.5 has 1 decimal places; Currency(18,0) (Opportunity-Fields.csv) allows at most 18 digits before the decimal point and no decimal places"},
		{"zero decimals written out", withFields(base, "expectedMonthlyAwsRevenue", json.Number("5000.00")), "expectedMonthlyAwsRevenue", ""},
		{"exponent form", withFields(base, "expectedMonthlyAwsRevenue", json.Number("5e3")), "expectedMonthlyAwsRevenue", ""},
		{"two decimals", withFields(update, "customerSoftwareValue", json.Number("12345678901234.25")), "customerSoftwareValue", ""},
		{"16 digits and 2 decimals", withFields(update, "customerSoftwareValue", json.Number("1234567890123456.99")), "customerSoftwareValue", ""},
		{"three decimals", withFields(update, "customerSoftwareValue", json.Number("10.125")), "customerSoftwareValue",
			"customerSoftwareValue 10.125 has 3 decimal places; Currency(16,2) (Opportunity-Fields.csv) allows at most 16 digits before the decimal point and 2 after it"},
		{"17 digits", withFields(update, "customerSoftwareValue", "12345678901234567"), "customerSoftwareValue",
			"has 17 digits before the decimal point; Currency(16,2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := ValidateOpportunity(marshal(t, tt.rec), nil, testOpts())
			if tt.want == "" {
				if len(ps) != 0 {
					t.Fatalf("problems = %v, want none", ps)
				}
				return
			}
			if len(ps) != 1 || ps[0].Field != tt.field || ps[0].Rule != RulePrecision || !strings.Contains(ps[0].Message, tt.want) {
				t.Fatalf("problems = %v\nwant one %s problem for %s with %q", ps, RulePrecision, tt.field, tt.want)
			}
		})
	}
}

// The precision comes from the table's datatype column, for every currency field it lists.
func TestCurrencyPrecisionFromTable(t *testing.T) {
	got := map[string]string{}
	for _, name := range Default().Opportunity.Order {
		if f := Default().Opportunity.Field(name); f.HasPrecision {
			got[name] = fmt.Sprintf("%d,%d", f.IntegerDigits, f.Decimals)
		}
	}
	want := map[string]string{"expectedMonthlyAwsRevenue": "18,0", "customerSoftwareValue": "16,2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("currency precisions %v, want %v", got, want)
	}
}

func TestDigitCounts(t *testing.T) {
	tests := []struct {
		s               string
		whole, decimals int
		ok              bool
	}{
		{"0", 0, 0, true}, {"5000", 4, 0, true}, {"0012.50", 2, 1, true}, {"1.5e3", 4, 0, true}, {"-0.25", 0, 2, true},
		{"123456789012345678", 18, 0, true}, {"1234567890123456789", 19, 0, true}, {"100.0", 3, 0, true},
		{"1E-3", 0, 3, true}, {"12.345E1", 3, 2, true}, {"1e-50", 0, 50, true}, {"0.000", 0, 0, true},
		{"12345678901234567.5", 17, 1, true}, {"0x1p3", 0, 0, false}, {"1e", 0, 0, false}, {".", 0, 0, false},
	}
	for _, tt := range tests {
		w, d, ok := digitCounts(tt.s)
		if w != tt.whole || d != tt.decimals || ok != tt.ok {
			t.Errorf("digitCounts(%q) = %d, %d, %v; want %d, %d, %v", tt.s, w, d, ok, tt.whole, tt.decimals, tt.ok)
		}
	}
}
