package customersync

import "time"

// DefaultReadConcurrency is how many files of a batch are downloaded at once.
const DefaultReadConcurrency = 32

// SyncBatchInput asks SyncBatch to sync a batch of outbound files into the customer's CRM.
type SyncBatchInput struct {
	Target  Target      `json:"target"`
	CRM     string      `json:"crm"`
	Objects []ObjectRef `json:"objects"`
	Ack     AckMode     `json:"ack"`
	// ReadConcurrency bounds the parallel downloads (DefaultReadConcurrency when 0).
	ReadConcurrency int `json:"readConcurrency,omitempty"`
}

// SyncBatchResult counts what syncing a batch did. It carries keys, ETags, counts and
// reasons only.
type SyncBatchResult struct {
	// Files counts the files synced and acknowledged (Gone and quarantined files excluded).
	Files int `json:"files"`
	// Records counts the records of the batch's files that were handled: Inserted +
	// Updated + Unchanged + Stale. Stale includes the copies of a record superseded by a
	// newer one in the same batch, Unchanged the identical copies.
	Records   int `json:"records"`
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Stale     int `json:"stale"`
	// Rejected counts records that could not be read or that the CRM refused.
	Rejected int `json:"rejected,omitempty"`
	// Gone lists files no longer in the bucket (acknowledged by an earlier attempt, or
	// removed by ACE): nothing to do.
	Gone []string `json:"gone,omitempty"`
	// Quarantined lists the files left in place, each with the reason.
	Quarantined []BadFile `json:"quarantined,omitempty"`
	// Tagged lists, in tag mode, the files tagged, with the ETag read (the workflow skips
	// them until they change).
	Tagged []ObjectRef `json:"tagged,omitempty"`
	// Resumed counts files an earlier attempt had already acknowledged (from its heartbeat):
	// not read again. Reread counts files read again by this attempt after an earlier one
	// had read them but not acknowledged them (a crash or a failure mid-batch).
	Resumed int `json:"resumed,omitempty"`
	Reread  int `json:"reread,omitempty"`
}

// BadFile is an outbound file that cannot be synced as it is.
type BadFile struct {
	Key    string `json:"key"`
	ETag   string `json:"etag"`
	Reason string `json:"reason"`
}

// PollInput asks Poll what a cycle has to do: the outbound files to sync and, when the
// customer sends CRM changes to ACE, whether there are changes to send or results to read.
type PollInput struct {
	List ListInput `json:"list"`
	// Inbound, when set, also looks for CRM changes and ACE results.
	Inbound *PollInbound `json:"inbound,omitempty"`
}

// PollInbound is the inbound part of a poll.
type PollInbound struct {
	CRM string `json:"crm"`
	// After holds, per object, the watermark of the last change already handled.
	After map[string]int64 `json:"after,omitempty"`
	// Force counts changes sent less than an hour ago as due (sync-now --force).
	Force bool `json:"force,omitempty"`
	// Pending are the inbound files awaiting ACE's result, and Folders the results
	// folders per object: Poll lists those folders only when some are pending.
	Pending []string          `json:"pending,omitempty"`
	Folders map[string]string `json:"folders,omitempty"`
	// FromCRM also looks for the results of the files the CRM holds records as sent in
	// (crm.Inbound's Awaiting), and reports those sent longer than ResultTimeout ago.
	FromCRM       bool          `json:"fromCrm,omitempty"`
	ResultTimeout time.Duration `json:"resultTimeout,omitempty"`
}

// PollResult is what a poll found.
type PollResult struct {
	ListResult
	// Changes is true when the CRM has changes due to go to ACE.
	Changes bool `json:"changes,omitempty"`
	// Results is true when ACE has answered at least one pending file.
	Results bool `json:"results,omitempty"`
	// Awaiting counts the records the CRM holds as sent, awaiting ACE's result (FromCRM),
	// and Expired is true when one of them was sent longer than ResultTimeout ago.
	Awaiting int  `json:"awaiting,omitempty"`
	Expired  bool `json:"expired,omitempty"`
	// InboundError says why the inbound part could not be polled (the outbound part
	// still ran), with its error type when no retry can cure it.
	InboundError     string `json:"inboundError,omitempty"`
	InboundErrorType string `json:"inboundErrorType,omitempty"`
}
