package acesim

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
)

// DefaultAcceptWindow is the acceptBy deadline EmitReferral sets when fields carry none:
// ACE documents the deadline (acceptBy) but not its length; this is the simulator's choice.
const DefaultAcceptWindow = 7 * 24 * time.Hour

// maskedFields are the fields ACE masks on a referral not yet accepted: for opportunities
// those the field table says come as "Accept to View" (Opportunity-Fields.csv), for leads
// those masked in AWS's lead outbound sample (samples/lead-outbound.json).
var maskedFields = map[ace.Object][]string{
	ace.ObjectOpportunity: {"customerEmail", "customerFirstName", "customerLastName", "customerPhone", "customerTitle"},
	ace.ObjectLead: {"fullName", "firstName", "lastName", "email", "phone", "title", "company",
		"streetAddress", "city", "state", "postalCode", "country"},
}

func isMaskedField(o ace.Object, key string) bool { return slices.Contains(maskedFields[o], key) }

func isMaskedValue(raw json.RawMessage) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && ace.IsMasked(s)
}

// outboundFolder is where ACE writes outbound files of o.
func outboundFolder(o ace.Object) string {
	if o == ace.ObjectLead {
		return ace.FolderLeadOutbound
	}
	return ace.FolderOpportunityOutbound
}

// outboundVersion is the envelope version of outbound files of o: "2.0" for opportunities
// (field definitions v14+); leads have no 2.x definitions and AWS's lead sample says "1".
func outboundVersion(o ace.Object) string {
	if o == ace.ObjectLead {
		return "1"
	}
	return "2.0"
}

// recordsKey is the envelope key of outbound records of o ("leads" outbound; README, Quirks).
func recordsKey(o ace.Object) string {
	if o == ace.ObjectLead {
		return "leads"
	}
	return "opportunities"
}

// EmitOutbound writes an outbound file with one record: the current fields of the record
// aceID merged with changes (a nil value writes null), lastModifiedDate set to now. The
// changes become the record's state, as when AWS changes a record in ACE: e.g.
// {"status": "Approved"} for an approval, {"aWSStage": "Qualified"} for a stage change.
// It returns the outbound file's key.
func (s *Sim) EmitOutbound(ctx context.Context, object ace.Object, aceID string, changes map[string]any) (key string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.records[aceID]
	if !ok || cur.Object != object {
		return "", fmt.Errorf("acesim: emit outbound: no %s with ACE id %q in the simulator", object, aceID)
	}
	rec := cur.clone()
	if err := applyChanges(&rec, changes); err != nil {
		return "", fmt.Errorf("acesim: emit outbound %s: %w", aceID, err)
	}
	rec.Fields["lastModifiedDate"] = rawString(aceTime(s.now()))
	key, err = s.writeOutbound(ctx, &rec)
	if err != nil {
		return "", err
	}
	s.records[aceID] = &rec
	return key, nil
}

