package acesim

import (
	"encoding/json"
	"maps"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/rules"
)

// validate checks one inbound record with the rules OppSync checks its own files with
// (rules.Validate), so the simulator rejects what the field
// tables say ACE rejects, and returns the problems' messages as the record's errors.
// existing is the record an update applies to (its previous version enables the checks of
// what may change in which stage), nil for a create.
//
// ACE's own messages differ (e.g. "User not found for Opportunity Owner email:…"); only the
// accept/reject decision is meant to match.
func (s *Sim) validate(o ace.Object, raw json.RawMessage, existing *Record) []string {
	opts := s.opts.Validation
	if opts.Today.IsZero() {
		opts.Today = s.now()
	}
	var prev json.RawMessage
	if existing != nil {
		prev = existing.json()
	}
	problems := rules.Validate(o, raw, prev, opts)
	msgs := make([]string, 0, len(problems))
	for _, p := range problems {
		msgs = append(msgs, p.Message)
	}
	return msgs
}

// json returns the record as ACE holds it: its fields with both ids.
func (r *Record) json() json.RawMessage {
	m := maps.Clone(r.Fields)
	if m == nil {
		m = make(map[string]json.RawMessage)
	}
	m[aceIDKey] = rawString(r.ACEID)
	m[partnerIDKey(r.Object)] = json.RawMessage("null")
	if r.PartnerID != "" {
		m[partnerIDKey(r.Object)] = rawString(r.PartnerID)
	}
	b, _ := json.Marshal(m) // raw values from valid JSON always marshal
	return b
}
