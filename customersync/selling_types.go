package customersync

import "time"

// The inputs and results of the Partner Central Selling API transport's activities
// (CustomerConfig.Transport == TransportAPI): PullOpportunities (ACE → CRM) and
// PushChanges (CRM → ACE). Like the S3 transport's, they carry ids, times, counts and
// reasons only: never a record or a credential.

// APIState is the API transport's memory in the workflow State: how far ACE's
// opportunities have been read into the CRM. It is bounded (AtWatermark holds at most
// MaxAtWatermark ids) and carried across continue-as-new.
type APIState struct {
	// Watermark is the LastModifiedDate up to which every opportunity is handled (written to
	// the CRM, or quarantined). ListOpportunities is asked for those modified on or after it.
	Watermark time.Time `json:"watermark,omitzero"`
	// AtWatermark are the ids of the opportunities already handled whose LastModifiedDate is
	// exactly Watermark: the listing returns them again (its filter is "on or after"), and
	// they are skipped, so opportunities sharing the watermark's instant are neither lost
	// nor re-applied every cycle.
	AtWatermark []string `json:"atWatermark,omitempty"`
	// Seeded is set once Watermark was started, from the last S3 sync when a customer moved
	// from S3 (MigrationLookback before it) or from the start of the API history otherwise.
	Seeded bool `json:"seeded,omitempty"`
}

// MaxAtWatermark bounds APIState.AtWatermark. More opportunities sharing one
// LastModifiedDate (millisecond precision) than this would be read again each cycle and
// re-apply as unchanged, never lost.
const MaxAtWatermark = 1000

// MigrationLookback is how far before the last S3 sync a customer moving to the API starts
// reading: ACE's hourly S3 export lags the API, so the opportunities changed in the last
// export's hour are read again (they re-apply as unchanged).
const MigrationLookback = 2 * time.Hour

// DefaultOpportunitiesPerPull bounds the opportunities one PullOpportunities reads (each
// costs two reads of the partner's quota of 10 a second); the workflow calls it again
// while More is set.
const DefaultOpportunitiesPerPull = 100

// PullInput asks PullOpportunities to bring ACE's opportunities changed since the
// watermark, and AWS's pending referrals, into the CRM.
type PullInput struct {
	Target Target `json:"target"`
	CRM    string `json:"crm"`
	// After and AtWatermark are the APIState's.
	After       time.Time `json:"after,omitzero"`
	AtWatermark []string  `json:"atWatermark,omitempty"`
	// Max caps the opportunities read (DefaultOpportunitiesPerPull when 0).
	Max int `json:"max,omitempty"`
	// Referrals also reads AWS's pending referrals (engagement invitations).
	Referrals bool `json:"referrals,omitempty"`
	// Redrive names quarantined opportunities (their quarantine keys) to read again even
	// though the watermark is past them.
	Redrive []string `json:"redrive,omitempty"`
	// Inbound, when set, also asks the CRM whether opportunity changes are due after these
	// watermarks (PullResult.Changes), so that an idle cycle runs no PushChanges.
	Inbound *PullInbound `json:"inbound,omitempty"`
}

// PullInbound is the CRM → ACE part of a pull: a read of the CRM only.
type PullInbound struct {
	After map[string]int64 `json:"after,omitempty"`
	// Force counts changes sent less than an hour ago as due (sync-now --force).
	Force bool `json:"force,omitempty"`
}

