package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

// decision is what Upsert does with one incoming record.
type decision int

const (
	decInsert decision = iota
	decUpdate
	decUnchanged
	decStale
)

// Upsert writes one file's records into HubSpot; see crm.Store and the package comment.
//
// Per object and per 100 records it makes one batch/read by the ACE-id property (plus one
// by record id for records ACE returns with a partner id but that HubSpot has under no
// ACE id yet), and one batch/upsert, so 1,000 records cost 20 calls. A record HubSpot
// refuses (a VALIDATION_ERROR such as an invalid enumeration option, missing scopes) is
// reported in a *BatchError naming its ACE id and HubSpot's message, and every other
// record lands; the UpsertResult counts those that landed.
func (s *Store) Upsert(ctx context.Context, src crm.Source, records []ace.Record) (crm.UpsertResult, error) {
	var res crm.UpsertResult
	byObj := map[ace.Object][]ace.Record{}
	var order []ace.Object
	for i, r := range records {
		bad := func(format string, a ...any) error {
			return fmt.Errorf("HubSpot: record %d of %s (ACE id %q): %s", i, src.Key, r.ACEID, fmt.Sprintf(format, a...))
		}
		if !r.Object.Valid() {
			return res, bad("unknown object %q", r.Object)
		}
		if r.ACEID == "" {
			return res, bad("no ACE id (apnCrmUniqueIdentifier)")
		}
		if _, err := ace.Fields(r.Raw); err != nil {
			return res, bad("raw record: %v", err)
		}
		if _, err := s.object(r.Object); err != nil {
			return res, err
		}
		if byObj[r.Object] == nil {
			order = append(order, r.Object)
		}
		byObj[r.Object] = append(byObj[r.Object], r)
	}
	var refused []RecordError
	for _, obj := range order {
		oc := s.objects[obj]
		r, errs, err := s.upsertObject(ctx, oc, src, byObj[obj])
		res = res.Add(r)
		refused = append(refused, errs...)
		if err != nil {
			return res, fmt.Errorf("HubSpot: upsert %s of %s: %w", oc.hsType, src.Key, err)
		}
	}
	if len(refused) > 0 {
		return res, &BatchError{CRM: "HubSpot", Source: src.Key, Records: refused}
	}
	return res, nil
}

func (s *Store) upsertObject(ctx context.Context, oc *objectConf, src crm.Source, recs []ace.Record) (crm.UpsertResult, []RecordError, error) {
	mu := s.upsertMu[oc.object]
	mu.Lock()
	defer mu.Unlock()

	var res crm.UpsertResult
	// One file may carry a record twice: the newest copy is written, the others are
	// stale (older) or unchanged (the same), as if applied one after the other.
	winner := map[string]int{}
	var unique []ace.Record
	for _, r := range recs {
		j, dup := winner[r.ACEID]
		if !dup {
			winner[r.ACEID] = len(unique)
			unique = append(unique, r)
			continue
		}
		prev := unique[j]
		switch {
		case r.LastModified.Before(prev.LastModified) || (r.LastModified.IsZero() && !prev.LastModified.IsZero()):
			res.Stale++
		case r.LastModified.Equal(prev.LastModified) && crm.SameJSON(r.Raw, prev.Raw):
			res.Unchanged++
		default:
			unique[j] = r
			res.Updated++ // the earlier copy was superseded within the file
		}
	}
	var refused []RecordError
	for start := 0; start < len(unique); start += BatchSize {
		r, errs, err := s.upsertChunk(ctx, oc, src, unique[start:min(start+BatchSize, len(unique))])
		res = res.Add(r)
		refused = append(refused, errs...)
		if err != nil {
			return res, refused, err
		}
	}
	return res, refused, nil
}

// planned is one record's write.
type planned struct {
	rec   ace.Record
	dec   decision
	hsID  string // set when matched by partner id: written by record id
	props map[string]string
}

