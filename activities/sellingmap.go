package activities

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oppsync/oppsync/ace/apimapping"
)

// The seam between the Selling API's shapes and ACE's S3 JSON records, so that the CRM side
// (parser, merge, connectors, pre-flight validation) sees the same records whichever
// transport brought them: ace/apimapping, AWS's MappingToS3Fields.csv as data.

// opportunityFromAPI maps GetOpportunity's output and AWS's summary (nil when AWS has none,
// which leaves AWS's fields out rather than clearing them) to an S3 JSON opportunity record,
// with the mapping's issues (field names and reasons, no values: they may be logged).
func opportunityFromAPI(opportunity, summary json.RawMessage) (json.RawMessage, []string, error) {
	var opp, sum map[string]any
	if err := json.Unmarshal(opportunity, &opp); err != nil {
		return nil, nil, fmt.Errorf("the opportunity is not a JSON object: %w", err)
	}
	if summary != nil {
		if err := json.Unmarshal(summary, &sum); err != nil {
			return nil, nil, fmt.Errorf("AWS's summary is not a JSON object: %w", err)
		}
	}
	rec, issues := apimapping.FromAPI(opp, sum)
	body, err := json.Marshal(rec)
	return body, issueStrings(issues), err
}

// opportunityToAPI maps an S3 JSON opportunity record to the body of CreateOpportunity (the
// record has no ACE id) or UpdateOpportunity (it has one; the caller sets Identifier and
// LastModifiedDate from AWS's current version). A field whose value cannot be converted,
// or one the operation requires and the record lacks, fails the record (the error names
// them); fields the API does not carry come back as warnings.
func opportunityToAPI(record json.RawMessage) (json.RawMessage, []string, error) {
	var rec map[string]any
	if err := json.Unmarshal(record, &rec); err != nil {
		return nil, nil, err
	}
	body, issues := apimapping.ToAPI(rec)
	var bad, warnings []string
	for _, is := range issues {
		switch is.Kind {
		case apimapping.IssueInvalid, apimapping.IssueMissing:
			bad = append(bad, is.String())
		case apimapping.IssueUnknownField:
			// The CRM's own fields (or ACE's that the table does not list) stay in the CRM.
		default:
			warnings = append(warnings, is.String())
		}
	}
	if len(bad) > 0 {
		return nil, warnings, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	out, err := json.Marshal(body)
	return out, warnings, err
}

func issueStrings(issues []apimapping.Issue) []string {
	out := make([]string, len(issues))
	for i, is := range issues {
		out[i] = is.String()
	}
	return out
}
