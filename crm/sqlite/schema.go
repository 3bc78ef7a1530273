package sqlite

import (
	"context"
	"fmt"
	"strings"
)

// migrations are the schema changes in order; migration i brings the database to version
// i+1. Only ever append: a database records the versions it has applied in
// schema_migrations, and every process opening it applies the missing ones, so a change
// must be additive (new table, new column with a default, new index) to keep an older
// binary that still has the file open working.
//
// Why two record tables, not one with an object column: opportunities and leads share
// only their identity and bookkeeping columns, while their mapped columns differ entirely
// (company, stages and revenue versus a person's name and email). Separate tables keep
// every column meaningful for every row, let the ACE-id and partner-id indexes be per
// object as the identities are, and read like the CRM objects an operator knows.
//
// Text conventions: an absent value is ” rather than NULL, so that equality, the
// change_log UNIQUE constraint and the partial indexes behave without NULL's special
// cases. Timestamps are UTC in timeLayout, whose fixed width makes text order time order.
var migrations = []string{
	// 1: records, change log.
	`
CREATE TABLE opportunities (
	id                           INTEGER PRIMARY KEY,
	ace_id                       TEXT NOT NULL DEFAULT '', -- apnCrmUniqueIdentifier; '' while only the partner knows the record
	partner_id                   TEXT NOT NULL DEFAULT '', -- partnerCrmUniqueIdentifier
	customer_company_name        TEXT NOT NULL DEFAULT '',
	customer_website             TEXT NOT NULL DEFAULT '',
	partner_project_title        TEXT NOT NULL DEFAULT '',
	stage                        TEXT NOT NULL DEFAULT '',
	aws_stage                    TEXT NOT NULL DEFAULT '', -- aWSStage
	status                       TEXT NOT NULL DEFAULT '',
	opportunity_ownership        TEXT NOT NULL DEFAULT '',
	partner_acceptance_status    TEXT NOT NULL DEFAULT '',
	industry                     TEXT NOT NULL DEFAULT '',
	country                      TEXT NOT NULL DEFAULT '',
	target_close_date            TEXT NOT NULL DEFAULT '', -- yyyy-mm-dd as ACE sent it
	expected_monthly_aws_revenue REAL,
	accept_by                    TEXT NOT NULL DEFAULT '',
	created_date                 TEXT NOT NULL DEFAULT '',
	last_modified                TEXT NOT NULL DEFAULT '', -- ACE's lastModifiedDate
	raw                          TEXT NOT NULL DEFAULT '{}', -- the record's JSON, compacted; every ACE field
	updated_at                   TEXT NOT NULL DEFAULT '', -- when this store last changed the row
	source_key                   TEXT NOT NULL DEFAULT '', -- S3 key of the file that last changed it
	source_etag                  TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX opportunities_ace_id ON opportunities (ace_id) WHERE ace_id <> '';
CREATE INDEX opportunities_partner_id ON opportunities (partner_id) WHERE partner_id <> '';

CREATE TABLE leads (
	id            INTEGER PRIMARY KEY,
	ace_id        TEXT NOT NULL DEFAULT '', -- apnCrmUniqueIdentifier
	partner_id    TEXT NOT NULL DEFAULT '', -- partnerCrmLeadId
	company       TEXT NOT NULL DEFAULT '',
	full_name     TEXT NOT NULL DEFAULT '',
	first_name    TEXT NOT NULL DEFAULT '',
	last_name     TEXT NOT NULL DEFAULT '',
	email         TEXT NOT NULL DEFAULT '',
	status        TEXT NOT NULL DEFAULT '',
	lead_source   TEXT NOT NULL DEFAULT '',
	industry      TEXT NOT NULL DEFAULT '',
	country       TEXT NOT NULL DEFAULT '',
	created_date  TEXT NOT NULL DEFAULT '',
	last_modified TEXT NOT NULL DEFAULT '',
	raw           TEXT NOT NULL DEFAULT '{}',
	updated_at    TEXT NOT NULL DEFAULT '',
	source_key    TEXT NOT NULL DEFAULT '',
	source_etag   TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX leads_ace_id ON leads (ace_id) WHERE ace_id <> '';
CREATE INDEX leads_partner_id ON leads (partner_id) WHERE partner_id <> '';

-- One row per record version applied. The UNIQUE constraint makes a re-applied file add
-- nothing even if it ever reached the insert (Upsert also skips unchanged records).
CREATE TABLE change_log (
	id            INTEGER PRIMARY KEY,
	object        TEXT NOT NULL CHECK (object IN ('opportunity', 'lead')),
	ace_id        TEXT NOT NULL,
	source_key    TEXT NOT NULL,
	source_etag   TEXT NOT NULL,
	last_modified TEXT NOT NULL,
	applied_at    TEXT NOT NULL,
	action        TEXT NOT NULL CHECK (action IN ('insert', 'update')),
	UNIQUE (object, ace_id, source_key, source_etag, last_modified)
);
`,
	// 2: the CRM→ACE (inbound) direction; see inbound.go.
	//
	// raw keeps its meaning, the record as ACE last sent or accepted it (Change.Previous),
	// and crm_edits holds the sales team's edits on top of it, so an ACE update never has to
	// be merged into the CRM's copy: the current record is always raw with crm_edits applied.
	//
	// crm_seq values come from the one counter in crm_sequence, shared by both objects: one
	// order of everything the sales team did, in which a watermark names a single change.
	// Only Create and Edit take a number, inside their write transaction; SQLite runs one
	// writer at a time, so a change commits in watermark order and a reader that has seen
	// watermark w never later finds a new change below w.
	strings.ReplaceAll(inboundColumns, "{table}", "opportunities") +
		strings.ReplaceAll(inboundColumns, "{table}", "leads") + `
CREATE TABLE crm_sequence (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	value INTEGER NOT NULL -- the last watermark handed out
);
INSERT INTO crm_sequence (id, value) VALUES (1, 0);
`,
	// 3: when the CRM made its latest change (crm.Change.ChangedAt), set only by Create and
	// Edit: with the watermark it names the change's inbound file, so it must not move when
	// ACE's data is written.
	`
ALTER TABLE opportunities ADD COLUMN crm_changed_at TEXT NOT NULL DEFAULT '';
ALTER TABLE leads ADD COLUMN crm_changed_at TEXT NOT NULL DEFAULT '';
`,
}

