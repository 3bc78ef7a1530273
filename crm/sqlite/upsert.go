package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

// Action is what an upsert did to a record, as recorded in the change log.
type Action string

// The change-log actions. Unchanged and stale records are not logged.
const (
	ActionInsert Action = "insert"
	ActionUpdate Action = "update"
)

// outcome is the decision for one incoming record.
type outcome int

const (
	outcomeInsert outcome = iota
	outcomeUpdate
	outcomeUnchanged
	outcomeStale
)

// table describes how one ACE object maps to its table.
type table struct {
	name string
	// partnerKey is the object's partner-id field: partnerCrmUniqueIdentifier or partnerCrmLeadId.
	partnerKey string
	// cols are the mapped columns, read from the record's current fields (ACE's version
	// with the CRM's edits applied), so the columns always show what the CRM holds.
	cols []column

	// Statements built from name and cols by init.
	selectByACEID, selectByPartnerID, insert, update string
	// colList is "col1, col2, …" and setCols "col1 = ?, col2 = ?, …" over cols, for the
	// CRM-side statements (inbound.go).
	colList, setCols string
}

func init() {
	for obj, t := range tables {
		sel := `SELECT id, last_modified, raw, crm_edits FROM ` + t.name
		t.selectByACEID = sel + ` WHERE ace_id = ?`
		// Oldest first if, unexpectedly, several partner-created rows share the id.
		t.selectByPartnerID = sel + ` WHERE partner_id = ? AND ace_id = '' ORDER BY id LIMIT 1`

		names := make([]string, len(t.cols))
		for i, c := range t.cols {
			names[i] = c.name
		}
		cols := append([]string{"ace_id", "partner_id"}, names...)
		cols = append(cols, "last_modified", "raw", "updated_at", "source_key", "source_etag")
		t.insert = `INSERT INTO ` + t.name + ` (` + strings.Join(cols, ", ") + `) VALUES (?` +
			strings.Repeat(", ?", len(cols)-1) + `)`

		set := make([]string, len(cols))
		for i, c := range cols {
			set[i] = c + " = ?"
		}
		// An outbound record with a blank partner id keeps the stored one: ACE may not have
		// received the partner's id yet, and losing it would break the link to the CRM record.
		set[1] = "partner_id = COALESCE(NULLIF(?, ''), partner_id)"
		// ACE's update after it accepted the CRM's change, once no CRM edit is outstanding,
		// shows the record as in step with ACE (SQLite evaluates SET against the old row).
		set = append(set,
			`sync_updated_at = CASE WHEN sync_status = 'accepted' AND crm_edits = '{}' THEN ? ELSE sync_updated_at END`,
			`sync_status = CASE WHEN sync_status = 'accepted' AND crm_edits = '{}' THEN 'synced' ELSE sync_status END`)
		t.update = `UPDATE ` + t.name + ` SET ` + strings.Join(set, ", ") + ` WHERE id = ?`
		t.colList = strings.Join(names, ", ")
		t.setCols = strings.Join(set[2:2+len(names)], ", ")
		tables[obj] = t
	}
}

var tables = map[ace.Object]table{
	ace.ObjectOpportunity: {
		name:       "opportunities",
		partnerKey: "partnerCrmUniqueIdentifier",
		cols: []column{
			{"customer_company_name", "customerCompanyName", textColumn},
			{"customer_website", "customerWebsite", textColumn},
			{"partner_project_title", "partnerProjectTitle", textColumn},
			{"stage", "stage", textColumn},
			{"aws_stage", "aWSStage", textColumn}, // ACE's spelling
			{"status", "status", textColumn},
			{"opportunity_ownership", "opportunityOwnership", textColumn},
			{"partner_acceptance_status", "partnerAcceptanceStatus", textColumn},
			{"industry", "industry", textColumn},
			{"country", "country", textColumn},
			{"target_close_date", "targetCloseDate", textColumn}, // yyyy-mm-dd as sent
			{"expected_monthly_aws_revenue", "expectedMonthlyAwsRevenue", numberColumn},
			{"accept_by", "acceptBy", timeColumn},
			{"created_date", "createdDate", timeColumn},
		},
	},
	ace.ObjectLead: {
		name:       "leads",
		partnerKey: "partnerCrmLeadId",
		cols: []column{
			{"company", "company", textColumn},
			{"full_name", "fullName", textColumn},
			{"first_name", "firstName", textColumn},
			{"last_name", "lastName", textColumn},
			{"email", "email", textColumn},
			{"status", "status", textColumn},
			{"lead_source", "leadSource", textColumn},
			{"industry", "industry", textColumn},
			{"country", "country", textColumn},
			{"created_date", "createdDate", timeColumn},
		},
	},
}