// EmitReferral creates a new AWS referral of object with fields and writes it as ACE shares
// one: no partner id, personal data masked with ace.MaskedValue, acceptance not yet given
// (partnerAcceptanceStatus, or currentLeadStage for leads, null: the standard values are
// only Accepted and Rejected), and for opportunities ownership "AWS Referral" and an
// acceptBy deadline (DefaultAcceptWindow unless fields set one). It returns the new ACE id
// and the outbound file's key. The partner accepts with an inbound update; then ACE sends
// the unmasked data (Unmask, or Options.UnmaskOnAccept).
func (s *Sim) EmitReferral(ctx context.Context, object ace.Object, fields map[string]any) (aceID, key string, err error) {
	if !object.Valid() {
		return "", "", fmt.Errorf("acesim: emit referral: unknown object %q", object)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := Record{Object: object, Referral: true, Fields: make(map[string]json.RawMessage)}
	if err := applyChanges(&rec, fields); err != nil {
		return "", "", fmt.Errorf("acesim: emit referral: %w", err)
	}
	if rec.PartnerID != "" {
		return "", "", fmt.Errorf("acesim: emit referral: %s must be blank on a new AWS referral", partnerIDKey(object))
	}
	now := s.now()
	setDefault := func(k string, v any) {
		if _, ok := rec.Fields[k]; !ok {
			b, _ := json.Marshal(v)
			rec.Fields[k] = b
		}
	}
	rec.Fields[acceptanceKey(object)] = json.RawMessage("null")
	rec.Fields["createdDate"] = rawString(aceTime(now))
	rec.Fields["lastModifiedDate"] = rawString(aceTime(now))
	if object == ace.ObjectOpportunity {
		rec.Fields["opportunityOwnership"] = rawString("AWS Referral")
		setDefault("acceptBy", aceTime(now.Add(DefaultAcceptWindow)))
		setDefault("stage", "Prospect")
	} else {
		setDefault("status", "Open")
	}
	rec.ACEID = s.newID(object)
	key, err = s.writeOutbound(ctx, &rec)
	if err != nil {
		return "", "", err
	}
	s.records[rec.ACEID] = &rec
	return rec.ACEID, key, nil
}

// Unmask writes the outbound file ACE sends once the partner accepted the referral aceID:
// the record with its personal data. It fails unless an inbound update accepting the
// referral was processed: ACE shares personal data only after acceptance (fields/).
func (s *Sim) Unmask(ctx context.Context, aceID string) (key string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unmask(ctx, aceID)
}

func (s *Sim) unmask(ctx context.Context, aceID string) (string, error) {
	cur, ok := s.records[aceID]
	switch {
	case !ok:
		return "", fmt.Errorf("acesim: unmask: no record with ACE id %q in the simulator", aceID)
	case !cur.Referral:
		return "", fmt.Errorf("acesim: unmask %s: not an AWS referral; a partner's own record is never masked", aceID)
	case !cur.Accepted:
		return "", fmt.Errorf("acesim: unmask %s: %w: no inbound update with %s \"Accepted\" processed yet",
			aceID, ErrNotAccepted, acceptanceKey(cur.Object))
	}
	rec := cur.clone()
	rec.Fields["lastModifiedDate"] = rawString(aceTime(s.now()))
	key, err := s.writeOutbound(ctx, &rec)
	if err != nil {
		return "", err
	}
	s.records[aceID] = &rec
	return key, nil
}

// applyChanges merges changes into rec. The partner id goes to rec.PartnerID; ACE's own id
// cannot be changed.
func applyChanges(rec *Record, changes map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(changes)) {
		v := changes[k]
		switch k {
		case aceIDKey:
			return fmt.Errorf("%s is ACE's id and never changes", aceIDKey)
		case partnerIDKey(rec.Object):
			s, ok := v.(string)
			if v != nil && !ok {
				return fmt.Errorf("%s must be a string, got %T", k, v)
			}
			rec.PartnerID = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("field %s: %w", k, err)
		}
		rec.Fields[k] = b
	}
	return nil
}

// writeOutbound writes rec as a one-record outbound file, masked while it is a referral not
// yet accepted, and returns its key.
func (s *Sim) writeOutbound(ctx context.Context, rec *Record) (string, error) {
	shown := rec.clone()
	if rec.Referral && !rec.Accepted {
		for _, k := range maskedFields[rec.Object] {
			if _, ok := shown.Fields[k]; ok {
				shown.Fields[k] = rawString(ace.MaskedValue)
			}
		}
	}
	records, err := json.Marshal([]json.RawMessage{shown.json()})
	if err != nil {
		return "", fmt.Errorf("acesim: encode outbound %s: %w", rec.ACEID, err)
	}
	env := map[string]json.RawMessage{
		"version":              rawString(outboundVersion(rec.Object)),
		"spmsId":               s.spmsID(),
		recordsKey(rec.Object): records,
	}
	// ACE's outbound file names are undocumented; the simulator's are unique and sortable.
	s.outSeq++
	stamp := strings.NewReplacer("-", "", ":", "").Replace(aceTime(s.now()))
	key := fmt.Sprintf("%sacesim_%s_%04d_%s.json", outboundFolder(rec.Object), stamp, s.outSeq, rec.ACEID)
	if err := s.putJSON(ctx, key, env); err != nil {
		return "", err
	}
	s.logf("acesim: wrote %s (%s %s)", key, rec.Object, rec.ACEID)
	return key, nil
}
