package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/mapping"
)

// The CRM→ACE direction. A record's watermark is its lastModified stamp in epoch
// milliseconds (hs_lastmodifieddate on deals, lastmodifieddate on contacts). Which found
// records are changes is decided by content; see the package comment.

// Changes returns up to limit records of object changed in HubSpot after the watermark, in
// watermark order; see crm.Inbound. It searches on the lastModified stamp (GT after, LTE
// now minus search_lag, ascending, pages of 200 with "after"), for records that carry an
// ACE id or have the share checkbox ticked, and drops OppSync's own writes and changes
// already handled. Several records can share one millisecond: a page is never cut inside
// such a tie, so the next call (GT the last watermark) misses none.
func (s *Store) Changes(ctx context.Context, object ace.Object, after crm.Watermark, limit int) ([]crm.Change, error) {
	oc, err := s.object(object)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	lm := oc.om.LastModified
	upper := crm.Watermark(s.now().Add(-s.cfg.SearchLag).UnixMilli())
	if upper <= after {
		return nil, nil
	}
	start := after
	s.scanMu.Lock()
	if m, ok := s.scanned[object]; ok && m.from <= after && after < m.to {
		start = m.to // (after, m.to] holds only OppSync's own writes: seen last time
	}
	s.scanMu.Unlock()

	var (
		changes []crm.Change
		maxSeen = start
		lowerOp = "GT"
		lower   = start
		seen    = map[string]bool{} // ids of the query restarted at the cap
	)
	enough := func() bool {
		return len(changes) > limit && changes[len(changes)-1].Watermark > changes[limit-1].Watermark
	}
query:
	for {
		req := searchRequest{
			FilterGroups: s.syncedGroups(oc, []filter{
				{PropertyName: lm, Operator: lowerOp, Value: strconv.FormatInt(int64(lower), 10)},
				{PropertyName: lm, Operator: "LTE", Value: strconv.FormatInt(int64(upper), 10)},
			}),
			Sorts:      []sort{{PropertyName: lm, Direction: "ASCENDING"}},
			Properties: oc.read,
			Limit:      SearchPageSize,
		}
		offset := 0
		for {
			ans, err := s.search(ctx, oc, req)
			if err != nil {
				return nil, fmt.Errorf("HubSpot: changes of %s: %w", oc.hsType, err)
			}
			for _, r := range ans.Results {
				if seen[r.ID] {
					continue
				}
				wm, ok := s.watermarkOf(oc, r)
				if !ok {
					return nil, fmt.Errorf("HubSpot: changes of %s: %w: record %s has no readable %s", oc.hsType, ErrMalformedResponse, r.ID, lm)
				}
				if wm > maxSeen {
					maxSeen = wm
				}
				if c, ok := s.changeOf(oc, r, wm); ok {
					changes = append(changes, c)
				}
				if enough() {
					break query
				}
			}
			offset += len(ans.Results)
			next := ans.next()
			if next == "" || len(ans.Results) == 0 {
				break query
			}
			if offset+SearchPageSize > searchCap {
				// HubSpot pages through at most 10,000 results of one query: start a new one
				// at the last watermark seen (GTE, skipping the records already seen there).
				lowerOp, lower = "GTE", maxSeen
				clear(seen)
				for _, r := range ans.Results {
					if w, _ := s.watermarkOf(oc, r); w == maxSeen {
						seen[r.ID] = true
					}
				}
				continue query
			}
			req.After = next
		}
	}

	if len(changes) == 0 {
		if maxSeen > start {
			s.scanMu.Lock()
			s.scanned[object] = scanMark{from: after, to: maxSeen}
			s.scanMu.Unlock()
		}
		return nil, nil
	}
	if len(changes) > limit {
		edge := changes[limit-1].Watermark
		cut := limit
		if changes[limit].Watermark == edge {
			// Do not split the records of one millisecond: drop the tie, or if it is all
			// there is, return all of it.
			for cut > 0 && changes[cut-1].Watermark == edge {
				cut--
			}
			if cut == 0 {
				for cut < len(changes) && changes[cut].Watermark == edge {
					cut++
				}
			}
		}
		changes = changes[:cut]
	}
	return changes, nil
}

// syncedGroups returns the filter groups (ORed) for records OppSync syncs: those with an
// ACE id, and those the sales team ticked to share with AWS; each ANDed with common.
func (s *Store) syncedGroups(oc *objectConf, common []filter) []filterGroup {
	g1 := append(slices.Clone(common), filter{PropertyName: oc.om.ExternalID, Operator: "HAS_PROPERTY"})
	g2 := append(slices.Clone(common), filter{PropertyName: s.cfg.ShareProperty, Operator: "EQ", Value: "true"})
	return []filterGroup{{Filters: g1}, {Filters: g2}}
}

