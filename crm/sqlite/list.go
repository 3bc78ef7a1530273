package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

// List returns the records of one object ordered by ACE id; records the partner created
// that ACE has not yet given an id come first, with an empty ACEID. Fields is the record
// as the CRM holds it: the JSON ACE last sent with the CRM's unconfirmed edits applied
// (ACE's JSON as received when there are none). Name is the customer company for an
// opportunity and the person's name for a lead. The sync fields show where the record's
// CRM changes stand with ACE.
func (s *Store) List(ctx context.Context, object ace.Object) ([]crm.Record, error) {
	const inbound = `crm_edits, crm_seq, sync_status, sync_errors, sync_warnings, sync_file, last_sent_at`
	var q string
	switch object {
	case ace.ObjectOpportunity:
		q = `SELECT ace_id, partner_id, customer_company_name, '', '', stage, status, last_modified, updated_at, source_key, raw, ` +
			inbound + ` FROM opportunities ORDER BY ace_id, id`
	case ace.ObjectLead:
		q = `SELECT ace_id, partner_id, full_name, first_name, last_name, '', status, last_modified, updated_at, source_key, raw, ` +
			inbound + ` FROM leads ORDER BY ace_id, id`
	default:
		return nil, fmt.Errorf("sqlite CRM: list: unknown object %q (want %q or %q)", object, ace.ObjectOpportunity, ace.ObjectLead)
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sqlite CRM %s: list %ss: %w", s.path, object, err)
	}
	defer rows.Close()

	var out []crm.Record
	for rows.Next() {
		var (
			r                       = crm.Record{Object: object}
			first, last             string
			lm, updated, raw, edits string
			status, errs, warns     string
			sent                    string
		)
		if err := rows.Scan(&r.ACEID, &r.PartnerID, &r.Name, &first, &last, &r.Stage, &r.Status,
			&lm, &updated, &r.SourceKey, &raw, &edits, &r.Watermark, &status, &errs, &warns, &r.SyncFile, &sent); err != nil {
			return nil, fmt.Errorf("sqlite CRM %s: list %ss: %w", s.path, object, err)
		}
		bad := func(what string, err error) error {
			return fmt.Errorf("sqlite CRM %s: %s %s (partner id %q): bad %s: %w", s.path, object, r.ACEID, r.PartnerID, what, err)
		}
		if r.Name == "" {
			r.Name = strings.TrimSpace(first + " " + last) // leads without fullName
		}
		if r.LastModified, err = parseTime(lm); err != nil {
			return nil, bad("last_modified", err)
		}
		if r.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, bad("updated_at", err)
		}
		if r.LastSentAt, err = parseTime(sent); err != nil {
			return nil, bad("last_sent_at", err)
		}
		if r.SyncErrors, err = decodeMessages(errs); err != nil {
			return nil, bad("sync_errors", err)
		}
		if r.SyncWarnings, err = decodeMessages(warns); err != nil {
			return nil, bad("sync_warnings", err)
		}
		r.SyncStatus = crm.SyncStatus(status)
		r.Fields = json.RawMessage(raw)
		if edits != "{}" {
			f, err := currentFields(raw, edits)
			if err != nil {
				return nil, bad("fields", err)
			}
			r.Fields = encodeObject(f)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite CRM %s: list %ss: %w", s.path, object, err)
	}
	return out, nil
}

// Change is one change-log entry: a record version an Upsert inserted or updated.
type Change struct {
	Object       ace.Object
	ACEID        string
	Source       crm.Source // the ACE file the version came from
	LastModified time.Time  // the version's lastModifiedDate; zero if it had none
	AppliedAt    time.Time  // when the store applied it
	Action       Action
}

// ChangeLog returns the change-log entries of one record, or of every record of the
// object when aceID is empty, in the order they were applied.
func (s *Store) ChangeLog(ctx context.Context, object ace.Object, aceID string) ([]Change, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ace_id, source_key, source_etag, last_modified, applied_at, action
		FROM change_log WHERE object = ? AND (? = '' OR ace_id = ?) ORDER BY id`, string(object), aceID, aceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite CRM %s: read change log: %w", s.path, err)
	}
	defer rows.Close()

	var out []Change
	for rows.Next() {
		c := Change{Object: object}
		var lm, applied, action string
		if err := rows.Scan(&c.ACEID, &c.Source.Key, &c.Source.ETag, &lm, &applied, &action); err != nil {
			return nil, fmt.Errorf("sqlite CRM %s: read change log: %w", s.path, err)
		}
		c.Action = Action(action)
		if c.LastModified, err = parseTime(lm); err == nil {
			c.AppliedAt, err = parseTime(applied)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite CRM %s: change log of %s %s: %w", s.path, object, c.ACEID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite CRM %s: read change log: %w", s.path, err)
	}
	return out, nil
}
