package customersync

import "time"

// SendInput asks SendChanges to send the CRM's changes to ACE.
type SendInput struct {
	Target Target `json:"target"`
	CRM    string `json:"crm"`
	// SpmsID is the partner's ACE id, written into every inbound envelope.
	SpmsID string `json:"spmsId"`
	// KMSKeyARN is ACE's key: inbound files are written with SSE-KMS under it.
	KMSKeyARN string `json:"kmsKeyArn,omitempty"`
	// After holds, per object, the watermark of the last change already handled.
	After map[string]int64 `json:"after"`
	// Limit caps the changes read per object (history and time stay bounded).
	Limit int `json:"limit"`
	// RecordsPerFile is 1 by default, as AWS recommends; at most 50.
	RecordsPerFile int `json:"recordsPerFile"`
	// Force sends records even if they went to ACE less than an hour ago.
	Force bool `json:"force,omitempty"`
}

// SentFile is one inbound file uploaded to ACE and awaiting its result.
type SentFile struct {
	Key    string `json:"key"`
	Object string `json:"object"`
	// Records names the records in the file by partner id, with the change each carried.
	Records []SentRecord `json:"records"`
}

// SentRecord is one record of a sent file.
type SentRecord struct {
	PartnerID string `json:"partnerId"`
	Watermark int64  `json:"watermark"`
	// Fields names the only fields sent, for an answer to an AWS referral; empty: all.
	Fields []string `json:"fields,omitempty"`
	// FieldsUnknown is set on a record known only from the CRM's own bookkeeping (status
	// sent, see crm.Inbound's Awaiting), not from SendChanges' result, that ACE already
	// knew when it went (it had an ACE id): it may have been an answer to an AWS referral,
	// which carries only some fields, so an acceptance confirms none of the CRM's edits and
	// they go again. A record without an ACE id went whole (a create): Fields stays empty.
	FieldsUnknown bool `json:"fieldsUnknown,omitempty"`
}

// SendResult counts what SendChanges did; it carries keys and ids only.
type SendResult struct {
	Sent []SentFile `json:"sent,omitempty"`
	// Invalid counts records that failed pre-flight validation (marked in the CRM, not sent).
	Invalid int `json:"invalid,omitempty"`
	// HeldBack counts records sent less than an hour ago and changed again: they wait.
	HeldBack int `json:"heldBack,omitempty"`
	// After is the new watermark per object: every change up to it is handled.
	After map[string]int64 `json:"after"`
	// More is true when an object had more changes than Limit.
	More bool `json:"more,omitempty"`
	// RecordErrors counts the records whose outcome (validation failed, sent) could not be
	// written; FailedRecords names them ("<object>/<partner id>", bounded). A record gone
	// from the CRM is skipped; one the CRM could not write now is offered again next cycle.
	RecordErrors  int      `json:"recordErrors,omitempty"`
	FailedRecords []string `json:"failedRecords,omitempty"`
}

// ResultsInput asks CollectResults for ACE's results of the files awaiting one.
type ResultsInput struct {
	Target Target `json:"target"`
	CRM    string `json:"crm"`
	// Folders maps object → results folder (opportunity-inbound-processed-results/ …).
	Folders map[string]string `json:"folders"`
	Pending []SentFile        `json:"pending"`
	// FromCRM also awaits the files the CRM holds records as sent in (crm.Inbound's
	// Awaiting): durable whatever crashed between an upload and the workflow's bookkeeping.
	FromCRM bool `json:"fromCrm,omitempty"`
}

// ResultsOutput says which pending files got their result.
type ResultsOutput struct {
	// Resolved are the keys of pending files whose result was read and written to the CRM.
	Resolved []string `json:"resolved,omitempty"`
	// Accepted and Rejected count records.
	Accepted int `json:"accepted,omitempty"`
	Rejected int `json:"rejected,omitempty"`
	// Unknown counts the objects left in the results folders: not named after a file
	// awaiting a result ("<name>_result.json", "<name>.error.json"), unreadable, or naming
	// a file not awaited. They are never deleted (they may be another system's, or the
	// answer to a file whose bookkeeping was lost); an object still there is counted again
	// by the next pass. The workflow reports it as CycleSummary.UnmatchedResults.
	Unknown int `json:"unknown,omitempty"`
	// RecordErrors counts the records whose outcome could not be written for good (the
	// record is gone from the CRM, or ACE's id conflicts with it: then it is marked rejected
	// with the reason when the CRM allows); FailedRecords names them ("<object>/<partner
	// id>", bounded). Their result file is acknowledged: nothing a retry could change.
	RecordErrors  int      `json:"recordErrors,omitempty"`
	FailedRecords []string `json:"failedRecords,omitempty"`
	// Retrying counts the records whose outcome the CRM could not write now (a transient
	// error); their result files are kept, not acknowledged, and read again next cycle.
	Retrying int `json:"retrying,omitempty"`
}

// NoAnswerInput marks the records of files ACE never answered.
type NoAnswerInput struct {
	Target Target     `json:"target"`
	CRM    string     `json:"crm"`
	Files  []SentFile `json:"files"`
	// FromCRM also marks the records the CRM holds as sent longer than Timeout ago.
	FromCRM bool          `json:"fromCrm,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
}