func (s *Store) watermarkOf(oc *objectConf, r object) (crm.Watermark, bool) {
	t, ok := parseStamp(r.prop(oc.om.LastModified))
	if !ok {
		return 0, false
	}
	return crm.Watermark(t.UnixMilli()), true
}

// changeOf returns r as a change, or false when its content is what OppSync wrote from ACE
// or what it last recorded an outcome for.
func (s *Store) changeOf(oc *objectConf, r object, wm crm.Watermark) (crm.Change, bool) {
	om := oc.om
	aceID := r.prop(om.ExternalID)
	if aceID == "" && !isTrue(r.prop(s.cfg.ShareProperty)) {
		return crm.Change{}, false
	}
	cur := contentHash(oc.inbound, r.prop)
	if prev := s.aceVersion(oc, r); prev != nil && cur == contentHash(oc.inbound, func(p string) string { return prev[p] }) {
		return crm.Change{}, false
	}
	if h := parseHandled(r.prop(s.cfg.HandledProperty)); h.hash == cur {
		return crm.Change{}, false
	}
	fields := s.aceFields(oc, r)
	c := crm.Change{
		Object:    oc.object,
		PartnerID: r.ID,
		ACEID:     aceID,
		Watermark: wm,
		ChangedAt: time.UnixMilli(int64(wm)).UTC(),
		Fields:    fields,
	}
	if raw := r.prop(om.Raw); strings.TrimSpace(raw) != "" {
		c.Previous = json.RawMessage(raw)
	}
	if t, ok := parseStamp(r.prop(om.Sync.LastSent)); ok {
		c.LastSentAt = t
	}
	return c, true
}

// aceFields is r as ACE's JSON: the stored raw record with the mapped inbound fields on
// top, ACE's id and the partner id (the HubSpot record id). A field the mapping cannot
// translate keeps ACE's value; pre-flight validation then reports what is wrong.
func (s *Store) aceFields(oc *objectConf, r object) json.RawMessage {
	in := make(map[string]any, len(r.Properties))
	for k, v := range r.Properties {
		if v == nil || *v == "" {
			in[k] = nil
		} else {
			in[k] = *v
		}
	}
	in[oc.om.PartnerID] = r.ID
	out, _ := s.mapping.FromCRM(oc.object, in)
	if out == nil {
		out = map[string]json.RawMessage{}
	}
	b, _ := json.Marshal(r.ID)
	out[mapping.PartnerKey(oc.object)] = b
	j, _ := json.Marshal(out)
	return j
}

func isTrue(s string) bool { b, _ := strconv.ParseBool(strings.TrimSpace(s)); return b }

// maxText is HubSpot's limit on a text property value.
const maxText = 65536