// incoming is a validated record ready to write.
type incoming struct {
	rec ace.Record
	tbl table
	raw []byte // compacted JSON
	lm  string // formatted LastModified
}

// prepare validates records before the transaction starts, so a bad record fails the call
// without touching the database. Errors name the record by position and ACE id only:
// record contents are PII.
func prepare(src crm.Source, records []ace.Record) ([]incoming, error) {
	out := make([]incoming, len(records))
	for i, r := range records {
		bad := func(format string, a ...any) error {
			return fmt.Errorf("sqlite CRM: record %d of %s (ACE id %q): %s", i, src.Key, r.ACEID, fmt.Sprintf(format, a...))
		}
		tbl, ok := tables[r.Object]
		if !ok {
			return nil, bad("unknown object %q", r.Object)
		}
		if r.ACEID == "" {
			// Every outbound record carries apnCrmUniqueIdentifier; the parser should have
			// rejected one without it.
			return nil, bad("no ACE id (apnCrmUniqueIdentifier)")
		}
		if (r.Object == ace.ObjectOpportunity) != (r.Opportunity != nil) || (r.Object == ace.ObjectLead) != (r.Lead != nil) {
			return nil, bad("Object is %q but the typed fields do not match it", r.Object)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, r.Raw); err != nil {
			return nil, bad("raw JSON is invalid: %v", err)
		}
		if buf.Len() == 0 || buf.Bytes()[0] != '{' {
			return nil, bad("raw JSON is not an object")
		}
		out[i] = incoming{rec: r, tbl: tbl, raw: buf.Bytes(), lm: formatTime(r.LastModified)}
	}
	return out, nil
}

