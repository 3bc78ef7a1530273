package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

// The CRM→ACE (inbound) direction. Create and Edit are the sales team's side, standing in
// for a CRM's user interface; Changes and Record implement crm.Inbound for OppSync.
//
// What each record keeps for it (migration 2):
//   - raw: ACE's version, as ACE last sent it or accepted the CRM's change (Change.Previous);
//   - crm_edits: the members the sales team changed that ACE has not confirmed, each with
//     its new value (null: cleared). The record as the CRM holds it is raw with crm_edits
//     applied, and the mapped columns always show that;
//   - crm_seq: the watermark of the record's latest Create or Edit (0: never changed in the
//     CRM). Only Create and Edit raise it, never an Upsert of ACE's data, so nothing ACE
//     sent is ever echoed back to ACE;
//   - sync_seq: the crm_seq the latest outcome was about. Every outcome (sent and
//     validation-failed included) raises it, so a record is a pending change exactly while
//     crm_seq > sync_seq: a change already sent or refused is only offered again after a
//     new edit;
//   - last_sent_seq, last_sent_at: the change last sent to ACE and when.
//
// CRM edits stay in crm_edits until ACE accepts the change that carries them, not only
// until it is sent: ACE's hourly outbound export may predate its processing of our file,
// and must not undo the sales team's values in the meantime. Once ACE has accepted the
// record's latest change, the edits are folded into raw and ACE's later updates apply in
// full again. Edits ACE rejected stay on top until the sales team corrects them.

var (
	// ErrNotFound means no record has the given partner or ACE id.
	ErrNotFound = fmt.Errorf("no such record (%w)", crm.ErrRecordGone)
	// ErrExists means another record of the object already has the partner id.
	ErrExists = errors.New("partner id already in use")
)

var _ crm.Inbound = (*Store)(nil)

// tableFor returns the table of object.
func tableFor(object ace.Object) (table, error) {
	t, ok := tables[object]
	if !ok {
		return table{}, fmt.Errorf("unknown object %q (want %q or %q)", object, ace.ObjectOpportunity, ace.ObjectLead)
	}
	return t, nil
}

// nextWatermark takes the next number of the CRM-change counter shared by both objects.
// It must run inside the write transaction that stores the change, so changes commit in
// watermark order (see migration 2).
func nextWatermark(ctx context.Context, tx *sql.Tx) (crm.Watermark, error) {
	var w crm.Watermark
	err := tx.QueryRowContext(ctx, `UPDATE crm_sequence SET value = value + 1 WHERE id = 1 RETURNING value`).Scan(&w)
	if err != nil {
		return 0, fmt.Errorf("take a watermark: %w", err)
	}
	return w, nil
}

// currentFields is the record as the CRM holds it: ACE's version with the CRM's edits applied.
func currentFields(raw, edits string) (jsonObject, error) {
	base, err := decodeObject([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("ACE's version: %w", err)
	}
	e, err := decodeObject([]byte(edits))
	if err != nil {
		return nil, fmt.Errorf("CRM edits: %w", err)
	}
	return applyEdits(base, e), nil
}

// Create adds a record the sales team created in the CRM: an opportunity or lead ACE does
// not know yet. partnerID is the CRM's own id of the record (partnerCrmUniqueIdentifier /
// partnerCrmLeadId), unique per object; fields is a JSON object in ACE's inbound key names
// (null members are dropped). It may repeat the partner id but must not carry an ACE id.
// The record becomes a pending change; the returned watermark is that change's. A partner
// id already in use fails with ErrExists.
func (s *Store) Create(ctx context.Context, object ace.Object, partnerID string, fields json.RawMessage) (crm.Watermark, error) {
	fail := func(err error) (crm.Watermark, error) {
		return 0, fmt.Errorf("sqlite CRM %s: create %s %q: %w", s.path, object, partnerID, withCtxErr(ctx, err))
	}
	t, err := tableFor(object)
	if err != nil {
		return fail(err)
	}
	if strings.TrimSpace(partnerID) == "" {
		return fail(errors.New("empty partner id: give the CRM's own id of the record"))
	}
	f, err := decodeObject(fields)
	if err != nil {
		return fail(fmt.Errorf("fields: %w", err))
	}
	if v, ok := f[t.partnerKey]; ok && ace.JSONKind(v) != "null" {
		if got, _ := str(f, t.partnerKey); got != partnerID {
			return fail(fmt.Errorf("fields give %s another value than the partner id; leave it out or repeat the id", t.partnerKey))
		}
	}
	if crm.IsRealValue(f[aceIDKey]) {
		return fail(fmt.Errorf("fields carry %s, but ACE assigns its id only once it accepts the record; use Edit for a record ACE knows", aceIDKey))
	}
	delete(f, t.partnerKey)
	delete(f, aceIDKey)
	if f, err = mergePatch(jsonObject{}, f); err != nil { // drops nulls: nothing to clear yet
		return fail(fmt.Errorf("fields: %w", err))
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.name+` WHERE partner_id = ?`, partnerID).Scan(&n); err != nil {
		return fail(err)
	}
	if n > 0 {
		return fail(fmt.Errorf("%w: edit that record instead, or give the new one its own id", ErrExists))
	}
	w, err := nextWatermark(ctx, tx)
	if err != nil {
		return fail(err)
	}
	now := formatTime(s.now())
	args := append([]any{partnerID}, columnValues(t.cols, f)...)
	args = append(args, string(encodeObject(f)), w, string(crm.SyncPending), now, now, now)
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+t.name+` (partner_id, `+t.colList+
		`, crm_edits, crm_seq, sync_status, sync_updated_at, updated_at, crm_changed_at) VALUES (?`+
		strings.Repeat(", ?", len(args)-1)+`)`, args...); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return w, nil
}

