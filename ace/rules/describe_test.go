package rules

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// pii is a value that must never appear in a problem: messages describe a value by its type and length.
const pii = "pat.smith@example.org"

// Pre-flight problems are written to the CRM record and printed by starter validate:
// free-text values are described, not quoted, there too.
func TestValidationProblemsDescribeFreeTextValues(t *testing.T) {
	rec := readValidRecord(t, "opportunity-valid.json")
	for _, k := range []string{"customerDuns", "awsAccountId", "targetCloseDate", "postalCode"} {
		rec[k] = pii
	}
	rec["solutionOffered"] = []string{pii}
	raw, _ := json.Marshal(rec)
	problems := ValidateOpportunity(raw, nil, Options{Today: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	fields := map[string]bool{}
	for _, p := range problems {
		fields[p.Field] = true
		if strings.Contains(p.String(), pii) {
			t.Errorf("problem quotes the value: %s", p)
		}
	}
	for _, f := range []string{"customerDuns", "awsAccountId", "targetCloseDate", "postalCode", "solutionOffered"} {
		if !fields[f] {
			t.Errorf("no problem for %s: %v", f, problems)
		}
	}
}
