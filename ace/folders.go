package ace

import "slices"

// Bucket folders (key prefixes). Source: AWS Partner Central CRM integration guide,
// custom-opportunity-sharing and custom-lead-sharing. ACE writes the outbound and results
// folders; partners may write only the inbound ones.
const (
	FolderOpportunityOutbound = "opportunity-outbound/"
	FolderLeadOutbound        = "lead-outbound/"
	FolderOpportunityInbound  = "opportunity-inbound/"
	FolderLeadInbound         = "lead-inbound/"
	FolderOpportunityResults  = "opportunity-inbound-processed-results/"
	FolderLeadResults         = "lead-inbound-processed-results/"
)

// The results folders under the other name AWS uses: the guide's folder tables say
// "*-inbound-processed-results/" (the defaults above), while one answer of its technical
// FAQ calls them "*-inbound-results/". Both are accepted as a customer's setting.
const (
	FolderOpportunityResultsFAQ = "opportunity-inbound-results/"
	FolderLeadResultsFAQ        = "lead-inbound-results/"
)

// ResultsFolders returns the results folders AWS documents for object o, the default first:
// the only folders OppSync reads ACE's results from, and so the only ones it deletes from
// (and there only result files answering a file it sent).
func ResultsFolders(o Object) []string {
	switch o {
	case ObjectOpportunity:
		return []string{FolderOpportunityResults, FolderOpportunityResultsFAQ}
	case ObjectLead:
		return []string{FolderLeadResults, FolderLeadResultsFAQ}
	}
	return nil
}

// IsResultsFolder reports whether folder is one of ResultsFolders(o).
func IsResultsFolder(o Object, folder string) bool {
	return slices.Contains(ResultsFolders(o), folder)
}

// ProcessedTagKey and ProcessedTagValue mark an outbound object as handled when a customer
// chooses tagging over deletion (the aws-samples reader's convention).
const (
	ProcessedTagKey   = "partner_processed"
	ProcessedTagValue = "true"
)
