// Package rulestest gives tests a partner-created opportunity that passes ACE's rules: the
// record of ace/rules/testdata/validate/opportunity-valid.json as the sales team enters it
// in a CRM (a partner id, no ACE id yet). Tests only: it reads the fixture from the source
// tree.
package rulestest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Opportunity returns the valid opportunity with partnerID as its
// partnerCrmUniqueIdentifier and no apnCrmUniqueIdentifier, each of set applied and each
// field of without removed.
func Opportunity(partnerID string, set map[string]any, without ...string) (map[string]any, error) {
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		return nil, fmt.Errorf("rulestest: cannot locate the fixture")
	}
	path := filepath.Join(filepath.Dir(here), "..", "testdata", "validate", "opportunity-valid.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rulestest: %w", err)
	}
	var file struct {
		Opportunities []map[string]any `json:"opportunities"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		return nil, fmt.Errorf("rulestest: %s: %w", path, err)
	}
	if len(file.Opportunities) == 0 {
		return nil, fmt.Errorf("rulestest: %s holds no opportunity", path)
	}
	rec := file.Opportunities[0]
	rec["partnerCrmUniqueIdentifier"] = partnerID
	delete(rec, "apnCrmUniqueIdentifier")
	for k, v := range set {
		rec[k] = v
	}
	for _, k := range without {
		delete(rec, k)
	}
	return rec, nil
}

// OpportunityJSON is Opportunity as JSON.
func OpportunityJSON(partnerID string, set map[string]any, without ...string) (json.RawMessage, error) {
	rec, err := Opportunity(partnerID, set, without...)
	if err != nil {
		return nil, err
	}
	return json.Marshal(rec)
}
