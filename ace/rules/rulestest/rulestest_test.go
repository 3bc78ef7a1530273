package rulestest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/rules"
	"github.com/oppsync/oppsync/ace/rules/rulestest"
)

func TestOpportunityPassesACEsRules(t *testing.T) {
	rec, err := rulestest.OpportunityJSON("P-1", map[string]any{"stage": "Prospect"})
	if err != nil {
		t.Fatal(err)
	}
	today := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	if problems := rules.Validate(ace.ObjectOpportunity, rec, nil, rules.Options{Today: today}); len(problems) != 0 {
		t.Fatalf("the fixture fails ACE's rules: %v", problems)
	}
	var m map[string]any
	_ = json.Unmarshal(rec, &m)
	if m["partnerCrmUniqueIdentifier"] != "P-1" || m["apnCrmUniqueIdentifier"] != nil || m["stage"] != "Prospect" {
		t.Errorf("record %v: want partner id P-1, no ACE id, stage Prospect", m)
	}
	without, _ := rulestest.Opportunity("P-2", nil, "customerCompanyName")
	if _, has := without["customerCompanyName"]; has {
		t.Error("without did not remove the field")
	}
}
