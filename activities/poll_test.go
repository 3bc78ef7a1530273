package activities

import (
	"testing"

	"github.com/oppsync/oppsync/ace"
)

// Poll and CollectResults match a result (or error) file to the pending inbound file it
// answers the same way: ace.AnsweredName of the result equals inboundName of the sent key.
func TestAnsweredNameMatchesInboundName(t *testing.T) {
	sent := ace.FolderOpportunityInbound + "P-1-7_2026-11-27T10-00-00Z.json"
	for _, key := range []string{
		ace.ResultKeyFor(sent, ace.FolderOpportunityResults),
		ace.FolderOpportunityResults + "P-1-7_2026-11-27T10-00-00Z.error.json",
	} {
		if got, ok := ace.AnsweredName(ace.FolderOpportunityResults, key); !ok || got != inboundName(sent) {
			t.Errorf("AnsweredName(%q) = %q, %v; want %q", key, got, ok, inboundName(sent))
		}
	}
	if got, ok := ace.AnsweredName(ace.FolderOpportunityResults, ace.FolderOpportunityResults+"notes.txt"); ok {
		t.Errorf("a file that is no result matched %q", got)
	}
}
