package crm

import (
	"context"
	"encoding/json"
	"time"

	"github.com/oppsync/oppsync/ace"
)

// Watermark orders the CRM's own changes: every create or edit made in the CRM (by people,
// not by OppSync writing ACE's data) gets a higher watermark than the one before. The
// customer's workflow keeps the last watermark it has handled, so it stays small.
type Watermark int64

// Change is one record the CRM changed that must go to ACE: a partner-created record that
// has no ACE id yet, or an edit of a record ACE knows.
type Change struct {
	Object ace.Object
	// PartnerID is the CRM's id of the record (partnerCrmUniqueIdentifier / partnerCrmLeadId).
	PartnerID string
	// ACEID is empty for a record ACE has not assigned an id to yet (a create).
	ACEID string
	// Watermark is this change's position; a later edit of the same record has a higher one.
	Watermark Watermark
	// ChangedAt is when the CRM made this change; with the watermark it names the inbound
	// file deterministically, so a retried upload never makes a second file.
	ChangedAt time.Time
	// Fields is the record as ACE's inbound JSON object (keys as in ACE's field tables),
	// including partnerCrmUniqueIdentifier / partnerCrmLeadId and, once known,
	// apnCrmUniqueIdentifier.
	Fields json.RawMessage
	// Previous is the record as ACE last sent or accepted it (nil for a create): the rules
	// on which fields may change in which stage compare against it.
	Previous json.RawMessage
	// LastSentAt is when this record last went to ACE (zero if never).
	LastSentAt time.Time
}

// SyncStatus is where a record stands with ACE, as the CRM shows it to the sales team.
type SyncStatus string

// Sync statuses written back to CRM records.
const (
	SyncPending  SyncStatus = "pending"           // changed in the CRM, not sent yet
	SyncInvalid  SyncStatus = "validation-failed" // failed pre-flight validation: not sent
	SyncSent     SyncStatus = "sent"              // uploaded, awaiting ACE's result
	SyncAccepted SyncStatus = "accepted"          // ACE processed it
	SyncRejected SyncStatus = "rejected"          // ACE refused it (see errors)
	SyncNoAnswer SyncStatus = "no-answer"         // no result from ACE in time
	SyncUpToDate SyncStatus = "synced"            // the CRM holds what ACE holds
)

// Outcome is what happened to one sent record, written back to the CRM.
type Outcome struct {
	Object    ace.Object
	PartnerID string
	// ACEID is the id ACE assigned or confirmed; the next send of the record is an update.
	ACEID string
	// Watermark is the change this outcome is about (for SyncSent: the change that was sent).
	Watermark Watermark
	Status    SyncStatus
	Errors    []string // every problem, each naming the field and rule where known
	Warnings  []string
	// File is the inbound file the record went in (or would have).
	File string
	// Fields, when set, are the only fields the sent record carried (an answer to an AWS
	// referral carries just the answer): an acceptance confirms only those edits, and the
	// CRM's other edits stay pending, to go as a change of their own.
	Fields []string
	// At is when it happened; the zero time means now.
	At time.Time
}

// Inbound is implemented by CRMs that can send their changes to ACE. Every method is
// idempotent: retried after a crash, it leaves the same state.
type Inbound interface {
	// Changes returns up to limit changes of object with a watermark above after, in
	// watermark order. A record edited several times appears once, at its latest watermark.
	Changes(ctx context.Context, object ace.Object, after Watermark, limit int) ([]Change, error)
	// Record writes an outcome (sent, invalid, accepted, rejected, no answer) onto the
	// record, and the ACE id when the outcome carries one. Sent also sets LastSentAt.
	Record(ctx context.Context, o Outcome) error
	// Awaiting returns the records of object whose status is sent (uploaded, no answer
	// recorded), at most limit of them (limit <= 0: all), in no particular order. A record
	// without a file is left out: nothing names its result. It is what lets a results pass
	// match ACE's answers to files whose upload the workflow never heard of (a worker killed
	// between the CRM write and the activity's completion).
	Awaiting(ctx context.Context, object ace.Object, limit int) ([]Awaiting, error)
}

// Awaiting is a record the CRM holds as sent to ACE and not answered yet (status sent): the
// CRM's own, durable, account of what awaits ACE's result, whatever happened to the worker
// between the upload and the workflow's bookkeeping.
type Awaiting struct {
	Object    ace.Object
	PartnerID string
	ACEID     string
	// File is the inbound file the record went in (its key); its name, with ACE's result
	// suffix, names the result to look for.
	File string
	// Watermark is the change that was sent, when the CRM keeps it (0: the record's latest).
	Watermark Watermark
	// SentAt is when it went to ACE (zero if the CRM does not say).
	SentAt time.Time
}

// ErrRecordGone marks an outcome that cannot be written because the CRM no longer has the
// record (deleted, or merged into another): no retry cures it.
var ErrRecordGone error = permanentError("the record is no longer in the CRM")

// ErrIDConflict marks an outcome whose ACE id contradicts the CRM (another id on the
// record, or the id already on another record): no retry cures it; a person must merge or
// correct the records.
var ErrIDConflict error = permanentError("ACE id conflicts with the CRM")

// permanentError is a sentinel no retry cures (RetryClassifier).
type permanentError string

func (e permanentError) Error() string { return string(e) }

// Retryable is always false.
func (e permanentError) Retryable() bool { return false }