// PullResult says what PullOpportunities did.
type PullResult struct {
	// Records counts the records handled (Inserted + Updated + Unchanged + Stale).
	Records   int `json:"records"`
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Stale     int `json:"stale"`
	// Referrals counts the pending AWS referrals read.
	Referrals int `json:"referrals,omitempty"`
	// Watermark and AtWatermark are the new APIState values: every opportunity up to them
	// is handled.
	Watermark   time.Time `json:"watermark,omitzero"`
	AtWatermark []string  `json:"atWatermark,omitempty"`
	// More is true when opportunities remain past Max.
	More bool `json:"more,omitempty"`
	// Quarantined are the records the mapping, the parser or the CRM refused, each keyed
	// APIQuarantineKey and with the opportunity's LastModifiedDate as ETag; Handled are the
	// quarantine keys that synced this time (off the quarantine list).
	Quarantined []BadFile `json:"quarantined,omitempty"`
	Handled     []string  `json:"handled,omitempty"`
	// Changes is true when the CRM has opportunity changes due to go to ACE, or a sent
	// change whose write-back a crash cut short (Inbound).
	Changes bool `json:"changes,omitempty"`
	// Conflicts counts the CRM's pending changes rejected because AWS's version edits the
	// same fields (a conflict surfaced on the record, never an overwrite of AWS's edit).
	Conflicts int `json:"conflicts,omitempty"`
}

// APIQuarantinePrefix starts the quarantine keys of API records: api/opportunity/<Id>
// (and api/referral/<invitation id>), so that `status` lists them beside S3 files and
// `redrive` retries them.
const APIQuarantinePrefix = "api/"

// APIQuarantineKey is the quarantine key of an opportunity the CRM side refused.
func APIQuarantineKey(id string) string { return APIQuarantinePrefix + "opportunity/" + id }

// PushInput asks PushChanges to send the CRM's changes to ACE over the Selling API.
type PushInput struct {
	Target Target `json:"target"`
	CRM    string `json:"crm"`
	// After holds, per object, the watermark of the last CRM change already handled.
	After map[string]int64 `json:"after"`
	// Limit caps the changes read per object.
	Limit int `json:"limit"`
	// Force sends records even if they went to ACE less than an hour ago.
	Force bool `json:"force,omitempty"`
}

// PushResult counts what PushChanges did. Every outcome is on the CRM record already
// (the API answers at once): nothing awaits a result.
type PushResult struct {
	// Created, Updated and Answered count the records ACE accepted: new opportunities,
	// updates, and answers to AWS referrals (accepted or rejected invitations).
	Created  int `json:"created,omitempty"`
	Updated  int `json:"updated,omitempty"`
	Answered int `json:"answered,omitempty"`
	// Submitted counts the opportunities submitted to AWS (StartEngagementFromOpportunityTask).
	Submitted int `json:"submitted,omitempty"`
	// Rejected counts the records ACE refused (validation, a conflict with AWS's newer
	// version): marked rejected in the CRM with the reason.
	Rejected int `json:"rejected,omitempty"`
	// Conflicts counts the rejections that were conflicts with a change made on AWS's side.
	Conflicts int `json:"conflicts,omitempty"`
	// Invalid counts records that failed pre-flight validation (marked, not sent).
	Invalid int `json:"invalid,omitempty"`
	// HeldBack counts records sent less than an hour ago and changed again: they wait.
	HeldBack int `json:"heldBack,omitempty"`
	// Recovered counts records a crashed attempt had sent but not finished writing back.
	Recovered int `json:"recovered,omitempty"`
	// After is the new watermark per object; More is true when an object had more changes
	// than Limit.
	After map[string]int64 `json:"after"`
	More  bool             `json:"more,omitempty"`
	// RecordErrors and FailedRecords as in SendResult.
	RecordErrors  int      `json:"recordErrors,omitempty"`
	FailedRecords []string `json:"failedRecords,omitempty"`
}

// Access-chain links of the API transport (CheckReport.Link and the BrokenLink search
// attribute): the Selling API permission refused.
const (
	BrokenLinkListOpportunities = "partnercentral:ListOpportunities"
	// BrokenLinkSellingAPI: another Selling API permission was refused.
	BrokenLinkSellingAPI = "partnercentral-selling"
)

// StepListOpportunities is the API transport's link after AssumeRole in Check.
const StepListOpportunities = "partnercentral:ListOpportunities"

// ErrThrottled: the Selling API kept answering ThrottlingException past the client's
// backoff. Retryable: Temporal retries the activity later, and a cycle that still fails
// is backing-off, not broken.
const ErrThrottled = "Throttled"
