package rules

import "testing"

func TestPostalFormats(t *testing.T) {
	r := Default()
	if n := len(r.PostalFormats); n != 149 {
		t.Errorf("%d postal formats, want 149", n)
	}
	if n := len(r.NoPostalCode); n != 59 {
		t.Errorf("%d countries without postal code, want 59", n)
	}
	for _, tc := range []struct {
		country, code string
		ok            bool
	}{
		{"United States", "98101", true},
		{"United States", "98101-1234", true},
		{"United States", "9810", false},
		{"United States", "98101 1234", false},
		{"Canada", "K1A 0B1", true},
		{"Canada", "k1a0b1", true},
		{"Canada", "K1A-0B1", false},
		{"Brazil", "01310-100", true},
		{"Japan", "100-0001", true},
		{"Poland", "00-950", true},
		{"Poland", "00950", false},
		{"Belgium", "B-1000", true},
		{"Belgium", "1000", true},
		{"Sweden", "SE-114 55", false},
		{"Sweden", "114 55", true},
		{"Netherlands", "1012 AB", true},
		{"Netherlands", "1012AB", true},
		{"United Kingdom", "SW1A 1AA", true},
		{"United Kingdom", "L2 2DP", true},
		{"Great Britain", "DT3 6GB", true},
		{"Great Britain", "EC1A 1BB", true},
		{"Monaco", "98000", true},
		{"Saint Barthelemy", "97133", true},
		{"Saint Barthelemy", "97134", false},
		{"Ireland", "A65 4A2B", true},
	} {
		p := r.PostalFormatFor(tc.country)
		if p == nil {
			t.Errorf("no format for %s", tc.country)
			continue
		}
		if got := p.Match(tc.code); got != tc.ok {
			t.Errorf("%s %q: match %v, want %v (formats %q)", tc.country, tc.code, got, tc.ok, p.Formats)
		}
	}
	// Names are spelled differently across tables.
	for _, c := range []string{"Bonaire, Sint Eustatius and Saba", "Bonaire,Sint Eustatius and Saba",
		"Saint Helena, Ascension and Tristan Da Cunha", "Hong Kong"} {
		if r.HasPostalCode(c) {
			t.Errorf("HasPostalCode(%q) = true", c)
		}
	}
	if !r.HasPostalCode("Germany") {
		t.Error("HasPostalCode(Germany) = false")
	}
}
