package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/mapping"
)

// subrequest is one entry of a Composite call.
type subrequest struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	ReferenceID string `json:"referenceId"`
	Body        any    `json:"body,omitempty"`
}

type subresponse struct {
	Body           json.RawMessage   `json:"body"`
	HTTPHeaders    map[string]string `json:"httpHeaders"`
	HTTPStatusCode int               `json:"httpStatusCode"`
	ReferenceID    string            `json:"referenceId"`
}

// composite sends subrequests in Composite calls of at most compositeMax (each call counts
// as one API call) and returns the answers in order. A subrequest Salesforce refused is
// returned as an *APIError in errs; the others' answers are in out.
func (s *Store) composite(ctx context.Context, op string, reqs []subrequest) ([]subresponse, error) {
	var out []subresponse
	for start := 0; start < len(reqs); start += compositeMax {
		chunk := reqs[start:min(start+compositeMax, len(reqs))]
		var resp struct {
			CompositeResponse []subresponse `json:"compositeResponse"`
		}
		body := map[string]any{"allOrNone": false, "compositeRequest": chunk}
		if err := s.c.do(ctx, op, http.MethodPost, s.dataPath("composite"), body, &resp); err != nil {
			return nil, err
		}
		if len(resp.CompositeResponse) != len(chunk) {
			return nil, malformed(op, nil, fmt.Errorf("%d answers to %d subrequests", len(resp.CompositeResponse), len(chunk)))
		}
		for i, r := range resp.CompositeResponse {
			if r.ReferenceID != chunk[i].ReferenceID {
				return nil, malformed(op, nil, fmt.Errorf("answer %d is for %q, want %q", i, r.ReferenceID, chunk[i].ReferenceID))
			}
		}
		out = append(out, resp.CompositeResponse...)
	}
	return out, nil
}

// subError turns a failed subrequest into an *APIError.
func subError(op string, r subresponse) error {
	ae := &APIError{Op: op, Status: r.HTTPStatusCode}
	var errs []sfError
	if json.Unmarshal(r.Body, &errs) == nil && len(errs) > 0 {
		ae.Code, ae.Message, ae.Fields = errs[0].code(), errs[0].Message, errs[0].Fields
	} else {
		return malformed(op, r.Body, fmt.Errorf("subrequest HTTP %d without Salesforce's error list", r.HTTPStatusCode))
	}
	return ae
}

// pending is one record on its way to Salesforce.
type pending struct {
	rec    ace.Record
	fields map[string]any // mapped CRM fields
	raw    string         // the raw ACE JSON written to the raw field
	byID   string         // set: update the CRM record with this Id (matched by partner id)
	insert bool           // no CRM record holds it yet
}

// Upsert writes one file's records; see crm.Store. Per object, the records are mapped, and
// for every 200 of them one SOQL subrequest reads what the org holds for their ACE ids (and
// partner ids), so that:
//   - a record whose ACE lastModifiedDate is older than the stored one (or absent while the
//     stored one is set) is Stale and not written;
//   - a record with the same lastModifiedDate and the same raw ACE JSON is Unchanged and not
//     written (the same file twice writes nothing);
//   - a record the partner created in Salesforce (matched by its Id = partner id, no ACE id
//     yet) is updated by Id and gets its ACE id;
//   - every other record is upserted by the external-id field through sObject Collections,
//     200 a subrequest, allOrNone false, around the sales team's edits ACE has not
//     confirmed, which stay (see keepCRMEdits).
//
// Reads and writes go in Composite calls of up to 5 subrequests, so 1,000 records cost 2
// calls plus the token. A record Salesforce or the mapping refuses does not stop the others:
// the result counts what landed and a *BatchError lists the refused records with
// Salesforce's own messages.
func (s *Store) Upsert(ctx context.Context, src crm.Source, records []ace.Record) (crm.UpsertResult, error) {
	var res crm.UpsertResult
	var refused []RecordError
	var refusedObj []string
	for _, o := range []ace.Object{ace.ObjectOpportunity, ace.ObjectLead} {
		var recs []ace.Record
		for _, r := range records {
			if r.Object == o {
				recs = append(recs, r)
			}
		}
		if len(recs) == 0 {
			continue
		}
		om, err := s.m.Object(o)
		if err != nil {
			return res, configErrorf("Salesforce: %s records in %s but %v", o, src.Key, err)
		}
		r, bad, err := s.upsertObject(ctx, o, om, recs)
		res = res.Add(r)
		if err != nil {
			return res, fmt.Errorf("Salesforce: upsert %ss of %s into %s: %w", o, src.Key, om.CRMObject, err)
		}
		if len(bad) > 0 {
			refused = append(refused, bad...)
			refusedObj = append(refusedObj, om.CRMObject)
		}
	}
	for _, r := range records {
		if !r.Object.Valid() {
			refused = append(refused, RecordError{ACEID: r.ACEID, Message: fmt.Sprintf("unknown object %q", r.Object)})
		}
	}
	if len(refused) > 0 {
		return res, &BatchError{CRM: "Salesforce", Object: strings.Join(refusedObj, "/"), Source: src.Key, Records: refused}
	}
	return res, nil
}

