package sfcontract

import (
	"strings"
	"testing"
)

// WHERE conditions group with parentheses, and AND and OR mixed on one level are refused,
// as Salesforce refuses them ("Parentheses are required whenever you mix the operators").
func TestSOQLConditions(t *testing.T) {
	recs := []map[string]any{
		{"Id": "1", "By": "me", "Status": "pending", "Stamp": "2026-01-01T10:00:00.000+0000"},
		{"Id": "2", "By": "rep", "Status": "sent", "Stamp": "2026-01-01T10:00:00.000+0000"},
		{"Id": "3", "By": "me", "Status": "sent", "Stamp": "2026-01-01T10:00:00.000+0000"},
		{"Id": "4", "By": "rep", "Status": "sent", "Stamp": "2025-01-01T10:00:00.000+0000"},
	}
	for _, tc := range []struct {
		where string
		want  string // matching ids
	}{
		{"Stamp >= 2026-01-01T00:00:00Z AND (By != 'me' OR Status = 'pending')", "12"},
		{"(Stamp >= 2026-01-01T00:00:00Z AND By != 'me') OR Status = 'pending'", "12"},
		{"By = 'rep' AND Status = 'sent' AND Stamp < 2026-01-01T00:00:00Z", "4"},
		{"Id = '1' OR Id = '3' OR (Id = '4')", "134"},
		{"((By = 'me'))", "13"},
	} {
		q, err := parseSOQL("SELECT Id FROM Opportunity WHERE " + tc.where)
		if err != nil {
			t.Errorf("%s: %v", tc.where, err)
			continue
		}
		var got strings.Builder
		for _, r := range recs {
			if q.match(r) {
				got.WriteString(r["Id"].(string))
			}
		}
		if got.String() != tc.want {
			t.Errorf("%s matches %q, want %q", tc.where, got.String(), tc.want)
		}
	}
	for _, bad := range []string{
		"Stamp >= 2026-01-01T00:00:00Z AND By != 'me' OR Status = 'pending'",
		"By = 'me' OR Status = 'sent' AND Id = '1'",
		"(By = 'me' OR Status = 'sent'",
	} {
		if _, err := parseSOQL("SELECT Id FROM Opportunity WHERE " + bad); err == nil {
			t.Errorf("%s: accepted, want a malformed query", bad)
		}
	}
}