// editRow is what Edit and Record read of a record.
type editRow struct {
	id                     int64
	aceID, partnerID       string
	seq, syncSeq, lastSent crm.Watermark
	raw, edits, syncStatus string
}

const editRowCols = `id, ace_id, partner_id, crm_seq, sync_seq, last_sent_seq, raw, crm_edits, sync_status`

func scanEditRow(row *sql.Row) (editRow, error) {
	var r editRow
	err := row.Scan(&r.id, &r.aceID, &r.partnerID, &r.seq, &r.syncSeq, &r.lastSent, &r.raw, &r.edits, &r.syncStatus)
	return r, err
}

// Edit applies the sales team's change to a record: patch is a JSON Merge Patch (RFC 7386)
// in ACE's key names, merged onto the record as the CRM holds it; null clears a field. id
// is the record's partner id or, for a record the CRM has no id for yet (an AWS referral),
// its ACE id; a partner id is looked up first.
//
// The identity fields stay consistent: the patch may repeat them but not change them,
// except that a record without a partner id may be given one. An edited AWS referral
// without one gets "oppsync-<object>-<row id>", because ACE needs the partner's id to
// accept an update and to answer it.
//
// A patch that changes nothing returns the record's current watermark and writes nothing.
// Otherwise the record becomes a pending change with a new watermark, which is returned.
// An unknown id fails with ErrNotFound.
func (s *Store) Edit(ctx context.Context, object ace.Object, id string, patch json.RawMessage) (crm.Watermark, error) {
	fail := func(err error) (crm.Watermark, error) {
		return 0, fmt.Errorf("sqlite CRM %s: edit %s %q: %w", s.path, object, id, withCtxErr(ctx, err))
	}
	t, err := tableFor(object)
	if err != nil {
		return fail(err)
	}
	if id == "" {
		return fail(errors.New("empty id: give the record's partner id or ACE id"))
	}
	p, err := decodeObject(patch)
	if err != nil {
		return fail(fmt.Errorf("patch: %w", err))
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	row, err := scanEditRow(tx.QueryRowContext(ctx, `SELECT `+editRowCols+` FROM `+t.name+
		` WHERE partner_id = ? ORDER BY id LIMIT 1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		row, err = scanEditRow(tx.QueryRowContext(ctx, `SELECT `+editRowCols+` FROM `+t.name+` WHERE ace_id = ?`, id))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fail(fmt.Errorf("%w: no %s has partner id or ACE id %q", ErrNotFound, object, id))
	}
	if err != nil {
		return fail(err)
	}

	partnerID := row.partnerID
	if _, ok := p[t.partnerKey]; ok {
		got, isStr := str(p, t.partnerKey)
		switch {
		case isStr && got == row.partnerID: // restated
		case isStr && row.partnerID == "" && strings.TrimSpace(got) != "":
			partnerID = got
		default:
			return fail(fmt.Errorf("%s is the CRM's id of the record and stays %q once set; leave it out of the patch", t.partnerKey, row.partnerID))
		}
		delete(p, t.partnerKey)
	}
	if _, ok := p[aceIDKey]; ok {
		if got, isStr := str(p, aceIDKey); !isStr || got != row.aceID {
			return fail(fmt.Errorf("%s is ACE's id and only ACE assigns it; leave it out of the patch", aceIDKey))
		}
		delete(p, aceIDKey)
	}

	cur, err := currentFields(row.raw, row.edits)
	if err != nil {
		return fail(fmt.Errorf("stored record (row %d): %w", row.id, err))
	}
	// Identity comes from the columns, never from the edits.
	delete(cur, t.partnerKey)
	delete(cur, aceIDKey)
	next, err := mergePatch(cur, p)
	if err != nil {
		return fail(fmt.Errorf("patch: %w", err))
	}
	if partnerID == row.partnerID && crm.SameJSON(encodeObject(cur), encodeObject(next)) {
		return row.seq, nil // nothing changed: no new watermark, nothing to send
	}
	if partnerID == "" {
		partnerID = fmt.Sprintf("oppsync-%s-%d", object, row.id)
	}
	if partnerID != row.partnerID {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.name+` WHERE partner_id = ? AND id <> ?`,
			partnerID, row.id).Scan(&n); err != nil {
			return fail(err)
		}
		if n > 0 {
			return fail(fmt.Errorf("%w: partner id %q is on another %s", ErrExists, partnerID, object))
		}
	}

	edits, err := decodeObject([]byte(row.edits))
	if err != nil {
		return fail(fmt.Errorf("stored CRM edits (row %d): %w", row.id, err))
	}
	for k := range p {
		if v, ok := next[k]; ok {
			edits[k] = v
		} else {
			edits[k] = json.RawMessage("null")
		}
	}
	w, err := nextWatermark(ctx, tx)
	if err != nil {
		return fail(err)
	}
	now := formatTime(s.now())
	args := append([]any{partnerID}, columnValues(t.cols, next)...)
	args = append(args, string(encodeObject(edits)), w, string(crm.SyncPending), now, now, now, row.id)
	if _, err := tx.ExecContext(ctx, `UPDATE `+t.name+` SET partner_id = ?, `+t.setCols+
		`, crm_edits = ?, crm_seq = ?, sync_status = ?, sync_updated_at = ?, updated_at = ?, crm_changed_at = ? WHERE id = ?`, args...); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return w, nil
}

// Changes returns the pending CRM changes of object with a watermark above after, oldest
// first; see crm.Inbound. A change already sent, or refused by pre-flight validation, is
// not returned again, whatever after is, until the record is edited anew. Fields is the
// record as the CRM holds it, every member included (pre-flight validation and the file
// builder decide what ACE gets), with the partner id and, once known, the ACE id set from
// the record's identity. Previous is ACE's version, nil while ACE has no id for the record.
func (s *Store) Changes(ctx context.Context, object ace.Object, after crm.Watermark, limit int) ([]crm.Change, error) {
	fail := func(err error) ([]crm.Change, error) {
		return nil, fmt.Errorf("sqlite CRM %s: read %s changes after watermark %d: %w", s.path, object, after, withCtxErr(ctx, err))
	}
	t, err := tableFor(object)
	if err != nil {
		return fail(err)
	}
	if limit <= 0 {
		return fail(fmt.Errorf("limit is %d, want at least 1", limit))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT ace_id, partner_id, crm_seq, raw, crm_edits, last_sent_at, crm_changed_at FROM `+t.name+`
		WHERE crm_seq > ? AND crm_seq > sync_seq AND crm_seq > last_sent_seq ORDER BY crm_seq LIMIT ?`, after, limit)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()

	var out []crm.Change
	for rows.Next() {
		c := crm.Change{Object: object}
		var raw, edits, sent, changed string
		if err := rows.Scan(&c.ACEID, &c.PartnerID, &c.Watermark, &raw, &edits, &sent, &changed); err != nil {
			return fail(err)
		}
		if c.ChangedAt, err = parseTime(changed); err != nil {
			return fail(fmt.Errorf("change %d (partner id %q): bad crm_changed_at: %w", c.Watermark, c.PartnerID, err))
		}
		f, err := currentFields(raw, edits)
		if err != nil {
			return fail(fmt.Errorf("change %d (partner id %q): %w", c.Watermark, c.PartnerID, err))
		}
		f[t.partnerKey] = jsonString(c.PartnerID)
		delete(f, aceIDKey)
		if c.ACEID != "" {
			f[aceIDKey] = jsonString(c.ACEID)
			if raw != "{}" {
				c.Previous = json.RawMessage(raw)
			}
		}
		c.Fields = encodeObject(f)
		if c.LastSentAt, err = parseTime(sent); err != nil {
			return fail(fmt.Errorf("change %d (partner id %q): bad last_sent_at: %w", c.Watermark, c.PartnerID, err))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}

// outcomeRank orders the outcomes of one change: a later report of a lower rank (a retried
// "sent" arriving after ACE's result, a timeout after the result) does not replace a higher one.
var outcomeRank = map[crm.SyncStatus]int{
	crm.SyncSent:     1,
	crm.SyncNoAnswer: 2,
	crm.SyncInvalid:  3,
	crm.SyncAccepted: 3,
	crm.SyncRejected: 3,
	crm.SyncUpToDate: 3,
}

// Record writes an outcome onto the record with o.PartnerID (or, failing that, o.ACEID);
// see crm.Inbound. It is idempotent, and exact when o.Watermark names the change the
// outcome is about (zero means the record's latest change):
//   - an outcome about an older change than the last one recorded, or of lower rank for
//     the same change (see outcomeRank), leaves the status as it is;
//   - when the record was edited after that change, its status stays pending and the
//     newer edit is still offered by Changes;
//   - sent sets LastSentAt and the last sent change;
//   - an ACE id fills the record's empty one, so its next send is an update, never a
//     second create; an ACE id other than the record's fails;
//   - accepted (or synced) for the record's latest change folds the CRM's edits into
//     ACE's version: ACE now holds them.
func (s *Store) Record(ctx context.Context, o crm.Outcome) error {
	fail := func(err error) error {
		return fmt.Errorf("sqlite CRM %s: record %q outcome of %s (partner id %q, ACE id %q): %w",
			s.path, o.Status, o.Object, o.PartnerID, o.ACEID, withCtxErr(ctx, err))
	}
	t, err := tableFor(o.Object)
	if err != nil {
		return fail(err)
	}
	if o.PartnerID == "" && o.ACEID == "" {
		return fail(errors.New("the outcome names no record: want its partner id"))
	}
	if _, ok := outcomeRank[o.Status]; !ok {
		return fail(fmt.Errorf("unknown or non-final status %q", o.Status))
	}
	at := o.At
	if at.IsZero() {
		at = s.now()
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	row, err := scanEditRow(tx.QueryRowContext(ctx, `SELECT `+editRowCols+` FROM `+t.name+
		` WHERE partner_id = ? AND partner_id <> '' ORDER BY ace_id = ? DESC, ace_id = '' DESC, id LIMIT 1`, o.PartnerID, o.ACEID))
	if errors.Is(err, sql.ErrNoRows) && o.ACEID != "" {
		row, err = scanEditRow(tx.QueryRowContext(ctx, `SELECT `+editRowCols+` FROM `+t.name+` WHERE ace_id = ?`, o.ACEID))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fail(fmt.Errorf("%w: the CRM has no such %s", ErrNotFound, o.Object))
	}
	if err != nil {
		return fail(err)
	}
	if row.seq == 0 {
		return fail(errors.New("the record was never changed in the CRM, so nothing of it was sent"))
	}
	w := o.Watermark
	if w == 0 {
		w = row.seq
	}
	if w > row.seq {
		return fail(fmt.Errorf("the outcome is about change %d but the record's latest CRM change is %d: wrong record?", w, row.seq))
	}

	var (
		sets []string
		args []any
	)
	set := func(col string, v any) {
		sets = append(sets, col+" = ?")
		args = append(args, v)
	}
	now := formatTime(s.now())

	aceID := row.aceID
	if o.ACEID != "" && o.ACEID != row.aceID {
		if row.aceID != "" {
			return fail(fmt.Errorf("%w: ACE names the record %s but the CRM holds it as %s; check the result file", crm.ErrIDConflict, o.ACEID, row.aceID))
		}
		var other int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM `+t.name+` WHERE ace_id = ?`, o.ACEID).Scan(&other)
		if err == nil {
			return fail(fmt.Errorf("%w: ACE id %s is already on another %s (row %d): the CRM holds the record twice; merge them", crm.ErrIDConflict, o.ACEID, o.Object, other))
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fail(err)
		}
		aceID = o.ACEID
		set("ace_id", aceID)
		set("updated_at", now)
	}

	write := w > row.syncSeq || (w == row.syncSeq && outcomeRank[o.Status] >= outcomeRank[crm.SyncStatus(row.syncStatus)])
	if write {
		status := o.Status
		if row.seq > w {
			status = crm.SyncPending // edited since: the newer change waits to be sent
		}
		set("sync_status", string(status))
		set("sync_seq", w)
		set("sync_errors", encodeMessages(o.Errors))
		set("sync_warnings", encodeMessages(o.Warnings))
		set("sync_file", o.File)
		set("sync_updated_at", formatTime(at))
	}
	if o.Status == crm.SyncSent && w >= row.lastSent {
		set("last_sent_seq", w)
		set("last_sent_at", formatTime(at))
	}
	if write && (o.Status == crm.SyncAccepted || o.Status == crm.SyncUpToDate) && w == row.seq && aceID != "" && row.edits != "{}" {
		confirmed, remaining, err := splitEdits(row.edits, o.Fields)
		if err != nil {
			return fail(fmt.Errorf("stored record (row %d): %w", row.id, err))
		}
		folded, err := currentFields(row.raw, confirmed)
		if err != nil {
			return fail(fmt.Errorf("stored record (row %d): %w", row.id, err))
		}
		folded[t.partnerKey] = jsonString(row.partnerID)
		folded[aceIDKey] = jsonString(aceID)
		set("raw", string(encodeObject(folded)))
		set("crm_edits", remaining)
		if remaining != "{}" {
			// ACE took only part of the edits (an answer to a referral): the rest become a
			// change of their own, sent in a later cycle.
			next, err := nextWatermark(ctx, tx)
			if err != nil {
				return fail(err)
			}
			set("crm_seq", next)
			set("sync_status", string(crm.SyncPending))
		}
	}
	if len(sets) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+t.name+` SET `+strings.Join(sets, ", ")+` WHERE id = ?`,
		append(args, row.id)...); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}

// splitEdits divides stored CRM edits into those an outcome confirmed (the named fields, or
// all when fields is nil) and the others, both as stored JSON objects.
func splitEdits(edits string, fields []string) (confirmed, remaining string, err error) {
	if fields == nil {
		return edits, "{}", nil
	}
	all, err := decodeObject([]byte(edits))
	if err != nil {
		return "", "", err
	}
	yes, no := jsonObject{}, jsonObject{}
	for k, v := range all {
		if slices.Contains(fields, k) {
			yes[k] = v
		} else {
			no[k] = v
		}
	}
	return string(encodeObject(yes)), string(encodeObject(no)), nil
}

// encodeMessages stores a list of problems as a JSON array ([] for none).
func encodeMessages(m []string) string {
	if len(m) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(m) // strings always marshal
	return string(b)
}

// decodeMessages reverses encodeMessages; nil for none.
func decodeMessages(s string) ([]string, error) {
	var m []string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// Awaiting returns the records of object whose status is sent; see crm.Inbound. The
// watermark is the change sent (sync_seq). A record edited after it was sent shows pending
// and is not listed: the workflow's own list of pending files still names it.
func (s *Store) Awaiting(ctx context.Context, object ace.Object, limit int) ([]crm.Awaiting, error) {
	fail := func(err error) ([]crm.Awaiting, error) {
		return nil, fmt.Errorf("sqlite CRM %s: list %s records awaiting ACE's result: %w", s.path, object, withCtxErr(ctx, err))
	}
	t, err := tableFor(object)
	if err != nil {
		return fail(err)
	}
	q := `SELECT partner_id, ace_id, sync_file, sync_seq, last_sent_at FROM ` + t.name +
		` WHERE sync_status = ? AND sync_file <> '' ORDER BY sync_seq`
	args := []any{string(crm.SyncSent)}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var out []crm.Awaiting
	for rows.Next() {
		a := crm.Awaiting{Object: object}
		var sent string
		if err := rows.Scan(&a.PartnerID, &a.ACEID, &a.File, &a.Watermark, &sent); err != nil {
			return fail(err)
		}
		if a.SentAt, err = parseTime(sent); err != nil {
			return fail(fmt.Errorf("partner id %q: bad last_sent_at: %w", a.PartnerID, err))
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}
