package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

// List returns the records OppSync syncs (with an ACE id, or shared with AWS) of one
// object, ordered by ACE id; see crm.Store. It pages with searches on hs_object_id
// (GT the last id seen), so HubSpot's 10,000-results-per-query cap does not apply.
func (s *Store) List(ctx context.Context, object ace.Object) ([]crm.Record, error) {
	oc, err := s.object(object)
	if err != nil {
		return nil, err
	}
	var out []crm.Record
	last := "0"
	for {
		ans, err := s.search(ctx, oc, searchRequest{
			FilterGroups: s.syncedGroups(oc, []filter{{PropertyName: "hs_object_id", Operator: "GT", Value: last}}),
			Sorts:        []sort{{PropertyName: "hs_object_id", Direction: "ASCENDING"}},
			Properties:   oc.read,
			Limit:        SearchPageSize,
		})
		if err != nil {
			return nil, fmt.Errorf("HubSpot: list %s: %w", oc.hsType, err)
		}
		for _, r := range ans.Results {
			out = append(out, s.recordOf(oc, r))
			last = r.ID
		}
		if len(ans.Results) < SearchPageSize || ans.next() == "" {
			break
		}
	}
	slices.SortFunc(out, func(a, b crm.Record) int {
		if c := strings.Compare(a.ACEID, b.ACEID); c != 0 {
			return c
		}
		return cmpRecordID(a.PartnerID, b.PartnerID)
	})
	return out, nil
}

func cmpRecordID(a, b string) int {
	x, _ := strconv.ParseUint(a, 10, 64)
	y, _ := strconv.ParseUint(b, 10, 64)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func (s *Store) recordOf(oc *objectConf, r object) crm.Record {
	om := oc.om
	fields := s.aceFields(oc, r)
	var f map[string]any
	_ = json.Unmarshal(fields, &f)
	str := func(k string) string { v, _ := f[k].(string); return v }
	rec := crm.Record{
		Object:     oc.object,
		ACEID:      r.prop(om.ExternalID),
		PartnerID:  r.ID,
		Status:     str("status"),
		Fields:     fields,
		SyncStatus: crm.SyncStatus(r.prop(om.Sync.Status)),
		SyncFile:   r.prop(om.Sync.File),
	}
	if oc.object == ace.ObjectOpportunity {
		rec.Name, rec.Stage = str("customerCompanyName"), str("stage")
	} else {
		rec.Name = str("fullName")
		if rec.Name == "" {
			rec.Name = strings.TrimSpace(str("firstName") + " " + str("lastName"))
		}
	}
	if t, ok := parseStamp(r.prop(om.ACELastModified)); ok {
		rec.LastModified = t
	} else {
		rec.LastModified = rawLastModified(r.prop(om.Raw))
	}
	if wm, ok := s.watermarkOf(oc, r); ok {
		rec.UpdatedAt = time.UnixMilli(int64(wm)).UTC()
		if _, changed := s.changeOf(oc, r, wm); changed || r.prop(om.Sync.Status) != "" {
			rec.Watermark = wm // changed in the CRM (pending, or with an outcome)
		}
	}
	if v := r.prop(om.Sync.Errors); v != "" {
		rec.SyncErrors = strings.Split(v, "\n")
	}
	if v := r.prop(om.Sync.Warnings); v != "" {
		rec.SyncWarnings = strings.Split(v, "\n")
	}
	if t, ok := parseStamp(r.prop(om.Sync.LastSent)); ok {
		rec.LastSentAt = t
	}
	return rec
}
