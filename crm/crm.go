// Package crm is the boundary between OppSync and a customer's CRM: the Store interface the
// activities use, and a registry that opens a store from a URL such as sqlite:///path/crm.db.
// Connectors live in sub-packages (crm/sqlite is the embedded default) and register
// themselves with Register.
package crm

import (
	"context"
	"encoding/json"
	"time"

	"github.com/oppsync/oppsync/ace"
)

// Source names the ACE file a change came from; it goes into the change log.
type Source struct {
	Key  string // S3 object key, e.g. "opportunity-outbound/2026-11-27T10:00:00.json"
	ETag string // the object's ETag, so a re-drive of a changed file is told apart
	// Files is set for a batch of files merged into one call: each record then names its
	// own file (ace.Record.File) and Key only describes the batch. A pointer keeps Source
	// comparable.
	Files *FileETags
}

// FileETags maps the key of each file of a batch to its ETag.
type FileETags map[string]string

// For returns the file one record of the call came from: the record's own file in a batch,
// else the call's.
func (s Source) For(r ace.Record) Source {
	if r.File == "" || s.Files == nil {
		return s
	}
	return Source{Key: r.File, ETag: (*s.Files)[r.File]}
}

// UpsertResult counts what an upsert did to the records it was given.
type UpsertResult struct {
	Inserted  int // new CRM records
	Updated   int // existing records changed
	Unchanged int // identical to what the store already held (e.g. the same file again)
	Stale     int // older than what the store holds: skipped, newer data kept
}

// Add returns the sum of r and o.
func (r UpsertResult) Add(o UpsertResult) UpsertResult {
	return UpsertResult{
		Inserted:  r.Inserted + o.Inserted,
		Updated:   r.Updated + o.Updated,
		Unchanged: r.Unchanged + o.Unchanged,
		Stale:     r.Stale + o.Stale,
	}
}

// Total is the number of records the upsert was given.
func (r UpsertResult) Total() int { return r.Inserted + r.Updated + r.Unchanged + r.Stale }

// Record is one CRM record as a store returns it for export.
type Record struct {
	Object       ace.Object `json:"object"`
	ACEID        string     `json:"apnCrmUniqueIdentifier"`
	PartnerID    string     `json:"partnerId,omitempty"`
	Name         string     `json:"name,omitempty"` // company (opportunity) or full name (lead)
	Stage        string     `json:"stage,omitempty"`
	Status       string     `json:"status,omitempty"`
	LastModified time.Time  `json:"lastModifiedDate,omitzero"`
	UpdatedAt    time.Time  `json:"updatedAt"`  // when the store last changed it
	SourceKey    string     `json:"sourceFile"` // the ACE file that last changed it
	// Fields is every field in ACE's key names as the CRM holds it: ACE's last version with
	// the CRM's own edits that ACE has not confirmed yet applied on top.
	Fields json.RawMessage `json:"fields"`

	// Inbound (CRM→ACE) state, so the sales team sees where their changes stand.
	Watermark    Watermark  `json:"watermark,omitempty"`    // the record's latest CRM change; 0 if never changed in the CRM
	SyncStatus   SyncStatus `json:"syncStatus,omitempty"`   // empty for a store without inbound support
	SyncErrors   []string   `json:"syncErrors,omitempty"`   // why ACE or pre-flight validation refused it
	SyncWarnings []string   `json:"syncWarnings,omitempty"` // ACE's warnings on the last result
	SyncFile     string     `json:"syncFile,omitempty"`     // the inbound file it last went in (or would have)
	LastSentAt   time.Time  `json:"lastSentAt,omitzero"`    // when it last went to ACE
}

// Store is what OppSync needs from a CRM. Implementations must be safe for concurrent use.
//
// Upsert must be idempotent: applying the same records from the same Source twice, or
// retrying after a crash anywhere inside a call, leaves exactly the same state. A record
// whose LastModified is older than the stored one never overwrites it.
type Store interface {
	// Upsert writes records (all of one file) keyed by ACE id, or by partner id for a record
	// the CRM created before ACE assigned an id.
	Upsert(ctx context.Context, src Source, records []ace.Record) (UpsertResult, error)
	// List returns the records of one object, ordered by ACE id.
	List(ctx context.Context, object ace.Object) ([]Record, error)
	// Ping checks that the CRM can be reached.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}
