package ace

import "testing"

func TestIsMasked(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"Accept To View", true}, // AWS's lead outbound sample
		{"Accept to View", true}, // Opportunity-Fields.csv
		{"ACCEPT TO VIEW", true},
		{"Accept To View ", false},
		{"", false},
		{"cto@acme.example", false},
	} {
		if got := IsMasked(tc.s); got != tc.want {
			t.Errorf("IsMasked(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