func (s *Store) upsertObject(ctx context.Context, o ace.Object, om *mapping.ObjectMapping, recs []ace.Record) (crm.UpsertResult, []RecordError, error) {
	var res crm.UpsertResult
	var refused []RecordError
	var ok []*pending
	for _, r := range recs {
		if r.ACEID == "" {
			refused = append(refused, RecordError{Message: "no ACE id (apnCrmUniqueIdentifier)"})
			continue
		}
		f, err := ace.Fields(r.Raw)
		if err == nil {
			var mapped map[string]any
			mapped, err = s.m.ToCRM(o, f)
			if err == nil {
				raw, _ := mapped[om.Raw].(string)
				ok = append(ok, &pending{rec: r, fields: mapped, raw: raw})
				continue
			}
		}
		refused = append(refused, RecordError{ACEID: r.ACEID, Code: "MAPPING", Message: err.Error()})
	}
	// A file may repeat a record: the last occurrence wins, as it would applied in order.
	ok = lastPerID(ok)

	// Read what the org holds, 200 ids a query subrequest.
	var reads []subrequest
	for start := 0; start < len(ok); start += BatchSize {
		batch := ok[start:min(start+BatchSize, len(ok))]
		reads = append(reads, subrequest{Method: http.MethodGet, ReferenceID: fmt.Sprintf("read%d", start/BatchSize),
			URL: s.dataPath("query") + "?q=" + url.QueryEscape(s.readSOQL(om, batch))})
	}
	stored := map[string]map[string]any{} // by ACE id
	byID := map[string]map[string]any{}   // by record Id, for records without an ACE id
	answers, err := s.composite(ctx, "read "+om.CRMObject, reads)
	if err != nil {
		return res, refused, err
	}
	for _, a := range answers {
		if a.HTTPStatusCode >= 300 {
			return res, refused, subError("read "+om.CRMObject, a)
		}
		var page queryResult
		if err := json.Unmarshal(a.Body, &page); err != nil {
			return res, refused, malformed("read "+om.CRMObject, a.Body, err)
		}
		rows := page.Records
		for !page.Done {
			if page.NextRecordsURL == "" {
				return res, refused, malformed("read "+om.CRMObject, a.Body, fmt.Errorf("done is false but there is no nextRecordsUrl"))
			}
			var next queryResult
			if err := s.c.do(ctx, "read "+om.CRMObject, http.MethodGet, page.NextRecordsURL, nil, &next); err != nil {
				return res, refused, err
			}
			rows = append(rows, next.Records...)
			page = next
		}
		for _, row := range rows {
			if id, _ := row[om.ExternalID].(string); id != "" {
				stored[id] = row
			} else if id, _ := row[om.PartnerID].(string); id != "" {
				byID[id] = row
			}
		}
	}

	// Decide.
	var userID string // the integration user, whose writes Changes leaves out
	if om.ModifiedBy != "" {
		if userID, err = s.userID(ctx); err != nil {
			return res, refused, err
		}
	}
	var upserts, updates []*pending
	for _, p := range ok {
		row, found := stored[p.rec.ACEID]
		if !found && p.rec.PartnerID != "" {
			if row, found = byID[p.rec.PartnerID]; found {
				p.byID = p.rec.PartnerID
			}
		}
		if !found {
			p.insert = true
			upserts = append(upserts, p)
			continue
		}
		if err := s.keepUnmasked(o, om, p, row); err != nil {
			refused = append(refused, RecordError{ACEID: p.rec.ACEID, Code: "MAPPING", Message: err.Error()})
			continue
		}
		switch decide(row, om, p) {
		case outcomeStale:
			res.Stale++
		case outcomeUnchanged:
			res.Unchanged++
		default:
			if err := s.keepCRMEdits(o, om, p, row, userID); err != nil {
				refused = append(refused, RecordError{ACEID: p.rec.ACEID, Code: "MAPPING", Message: err.Error()})
				continue
			}
			if p.byID != "" {
				updates = append(updates, p)
			} else {
				upserts = append(upserts, p)
			}
		}
	}

	// Write: upserts by external id, updates by Id; 200 records a subrequest.
	var writes []subrequest
	var batches [][]*pending
	for start := 0; start < len(upserts); start += BatchSize {
		b := upserts[start:min(start+BatchSize, len(upserts))]
		writes = append(writes, subrequest{Method: http.MethodPatch, ReferenceID: fmt.Sprintf("upsert%d", len(writes)),
			URL:  s.dataPath("composite/sobjects/" + om.CRMObject + "/" + om.ExternalID),
			Body: collectionBody(om, b, false)})
		batches = append(batches, b)
	}
	for start := 0; start < len(updates); start += BatchSize {
		b := updates[start:min(start+BatchSize, len(updates))]
		writes = append(writes, subrequest{Method: http.MethodPatch, ReferenceID: fmt.Sprintf("update%d", len(writes)),
			URL: s.dataPath("composite/sobjects"), Body: collectionBody(om, b, true)})
		batches = append(batches, b)
	}
	answers, err = s.composite(ctx, "upsert "+om.CRMObject, writes)
	if err != nil {
		return res, refused, err
	}
	for i, a := range answers {
		b := batches[i]
		if a.HTTPStatusCode >= 300 {
			// The whole subrequest failed (e.g. a field the org lacks): every record of it.
			err := subError("upsert "+om.CRMObject, a)
			ae, isAPI := err.(*APIError)
			for _, p := range b {
				re := RecordError{ACEID: p.rec.ACEID, Message: err.Error(), Retryable: true}
				if isAPI {
					re = RecordError{ACEID: p.rec.ACEID, Code: ae.Code, Message: ae.Message, Fields: ae.Fields, Retryable: ae.Retryable()}
				}
				refused = append(refused, re)
			}
			continue
		}
		var results []struct {
			ID      string    `json:"id"`
			Success bool      `json:"success"`
			Created bool      `json:"created"`
			Errors  []sfError `json:"errors"`
		}
		if err := json.Unmarshal(a.Body, &results); err != nil {
			return res, refused, malformed("upsert "+om.CRMObject, a.Body, err)
		}
		if len(results) != len(b) {
			return res, refused, malformed("upsert "+om.CRMObject, a.Body, fmt.Errorf("%d results for %d records", len(results), len(b)))
		}
		for j, r := range results {
			p := b[j]
			switch {
			case r.Success && r.Created:
				res.Inserted++
			case r.Success:
				res.Updated++
			default:
				re := RecordError{ACEID: p.rec.ACEID, Message: "refused without a reason"}
				if len(r.Errors) > 0 {
					e := r.Errors[0]
					re = RecordError{ACEID: p.rec.ACEID, Code: e.code(), Message: e.Message, Fields: e.Fields, Retryable: retryableCodes[e.code()]}
					for _, more := range r.Errors[1:] {
						re.Message += "; " + more.code() + ": " + more.Message
					}
				}
				refused = append(refused, re)
			}
		}
	}
	return res, refused, nil
}