// Upsert writes one file's records in a single transaction; see crm.Store.
//
// A record is matched by (object, ACE id); failing that, when it has a partner id, by a
// row of its object with that partner id and no ACE id yet (a record the partner created
// and sent to ACE, now coming back with ACE's id), which it then fills in. Then:
//   - no match: Inserted;
//   - LastModified older than the stored one, or absent while the stored one is set:
//     Stale, nothing written (ACE files can arrive or be retried out of order);
//   - same LastModified and the same JSON: Unchanged, nothing written, so a re-applied
//     file moves no timestamp;
//   - otherwise: Updated.
//
// Inserted and Updated records get a change_log row. Because unchanged records write
// nothing and the transaction is all-or-nothing, applying a file twice, or retrying after
// a failure anywhere in the call, leaves the same state as applying it once.
func (s *Store) Upsert(ctx context.Context, src crm.Source, records []ace.Record) (crm.UpsertResult, error) {
	var res crm.UpsertResult
	in, err := prepare(src, records)
	if err != nil || len(in) == 0 {
		return res, err
	}
	now := formatTime(s.now())

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("sqlite CRM %s: begin upsert of %s: %w", s.path, src.Key, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	for i, r := range in {
		o, err := upsertOne(ctx, tx, src, r, now)
		if err != nil {
			return crm.UpsertResult{}, fmt.Errorf("sqlite CRM %s: upsert record %d of %s (%s %s): %w",
				s.path, i, src.Key, r.rec.Object, r.rec.ACEID, withCtxErr(ctx, err))
		}
		switch o {
		case outcomeInsert:
			res.Inserted++
		case outcomeUpdate:
			res.Updated++
		case outcomeUnchanged:
			res.Unchanged++
		case outcomeStale:
			res.Stale++
		}
		if s.afterRecord != nil {
			if err := s.afterRecord(ctx, i); err != nil {
				return crm.UpsertResult{}, err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return crm.UpsertResult{}, fmt.Errorf("sqlite CRM %s: commit upsert of %s: %w", s.path, src.Key, withCtxErr(ctx, err))
	}
	return res, nil
}

func upsertOne(ctx context.Context, tx *sql.Tx, src crm.Source, r incoming, now string) (outcome, error) {
	t := r.tbl
	src = src.For(r.rec)
	var (
		id          int64
		storedLM    string
		storedRaw   string
		storedEdits = "{}"
		found       = true
	)
	err := tx.QueryRowContext(ctx, t.selectByACEID, r.rec.ACEID).Scan(&id, &storedLM, &storedRaw, &storedEdits)
	if errors.Is(err, sql.ErrNoRows) && r.rec.PartnerID != "" {
		err = tx.QueryRowContext(ctx, t.selectByPartnerID, r.rec.PartnerID).Scan(&id, &storedLM, &storedRaw, &storedEdits)
	}
	if errors.Is(err, sql.ErrNoRows) {
		found, err = false, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read stored record: %w", err)
	}

	o, raw := outcomeInsert, r.raw
	if found {
		stored, err := parseTime(storedLM)
		if err != nil {
			return 0, fmt.Errorf("stored last_modified %q of row %d is not a time: %w", storedLM, id, err)
		}
		// Compare what would be stored, so a re-applied masked file is still Unchanged.
		if raw, err = crm.KeepUnmasked(r.raw, []byte(storedRaw)); err != nil {
			return 0, fmt.Errorf("row %d: %w", id, err)
		}
		o = decide(stored, r.rec.LastModified, []byte(storedRaw), raw)
	}

	if o == outcomeUnchanged || o == outcomeStale {
		return o, nil
	}
	// The columns show ACE's new version with the CRM's unconfirmed edits still on top:
	// ACE fills the fields the sales team did not touch, the touched ones keep their value.
	// The edits stay in crm_edits and crm_seq is untouched, so nothing ACE sent is ever
	// echoed back to ACE as a CRM change.
	fields, err := decodeObject(raw)
	if err != nil {
		return 0, err // prepare checked it is an object
	}
	edits, err := decodeObject([]byte(storedEdits))
	if err != nil {
		return 0, fmt.Errorf("stored CRM edits of row %d: %w", id, err)
	}
	// Both statements take ace_id, partner_id, the mapped columns, then the bookkeeping.
	args := append([]any{r.rec.ACEID, r.rec.PartnerID}, columnValues(t.cols, applyEdits(fields, edits))...)
	args = append(args, r.lm, string(raw), now, src.Key, src.ETag)
	if o == outcomeInsert {
		if _, err := tx.ExecContext(ctx, t.insert, args...); err != nil {
			return 0, fmt.Errorf("insert: %w", err)
		}
	} else {
		if _, err := tx.ExecContext(ctx, t.update, append(args, now, id)...); err != nil {
			return 0, fmt.Errorf("update: %w", err)
		}
	}

	action := ActionInsert
	if o == outcomeUpdate {
		action = ActionUpdate
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO change_log
		(object, ace_id, source_key, source_etag, last_modified, applied_at, action)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		string(r.rec.Object), r.rec.ACEID, src.Key, src.ETag, r.lm, now, string(action)); err != nil {
		return 0, fmt.Errorf("write change log: %w", err)
	}
	return o, nil
}

// withCtxErr makes a failure caused by a cancelled or expired ctx match
// errors.Is(err, context.Canceled) (or DeadlineExceeded): database/sql and the driver may
// report it as sql.ErrTxDone or an SQLite interrupt instead.
func withCtxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// decide applies the ordering rules to a record that matched a stored row.
func decide(storedLM, incomingLM time.Time, storedRaw, incomingRaw []byte) outcome {
	switch {
	case incomingLM.IsZero() && !storedLM.IsZero():
		return outcomeStale // a record without lastModifiedDate cannot prove it is newer
	case !incomingLM.IsZero() && incomingLM.Before(storedLM):
		return outcomeStale
	case incomingLM.Equal(storedLM) && crm.SameJSON(storedRaw, incomingRaw):
		return outcomeUnchanged
	default:
		return outcomeUpdate
	}
}