func (s *Store) upsertChunk(ctx context.Context, oc *objectConf, src crm.Source, recs []ace.Record) (crm.UpsertResult, []RecordError, error) {
	var res crm.UpsertResult
	om := oc.om
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ACEID
	}
	stored, err := s.batchRead(ctx, oc, om.ExternalID, ids)
	if err != nil {
		return res, nil, err
	}
	// A record the partner created in HubSpot and sent to ACE comes back with ACE's id and
	// the HubSpot record id as partner id; until its outcome is recorded, HubSpot has it
	// under no ACE id. Find it by record id so it is updated, not duplicated.
	var pids []string
	for _, r := range recs {
		if _, ok := stored[r.ACEID]; !ok && isRecordID(r.PartnerID) {
			pids = append(pids, r.PartnerID)
		}
	}
	byPartner := map[string]object{}
	if len(pids) > 0 && om.PartnerID != "" {
		idProp := om.PartnerID
		if idProp == "hs_object_id" {
			idProp = ""
		}
		if byPartner, err = s.batchRead(ctx, oc, idProp, pids); err != nil {
			return res, nil, err
		}
	}

	var refused []RecordError
	var plans []planned
	for _, r := range recs {
		cur, found := stored[r.ACEID]
		p := planned{rec: r}
		if !found {
			if c, ok := byPartner[r.PartnerID]; ok && (c.prop(om.ExternalID) == "" || c.prop(om.ExternalID) == r.ACEID) {
				cur, found, p.hsID = c, true, c.ID
			}
		}
		raw := r.Raw
		if found {
			// A masked value (an AWS referral not yet accepted) must not erase real data:
			// the fields ACE masks keep the values of the ACE record HubSpot holds, as in
			// every connector (crm.KeepUnmasked), and the unchanged check compares what
			// would be stored, so a masked file applied again is unchanged.
			if raw, err = crm.KeepUnmasked(r.Raw, []byte(cur.prop(om.Raw))); err != nil {
				refused = append(refused, RecordError{ACEID: r.ACEID, Code: "MAPPING_ERROR",
					Message: fmt.Sprintf("cannot keep the real values of masked fields: %v", err)})
				continue
			}
		}
		fields, _ := ace.Fields(raw) // checked by Upsert
		vals, err := s.mapping.ToCRM(oc.object, fields)
		if err != nil {
			refused = append(refused, RecordError{ACEID: r.ACEID, Code: "MAPPING_ERROR",
				Message: fmt.Sprintf("the field mapping cannot translate it: %v", err)})
			continue
		}
		newProps := propsOf(vals)
		if !found {
			p.dec = decInsert
			p.props = map[string]string{}
			for k, v := range newProps {
				if v != "" {
					p.props[k] = v
				}
			}
		} else {
			p.dec, p.props = s.planUpdate(oc, r, cur, newProps)
		}
		switch p.dec {
		case decStale:
			res.Stale++
		case decUnchanged:
			res.Unchanged++
		default:
			plans = append(plans, p)
		}
	}

	var ups, upds []writeInput
	planOf := map[string]planned{}
	for _, p := range plans {
		if p.hsID != "" {
			upds = append(upds, writeInput{ID: p.hsID, Properties: p.props})
			planOf[p.hsID] = p
		} else {
			ups = append(ups, writeInput{ID: p.rec.ACEID, IDProperty: om.ExternalID, Properties: p.props})
			planOf[p.rec.ACEID] = p
		}
	}
	aceIDOf := func(w writeInput) string { return planOf[w.ID].rec.ACEID }
	for _, batch := range []struct {
		upsert bool
		in     []writeInput
	}{{true, ups}, {false, upds}} {
		if len(batch.in) == 0 {
			continue
		}
		wr, err := s.batchWrite(ctx, oc, batch.upsert, batch.in, aceIDOf)
		for k, o := range wr.ok {
			p := planOf[k]
			if p.dec == decInsert && (o.New == nil || *o.New) {
				res.Inserted++
			} else {
				res.Updated++
			}
		}
		for _, w := range batch.in {
			if e, ok := wr.errs[w.ID]; ok {
				refused = append(refused, e)
			}
		}
		if err != nil {
			return res, refused, err
		}
	}
	return res, refused, nil
}