// keepUnmasked restores, in a record on its way to Salesforce, the fields ACE masks on an
// AWS referral (ace.MaskedValue) from the ACE record the org holds (row's raw field), as
// every connector does (crm.KeepUnmasked): a masked value must not erase real data. The
// fields to write are mapped again from the restored record, and the stale and unchanged
// checks compare what would be stored, so a masked file applied again is unchanged.
func (s *Store) keepUnmasked(o ace.Object, om *mapping.ObjectMapping, p *pending, row map[string]any) error {
	stored, _ := row[om.Raw].(string)
	raw, err := crm.KeepUnmasked(p.rec.Raw, []byte(stored))
	if err != nil {
		return fmt.Errorf("keep the real values of masked fields: %w", err)
	}
	if bytes.Equal(raw, p.rec.Raw) {
		return nil
	}
	f, err := ace.Fields(raw)
	if err != nil {
		return err
	}
	mapped, err := s.m.ToCRM(o, f)
	if err != nil {
		return err
	}
	p.fields = mapped
	p.raw, _ = mapped[om.Raw].(string)
	return nil
}

// keepCRMEdits makes the write of ACE's new version over a record the org holds keep the
// sales team's changes, as every connector does:
//   - the fields the sales team edited that ACE has not confirmed (their values differ
//     from ACE's last version, the row's raw field; mapping.Edited) are left out of the
//     write, so ACE's new values fill only the others. They stay until ACE accepts the
//     change that carries them (Record folds them into the raw field then), not only until
//     it is sent: ACE's hourly export may predate its processing of our file. Edits ACE
//     rejected stay until the sales team corrects them;
//   - a record a person changed since OppSync last wrote it (LastModifiedById is not the
//     integration user) holds a change not sent yet. The write makes the integration user
//     its last modifier, which Changes leaves out, so it also sets the sync status to
//     pending, which Changes returns whoever wrote last: the change is still sent, with the
//     write's SystemModstamp as its watermark. A record with no ACE version yet (created in
//     Salesforce, sent, and coming back from ACE before its result) keeps, in that case,
//     every field it holds differently from ACE;
//   - a record ACE accepted, no person having changed it since, whose fields all match
//     ACE's new version once written shows synced.
func (s *Store) keepCRMEdits(o ace.Object, om *mapping.ObjectMapping, p *pending, row map[string]any, userID string) error {
	by := text(row[om.ModifiedBy])
	person := om.ModifiedBy != "" && userID != "" && by != "" && by != userID
	newRaw := p.raw
	if newRaw == "" {
		newRaw = string(p.rec.Raw)
	}
	next, err := ace.Fields(json.RawMessage(newRaw))
	if err != nil {
		return fmt.Errorf("ACE's new version: %w", err)
	}
	var keep []string
	if stored := strings.TrimSpace(text(row[om.Raw])); stored != "" {
		prev, err := ace.Fields(json.RawMessage(stored))
		if err != nil {
			return fmt.Errorf("ACE's last version in %s.%s: %w", om.CRMObject, om.Raw, err)
		}
		if keep, err = s.m.Edited(o, row, prev); err != nil {
			return err
		}
	} else if person {
		if keep, err = s.m.Edited(o, row, next); err != nil {
			return err
		}
	}
	differ, err := s.m.Edited(o, row, next)
	if err != nil {
		return err
	}
	for _, f := range om.Fields {
		// The kept edits, and the fields that already mean ACE's new value (a CRM picklist
		// value standing for it stays as the sales team chose it), are not written.
		if _, read := row[f.CRM]; read && (slices.Contains(keep, f.CRM) || !slices.Contains(differ, f.CRM)) && f.Direction != mapping.Outbound {
			delete(p.fields, f.CRM)
		}
	}
	if om.Sync.Status == "" {
		return nil
	}
	switch {
	case person:
		p.fields[om.Sync.Status] = string(crm.SyncPending)
	case text(row[om.Sync.Status]) == string(crm.SyncAccepted) &&
		!slices.ContainsFunc(differ, func(f string) bool { return slices.Contains(keep, f) }):
		// Once written, only the kept fields can differ from ACE's version: none does.
		p.fields[om.Sync.Status] = string(crm.SyncUpToDate)
	}
	return nil
}

