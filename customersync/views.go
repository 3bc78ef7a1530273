package customersync

import (
	"net/url"
	"strings"
	"time"
)

// View is a ready-made list of customers for the Web UI's workflows page: a visibility
// query on the search attributes above, to save as one of the UI's custom views.
type View struct {
	Name  string
	Query string
}

// OperatorViews are the lists operators start from. Each holds only running workflows
// (an offboarded customer keeps its last search attributes); "not synced for a day" is
// relative to now, and includes customers that never synced (LastSyncSuccess IS NULL).
func OperatorViews(now time.Time) []View {
	running := `ExecutionStatus = "Running" AND `
	day := now.UTC().Add(-24 * time.Hour).Truncate(time.Minute).Format(time.RFC3339)
	return []View{
		{"needs attention", running + SearchState.GetName() + ` = "` + string(HealthNeedsAttention) + `"`},
		{"broken role (by broken link)", running + SearchBrokenLink.GetName() + ` = "` + BrokenLinkAssumeRole + `"`},
		{"any broken link", running + SearchBrokenLink.GetName() + ` IS NOT NULL`},
		{"with quarantined files", running + SearchQuarantined.GetName() + ` > 0`},
		{"awaiting ACE's answer", running + SearchAwaitingACE.GetName() + ` > 0`},
		{"paused", running + SearchState.GetName() + ` = "` + string(HealthPaused) + `"`},
		{"not synced for a day", running + `(` + SearchLastSuccess.GetName() + ` < "` + day + `" OR ` + SearchLastSuccess.GetName() + ` IS NULL)`},
	}
}

// ListURL is the Web UI's workflows list at uiURL filtered by query.
func ListURL(uiURL, namespace, query string) string {
	return strings.TrimSuffix(uiURL, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows?query=" + url.QueryEscape(query)
}