// planUpdate decides what to write over an existing HubSpot record cur.
func (s *Store) planUpdate(oc *objectConf, r ace.Record, cur object, newProps map[string]string) (decision, map[string]string) {
	om := oc.om
	storedLM, hasLM := parseStamp(cur.prop(om.ACELastModified))
	if !hasLM {
		storedLM = rawLastModified(cur.prop(om.Raw))
	}
	switch {
	case r.LastModified.IsZero() && !storedLM.IsZero():
		return decStale, nil // a record without lastModifiedDate cannot prove it is newer
	case !r.LastModified.IsZero() && r.LastModified.Before(storedLM):
		return decStale, nil
	case r.LastModified.Equal(storedLM) && crm.SameJSON([]byte(cur.prop(om.Raw)), []byte(newProps[om.Raw])) && cur.prop(om.ExternalID) == r.ACEID:
		return decUnchanged, nil
	}

	// The sales team's edits that ACE has not confirmed: inbound fields whose value differs
	// from ACE's last version. They stay; ACE's new values fill every other field.
	prev := s.aceVersion(oc, cur)
	edited := map[string]bool{}
	switch {
	case prev != nil:
		for _, p := range oc.inbound {
			if !sameValue(cur.prop(p), prev[p]) {
				edited[p] = true
			}
		}
	case parseHandled(cur.prop(s.cfg.HandledProperty)).hash != contentHash(oc.inbound, cur.prop):
		// No ACE version to tell the edits by (a deal created in HubSpot, coming back from
		// ACE for the first time), and the content changed since its last outcome was
		// recorded: the change is not sent yet, and every field it holds differently from
		// ACE stays.
		for _, p := range oc.inbound {
			if !sameValue(cur.prop(p), newProps[p]) {
				edited[p] = true
			}
		}
	}
	props := map[string]string{}
	for k, v := range newProps {
		if !edited[k] {
			props[k] = v
		}
	}
	merged := func(p string) string {
		if v, ok := props[p]; ok {
			return v
		}
		return cur.prop(p)
	}
	// A CRM change whose outcome is already recorded stays recorded with ACE's new values
	// underneath, so it is not offered again.
	if h := parseHandled(cur.prop(s.cfg.HandledProperty)); h.hash != "" && h.hash == contentHash(oc.inbound, cur.prop) {
		props[s.cfg.HandledProperty] = handledMark{wm: h.wm, hash: contentHash(oc.inbound, merged)}.String()
	}
	// ACE's update after it accepted the CRM's change, with no edit outstanding, shows the
	// record as in step with ACE.
	if st := om.Sync.Status; st != "" && cur.prop(st) == string(crm.SyncAccepted) &&
		contentHash(oc.inbound, merged) == contentHash(oc.inbound, func(p string) string { return newProps[p] }) {
		props[st] = string(crm.SyncUpToDate)
	}
	return decUpdate, props
}

// rawLastModified is lastModifiedDate of a stored raw record, zero if none.
func rawLastModified(raw string) time.Time {
	var v struct {
		LastModified string `json:"lastModifiedDate"`
	}
	if json.Unmarshal([]byte(raw), &v) != nil {
		return time.Time{}
	}
	t, _ := parseStamp(v.LastModified)
	return t
}

// isRecordID reports whether s looks like a HubSpot record id (a positive integer); ACE
// partner ids from another CRM never do.
func isRecordID(s string) bool {
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n > 0
}

// IsRefusal reports whether err says HubSpot refused some records (see BatchError).
func IsRefusal(err error) bool {
	var be *BatchError
	return errors.As(err, &be)
}
