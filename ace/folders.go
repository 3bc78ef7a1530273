package ace

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

// ProcessedTagKey and ProcessedTagValue mark an outbound object as handled when a customer
// chooses tagging over deletion (the aws-samples reader's convention).
const (
	ProcessedTagKey   = "partner_processed"
	ProcessedTagValue = "true"
)
