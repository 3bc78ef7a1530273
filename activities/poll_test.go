package activities

import (
	"testing"

	"github.com/oppsync/oppsync/ace"
)

// A result (or error) file is matched to the pending inbound file it answers by the same
// name CollectResults uses, whatever the folders.
func TestResultNameMatchesInboundName(t *testing.T) {
	sent := ace.FolderOpportunityInbound + "P-1-7_2026-11-27T10-00-00Z.json"
	for _, key := range []string{
		ace.ResultKeyFor(sent, ace.FolderOpportunityResults),
		ace.FolderOpportunityResults + "P-1-7_2026-11-27T10-00-00Z.error.json",
	} {
		if got, want := resultName(key), inboundName(sent); got != want {
			t.Errorf("resultName(%q) = %q, want %q", key, got, want)
		}
	}
	if got := resultName(ace.FolderOpportunityResults + "notes.txt"); got != "" {
		t.Errorf("a file that is no result matched %q", got)
	}
}
