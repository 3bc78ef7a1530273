package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/mapping"
)

// List returns the records of object that carry an ACE id, ordered by ACE id.
func (s *Store) List(ctx context.Context, object ace.Object) ([]crm.Record, error) {
	om, err := s.m.Object(object)
	if err != nil {
		return nil, err
	}
	soql := "SELECT " + strings.Join(om.ReadFields(), ", ") + " FROM " + om.CRMObject +
		" WHERE " + om.ExternalID + " != null ORDER BY " + om.ExternalID
	rows, err := s.query(ctx, "list "+om.CRMObject, soql, nil)
	if err != nil {
		return nil, err
	}
	out := make([]crm.Record, 0, len(rows))
	for _, row := range rows {
		r, err := s.record(object, om, row)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Store) record(object ace.Object, om *mapping.ObjectMapping, row map[string]any) (crm.Record, error) {
	f, err := s.m.FromCRM(object, row)
	if err != nil {
		return crm.Record{}, fmt.Errorf("Salesforce %s %v: %w", om.CRMObject, row[om.PartnerID], err)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return crm.Record{}, err
	}
	str := func(k string) string { v, _ := f[k]; var s string; _ = json.Unmarshal(v, &s); return s }
	r := crm.Record{Object: object, ACEID: str("apnCrmUniqueIdentifier"), PartnerID: str(mapping.PartnerKey(object)), Fields: b}
	if object == ace.ObjectOpportunity {
		r.Name, r.Stage, r.Status = str("customerCompanyName"), str("stage"), str("status")
	} else {
		r.Name, r.Status = str("fullName"), str("status")
		if r.Name == "" {
			r.Name = strings.TrimSpace(str("firstName") + " " + str("lastName"))
		}
	}
	if t, err := timeOf(row[om.ACELastModified]); err == nil {
		r.LastModified = t
	}
	if t, err := timeOf(row[om.LastModified]); err == nil {
		r.UpdatedAt = t
		r.Watermark = crm.Watermark(t.UnixMilli())
	}
	if om.Sync.Status != "" {
		r.SyncStatus = crm.SyncStatus(text(row[om.Sync.Status]))
	}
	if om.Sync.Errors != "" {
		r.SyncErrors = lines(text(row[om.Sync.Errors]))
	}
	if om.Sync.Warnings != "" {
		r.SyncWarnings = lines(text(row[om.Sync.Warnings]))
	}
	if om.Sync.File != "" {
		r.SyncFile = text(row[om.Sync.File])
	}
	if t, err := timeOf(row[om.Sync.LastSent]); err == nil {
		r.LastSentAt = t
	}
	return r, nil
}

// Changes returns the records of object that people changed in Salesforce after the
// watermark, in watermark order; see crm.Inbound. The watermark is the record's
// SystemModstamp in Unix milliseconds. Records last changed by the integration user (ACE's
// updates and the sync status OppSync writes) are left out with LastModifiedById, so
// nothing ACE sent is echoed back, except those whose sync status is pending: a person's
// change that OppSync's own write (an ACE update, see keepCRMEdits; an acceptance of only
// part of the edits, see Record) covered, which must still go to ACE.
//
// SOQL datetime literals have whole seconds, so the query starts at the watermark's second
// and records at or below the watermark are dropped here. Records sharing one
// SystemModstamp are returned together even beyond limit, so the next call, which starts
// after that stamp, misses none of them.
func (s *Store) Changes(ctx context.Context, object ace.Object, after crm.Watermark, limit int) ([]crm.Change, error) {
	om, err := s.m.Object(object)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	userID, err := s.userID(ctx)
	if err != nil {
		return nil, err
	}
	from := time.UnixMilli(int64(after)).UTC().Truncate(time.Second)
	where := om.LastModified + " >= " + soqlTime(from)
	if om.ModifiedBy != "" && userID != "" {
		byPerson := om.ModifiedBy + " != " + soqlString(userID)
		if om.Sync.Status != "" {
			byPerson = "(" + byPerson + " OR " + om.Sync.Status + " = " + soqlString(string(crm.SyncPending)) + ")"
		}
		where += " AND " + byPerson
	}
	soql := "SELECT " + strings.Join(om.ReadFields(), ", ") + " FROM " + om.CRMObject + " WHERE " + where +
		" ORDER BY " + om.LastModified + ", " + om.PartnerID
	var out []crm.Change
	var cut crm.Watermark // once set: stop at the first record beyond this stamp
	var perr error
	_, err = s.query(ctx, "changes "+om.CRMObject, soql, func(rows []map[string]any) bool {
		for _, row := range rows {
			t, err := timeOf(row[om.LastModified])
			if err != nil {
				perr = malformed("changes "+om.CRMObject, nil, fmt.Errorf("%s of %v: %w", om.LastModified, row[om.PartnerID], err))
				return false
			}
			w := crm.Watermark(t.UnixMilli())
			if w <= after {
				continue
			}
			if cut != 0 && w > cut {
				return false
			}
			c, err := s.change(object, om, row, w, t)
			if err != nil {
				perr = err
				return false
			}
			out = append(out, c)
			if len(out) == limit {
				cut = w
			}
		}
		return true
	})
	if perr != nil {
		return nil, perr
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) change(object ace.Object, om *mapping.ObjectMapping, row map[string]any, w crm.Watermark, at time.Time) (crm.Change, error) {
	f, err := s.m.FromCRM(object, row)
	if err != nil {
		return crm.Change{}, fmt.Errorf("Salesforce %s %v: %w", om.CRMObject, row[om.PartnerID], err)
	}
	c := crm.Change{Object: object, PartnerID: text(row[om.PartnerID]), ACEID: text(row[om.ExternalID]), Watermark: w, ChangedAt: at}
	if c.ACEID == "" {
		delete(f, "apnCrmUniqueIdentifier")
	} else if raw := text(row[om.Raw]); raw != "" {
		c.Previous = json.RawMessage(raw)
	}
	if c.Fields, err = json.Marshal(f); err != nil {
		return crm.Change{}, err
	}
	if t, err := timeOf(row[om.Sync.LastSent]); err == nil {
		c.LastSentAt = t
	}
	return c, nil
}

// userID is the integration user's id, from the token answer's identity URL.
func (s *Store) userID(ctx context.Context) (string, error) {
	t, err := s.c.authenticate(ctx, nil)
	if err != nil {
		return "", err
	}
	return t.userID, nil
}

// Record writes an outcome onto the record (by its Id, the partner id): the sync status,
// errors, warnings, file and, for SyncSent, the time it was sent; and the ACE id when the
// outcome carries one. One PATCH (after one query for an acceptance, or to find a record
// known by its ACE id only); repeating it leaves the same state. Because the integration
// user writes it, Changes does not see it as a CRM change.
//
// An acceptance (accepted or synced) also confirms the CRM's edits: see confirmEdits.
func (s *Store) Record(ctx context.Context, o crm.Outcome) error {
	om, err := s.m.Object(o.Object)
	if err != nil {
		return err
	}
	confirm := o.Status == crm.SyncAccepted || o.Status == crm.SyncUpToDate
	fields := []string{om.PartnerID}
	if confirm {
		fields = om.ReadFields()
	}
	var row map[string]any
	id := o.PartnerID
	if id == "" && o.ACEID != "" {
		rows, err := s.query(ctx, "find "+om.CRMObject, "SELECT "+strings.Join(fields, ", ")+" FROM "+om.CRMObject+
			" WHERE "+om.ExternalID+" = "+soqlString(o.ACEID), nil)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("Salesforce: record outcome: no %s has %s %q", om.CRMObject, om.ExternalID, o.ACEID)
		}
		row, id = rows[0], text(rows[0][om.PartnerID])
	}
	if !isRecordID(id) {
		return fmt.Errorf("Salesforce: record outcome for %s %q: %q is not a Salesforce record id", o.Object, o.ACEID, id)
	}
	if confirm && row == nil {
		rows, err := s.query(ctx, "read "+om.CRMObject+" "+id, "SELECT "+strings.Join(fields, ", ")+" FROM "+om.CRMObject+
			" WHERE "+om.PartnerID+" = "+soqlString(id), nil)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("Salesforce: record outcome on %s %s: %w", om.CRMObject, id, crm.ErrRecordGone)
		}
		row = rows[0]
	}
	at := o.At
	if at.IsZero() {
		at = time.Now()
	}
	body := map[string]any{}
	set := func(field string, v any) {
		if field != "" {
			body[field] = v
		}
	}
	status := o.Status
	if confirm {
		userID, err := s.userID(ctx)
		if err != nil {
			return err
		}
		if status, err = s.confirmEdits(o, om, row, userID, body); err != nil {
			return fmt.Errorf("Salesforce: record outcome on %s %s: %w", om.CRMObject, id, err)
		}
	}
	set(om.Sync.Status, string(status))
	set(om.Sync.Errors, strings.Join(o.Errors, "\n"))
	set(om.Sync.Warnings, strings.Join(o.Warnings, "\n"))
	if o.File != "" {
		set(om.Sync.File, o.File)
	}
	if o.Status == crm.SyncSent {
		set(om.Sync.LastSent, at.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if o.ACEID != "" {
		set(om.ExternalID, o.ACEID)
	}
	if len(body) == 0 {
		return nil
	}
	p := s.dataPath("sobjects/" + url.PathEscape(om.CRMObject) + "/" + url.PathEscape(id))
	if err := s.c.do(ctx, "record outcome on "+om.CRMObject+" "+id, http.MethodPatch, p, body, nil); err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && (apiErr.Status == http.StatusNotFound || apiErr.Code == "ENTITY_IS_DELETED") {
			return fmt.Errorf("Salesforce: record outcome on %s %s: %w: %w", om.CRMObject, id, crm.ErrRecordGone, err)
		}
		return err
	}
	return nil
}

// confirmEdits handles ACE's acceptance of a record's change, given the record as the org
// holds it (row), and returns the status to show. The CRM's edits ACE now holds are folded
// into ACE's version (the raw field, set in body), so that keepCRMEdits no longer keeps
// them and ACE's later updates apply in full again, as in crm/sqlite:
//   - when the outcome names the fields the sent record carried (an answer to an AWS
//     referral carries just the answer), only those are folded; the other edits stay, and
//     the record shows pending, so Changes returns them as a change of their own;
//   - a record changed since it was sent (a person is its last modifier, or an ACE update
//     that covered a person's change marked it pending, and its SystemModstamp is no longer
//     the change's watermark) holds edits ACE has not seen:
//     nothing is folded and it shows pending, so its current version goes again (at worst
//     one redundant send, never a lost edit).
func (s *Store) confirmEdits(o crm.Outcome, om *mapping.ObjectMapping, row map[string]any, userID string, body map[string]any) (crm.SyncStatus, error) {
	by := text(row[om.ModifiedBy])
	var stamp crm.Watermark
	if t, err := timeOf(row[om.LastModified]); err == nil {
		stamp = crm.Watermark(t.UnixMilli())
	}
	// Unwritten since the change was read (no Record sent in between, as when an outcome
	// comes at once), the record holds just the change ACE accepted.
	if stamp != o.Watermark && ((om.ModifiedBy != "" && userID != "" && by != "" && by != userID) ||
		(om.Sync.Status != "" && text(row[om.Sync.Status]) == string(crm.SyncPending))) {
		return crm.SyncPending, nil
	}
	if om.Raw == "" {
		return o.Status, nil
	}
	current, err := s.m.FromCRM(o.Object, row)
	if err != nil {
		// A value the mapping cannot read back (changed since it was sent, as nothing that
		// fails so is sent): nothing is folded, the edits stay kept.
		return o.Status, nil
	}
	idKey := "apnCrmUniqueIdentifier"
	if o.ACEID != "" {
		current[idKey] = jsonString(o.ACEID)
	}
	folded := current
	if o.Fields != nil {
		folded = map[string]json.RawMessage{}
		if stored := strings.TrimSpace(text(row[om.Raw])); stored != "" {
			if folded, err = ace.Fields(json.RawMessage(stored)); err != nil {
				return "", fmt.Errorf("ACE's last version in %s: %w", om.Raw, err)
			}
		}
		for _, k := range append([]string{idKey, mapping.PartnerKey(o.Object)}, o.Fields...) {
			if v, ok := current[k]; ok {
				folded[k] = v
			}
		}
	}
	b, err := json.Marshal(folded) // sorted keys, as mapping.ToCRM writes the raw field
	if err != nil {
		return "", err
	}
	if !sameJSON(row[om.Raw], string(b)) {
		body[om.Raw] = string(b)
	}
	if o.Fields != nil {
		remaining, err := s.m.Edited(o.Object, row, folded)
		if err != nil {
			return "", err
		}
		if len(remaining) > 0 {
			return crm.SyncPending, nil
		}
	}
	return o.Status, nil
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func lines(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

var errNoTime = errors.New("no time")

func timeOf(v any) (time.Time, error) {
	s := text(v)
	if s == "" {
		return time.Time{}, errNoTime
	}
	return mapping.ParseTime(s)
}

// Awaiting returns the records of object whose sync status field holds sent; see
// crm.Inbound. One SOQL query on that field (paged). Without a status and a file field in
// the mapping nothing can be listed, and none is returned.
func (s *Store) Awaiting(ctx context.Context, object ace.Object, limit int) ([]crm.Awaiting, error) {
	om, err := s.m.Object(object)
	if err != nil {
		return nil, err
	}
	if om.Sync.Status == "" || om.Sync.File == "" {
		return nil, nil
	}
	fields := []string{om.PartnerID, om.ExternalID, om.Sync.File}
	if om.Sync.LastSent != "" {
		fields = append(fields, om.Sync.LastSent)
	}
	soql := "SELECT " + strings.Join(fields, ", ") + " FROM " + om.CRMObject +
		" WHERE " + om.Sync.Status + " = " + soqlString(string(crm.SyncSent)) + " AND " + om.Sync.File + " != null" +
		" ORDER BY " + om.PartnerID
	if limit > 0 {
		soql += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.query(ctx, "awaiting "+om.CRMObject, soql, nil)
	if err != nil {
		return nil, err
	}
	out := make([]crm.Awaiting, 0, len(rows))
	for _, row := range rows {
		a := crm.Awaiting{Object: object, PartnerID: text(row[om.PartnerID]), ACEID: text(row[om.ExternalID]), File: text(row[om.Sync.File])}
		if a.File == "" {
			continue
		}
		if t, err := timeOf(row[om.Sync.LastSent]); err == nil {
			a.SentAt = t
		}
		out = append(out, a)
	}
	return out, nil
}