// readSOQL selects the stored state of a batch: by ACE id, and by Id for records carrying a
// partner id that may not have their ACE id yet. It reads who last changed each record,
// its sync status and the fields both ACE and the CRM write, for keepCRMEdits.
func (s *Store) readSOQL(om *mapping.ObjectMapping, batch []*pending) string {
	ids := make([]string, 0, len(batch))
	var partnerIDs []string
	for _, p := range batch {
		ids = append(ids, soqlString(p.rec.ACEID))
		if isRecordID(p.rec.PartnerID) {
			partnerIDs = append(partnerIDs, soqlString(p.rec.PartnerID))
		}
	}
	where := om.ExternalID + " IN (" + strings.Join(ids, ",") + ")"
	if len(partnerIDs) > 0 {
		where += " OR " + om.PartnerID + " IN (" + strings.Join(partnerIDs, ",") + ")"
	}
	fields := []string{om.PartnerID, om.ExternalID, om.ACELastModified, om.Raw, om.ModifiedBy, om.Sync.Status}
	for _, f := range om.Fields {
		if f.Direction == "" || f.Direction == mapping.Both {
			fields = append(fields, f.CRM)
		}
	}
	return "SELECT " + strings.Join(uniq(fields...), ", ") + " FROM " + om.CRMObject + " WHERE " + where
}