// Record writes an outcome onto the HubSpot record (found by its record id, or by ACE id);
// see crm.Inbound. It writes the mapping's sync properties (status, errors, warnings, file,
// last sent), the ACE id when the record has none, and marks the change as handled when
// the record still holds the content that was read as the change. One batch/read and one
// batch/update; retried, it writes the same values.
func (s *Store) Record(ctx context.Context, o crm.Outcome) error {
	oc, err := s.object(o.Object)
	if err != nil {
		return err
	}
	om := oc.om
	fail := func(err error) error {
		return fmt.Errorf("HubSpot: record outcome %s of %s (partner id %q, ACE id %q): %w", o.Status, oc.hsType, o.PartnerID, o.ACEID, err)
	}
	var cur object
	var found bool
	switch {
	case isRecordID(o.PartnerID):
		m, err := s.batchRead(ctx, oc, "", []string{o.PartnerID})
		if err != nil {
			return fail(err)
		}
		cur, found = m[o.PartnerID]
	case o.ACEID != "":
		m, err := s.batchRead(ctx, oc, om.ExternalID, []string{o.ACEID})
		if err != nil {
			return fail(err)
		}
		cur, found = m[o.ACEID]
	}
	if !found {
		return fail(fmt.Errorf("%w: no such HubSpot record (deleted, or merged into another?)", crm.ErrRecordGone))
	}

	at := o.At
	if at.IsZero() {
		at = s.now()
	}
	props := map[string]string{}
	h := parseHandled(cur.prop(s.cfg.HandledProperty))
	if o.Watermark >= h.wm {
		// An outcome about an older change than the last one handled would show a stale
		// status; only the ACE id is taken from it.
		set := func(name, v string) {
			if name != "" {
				if len(v) > maxText {
					v = v[:maxText]
				}
				props[name] = v
			}
		}
		set(om.Sync.Status, string(o.Status))
		set(om.Sync.Errors, strings.Join(o.Errors, "\n"))
		set(om.Sync.Warnings, strings.Join(o.Warnings, "\n"))
		set(om.Sync.File, o.File)
		if o.Status == crm.SyncSent {
			set(om.Sync.LastSent, at.UTC().Format("2006-01-02T15:04:05.000Z"))
		}
	}
	if o.ACEID != "" && cur.prop(om.ExternalID) == "" {
		props[om.ExternalID] = o.ACEID
	}
	wm, _ := s.watermarkOf(oc, cur)
	unchanged := wm == o.Watermark || (h.wm == o.Watermark && h.hash == contentHash(oc.inbound, cur.prop))
	if (o.Status == crm.SyncAccepted || o.Status == crm.SyncUpToDate) && o.Fields == nil && unchanged &&
		om.Raw != "" && strings.TrimSpace(cur.prop(om.Raw)) == "" {
		// ACE accepted a deal created in HubSpot, as it still is: what was sent is ACE's
		// version, until ACE's first export of it. Kept as the raw property, it lets that
		// export tell the edits made since from ACE's own changes, as for any record.
		var f map[string]json.RawMessage
		if json.Unmarshal(s.aceFields(oc, cur), &f) == nil {
			if o.ACEID != "" {
				f["apnCrmUniqueIdentifier"], _ = json.Marshal(o.ACEID)
			}
			if b, err := json.Marshal(f); err == nil && len(b) <= maxText {
				props[om.Raw] = string(b)
			}
		}
	}
	switch {
	case wm == o.Watermark && o.Watermark > h.wm:
		// Nothing wrote the record since the change was read: its content is what the
		// outcome is about.
		props[s.cfg.HandledProperty] = handledMark{wm: o.Watermark, hash: contentHash(oc.inbound, cur.prop)}.String()
	case h.wm == o.Watermark:
		// An earlier outcome of this change (sent, then accepted) already marked it.
	default:
		// The record changed since (an edit, or ACE's update): which content was sent is
		// unknown, so the change is left to be offered again rather than lost.
	}
	if len(props) == 0 {
		return nil
	}
	wr, err := s.batchWrite(ctx, oc, false, []writeInput{{ID: cur.ID, Properties: props}}, func(writeInput) string { return o.ACEID })
	if err != nil {
		return fail(err)
	}
	if e, ok := wr.errs[cur.ID]; ok {
		if e.Retryable {
			return fail(&APIError{Op: "batch/update " + oc.hsType, Status: http.StatusServiceUnavailable, Category: e.Code, Message: e.Message})
		}
		return fail(&APIError{Op: "batch/update " + oc.hsType, Status: http.StatusBadRequest, Category: e.Code, Message: e.Message})
	}
	return nil
}

// Awaiting returns the records of object whose sync status property is sent; see
// crm.Inbound. It searches on that property (EQ "sent"), ascending by record id, in pages
// of SearchPageSize; past HubSpot's 10,000 results per query it starts a new query above
// the last id seen. The watermark is the change the handled mark names (the one sent).
// HubSpot's search index lags writes by seconds: a record marked sent just now may be
// listed only by a later call.
func (s *Store) Awaiting(ctx context.Context, object ace.Object, limit int) ([]crm.Awaiting, error) {
	oc, err := s.object(object)
	if err != nil {
		return nil, err
	}
	om := oc.om
	if om.Sync.Status == "" || om.Sync.File == "" {
		return nil, nil
	}
	props := []string{om.ExternalID, om.Sync.File, s.cfg.HandledProperty}
	if om.Sync.LastSent != "" {
		props = append(props, om.Sync.LastSent)
	}
	var out []crm.Awaiting
	lastID := "0"
	for {
		req := searchRequest{
			FilterGroups: []filterGroup{{Filters: []filter{
				{PropertyName: om.Sync.Status, Operator: "EQ", Value: string(crm.SyncSent)},
				{PropertyName: "hs_object_id", Operator: "GT", Value: lastID},
			}}},
			Sorts:      []sort{{PropertyName: "hs_object_id", Direction: "ASCENDING"}},
			Properties: props,
			Limit:      SearchPageSize,
		}
		offset, restart := 0, false
		for {
			ans, err := s.search(ctx, oc, req)
			if err != nil {
				return nil, fmt.Errorf("HubSpot: %s awaiting ACE's result: %w", oc.hsType, err)
			}
			for _, r := range ans.Results {
				lastID = r.ID
				a := crm.Awaiting{Object: object, PartnerID: r.ID, ACEID: r.prop(om.ExternalID), File: r.prop(om.Sync.File),
					Watermark: parseHandled(r.prop(s.cfg.HandledProperty)).wm}
				if a.File == "" {
					continue
				}
				if t, ok := parseStamp(r.prop(om.Sync.LastSent)); ok {
					a.SentAt = t
				}
				out = append(out, a)
				if limit > 0 && len(out) == limit {
					return out, nil
				}
			}
			offset += len(ans.Results)
			next := ans.next()
			if next == "" || len(ans.Results) == 0 {
				return out, nil
			}
			if offset+SearchPageSize > searchCap {
				restart = true
				break
			}
			req.After = next
		}
		if !restart {
			return out, nil
		}
	}
}