// inboundColumns is migration 2's change to each record table ({table} stands for its name):
// the columns are the same for opportunities and leads. Like every migration, never edit it.
const inboundColumns = `
ALTER TABLE {table} ADD COLUMN crm_seq         INTEGER NOT NULL DEFAULT 0;    -- latest CRM change's watermark; 0: never changed in the CRM
ALTER TABLE {table} ADD COLUMN crm_edits       TEXT    NOT NULL DEFAULT '{}'; -- CRM edits ACE has not confirmed: touched key -> value (null: cleared)
ALTER TABLE {table} ADD COLUMN sync_status     TEXT    NOT NULL DEFAULT '';   -- crm.SyncStatus; '' while the CRM never changed the record
ALTER TABLE {table} ADD COLUMN sync_seq        INTEGER NOT NULL DEFAULT 0;    -- the crm_seq the latest outcome was about
ALTER TABLE {table} ADD COLUMN sync_errors     TEXT    NOT NULL DEFAULT '[]'; -- JSON array of strings
ALTER TABLE {table} ADD COLUMN sync_warnings   TEXT    NOT NULL DEFAULT '[]'; -- JSON array of strings
ALTER TABLE {table} ADD COLUMN sync_file       TEXT    NOT NULL DEFAULT '';   -- inbound file of the latest outcome
ALTER TABLE {table} ADD COLUMN sync_updated_at TEXT    NOT NULL DEFAULT '';   -- when sync_status last changed
ALTER TABLE {table} ADD COLUMN last_sent_at    TEXT    NOT NULL DEFAULT '';
ALTER TABLE {table} ADD COLUMN last_sent_seq   INTEGER NOT NULL DEFAULT 0;    -- the crm_seq last sent to ACE
CREATE INDEX {table}_crm_seq ON {table} (crm_seq);
`

// migrate brings the schema to the latest version. It runs in one IMMEDIATE transaction
// (see dsn), so two processes opening a new file at once apply each migration once.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return err
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	if current > len(migrations) {
		return fmt.Errorf("database schema is version %d but this OppSync knows only up to %d: upgrade OppSync", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			v, formatTime(s.now())); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return tx.Commit()
}

// SchemaVersion reports the schema version the database is at.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlite CRM: read schema version: %w", err)
	}
	return v, nil
}