func uniq(ss ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// collectionBody is an sObject Collections request body.
func collectionBody(om *mapping.ObjectMapping, batch []*pending, withID bool) map[string]any {
	recs := make([]map[string]any, len(batch))
	for i, p := range batch {
		r := make(map[string]any, len(p.fields)+2)
		for k, v := range p.fields {
			r[k] = v
		}
		r["attributes"] = map[string]string{"type": om.CRMObject}
		if withID {
			r["Id"] = p.byID
		}
		recs[i] = r
	}
	return map[string]any{"allOrNone": false, "records": recs}
}

type outcome int

const (
	outcomeWrite outcome = iota
	outcomeUnchanged
	outcomeStale
)

// decide applies the ordering rules (those of crm/sqlite) to a record the org holds.
func decide(row map[string]any, om *mapping.ObjectMapping, p *pending) outcome {
	var stored time.Time
	if s, _ := row[om.ACELastModified].(string); s != "" {
		if t, err := mapping.ParseTime(s); err == nil {
			stored = t
		}
	}
	in := p.rec.LastModified
	switch {
	case in.IsZero() && !stored.IsZero():
		return outcomeStale
	case !in.IsZero() && in.Before(stored):
		return outcomeStale
	case in.Equal(stored) && p.byID == "" && sameJSON(row[om.Raw], p.raw):
		return outcomeUnchanged
	}
	return outcomeWrite
}

func sameJSON(stored any, raw string) bool {
	s, _ := stored.(string)
	if s == raw {
		return true
	}
	var a, b any
	if json.NewDecoder(bytes.NewReader([]byte(s))).Decode(&a) != nil || json.Unmarshal([]byte(raw), &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

func lastPerID(ps []*pending) []*pending {
	last := map[string]int{}
	for i, p := range ps {
		last[p.rec.ACEID] = i
	}
	out := ps[:0:0]
	for i, p := range ps {
		if last[p.rec.ACEID] == i {
			out = append(out, p)
		}
	}
	return out
}
