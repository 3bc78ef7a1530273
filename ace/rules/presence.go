package rules

import (
	"fmt"
	"strings"

	"github.com/oppsync/oppsync/ace"
)

func (c *recordCheck) requirements() map[string]requirement {
	if c.object == ace.ObjectLead {
		return leadRequirements
	}
	return opportunityRequirements
}

// checkFields applies each field's own rules: presence, type, standard values, lengths, ranges.
func (c *recordCheck) checkFields() {
	reqs := c.requirements()
	for _, name := range c.obj.Order {
		f := c.obj.Fields[name]
		if !c.present(name) {
			c.checkPresence(f, reqs)
		}
		if f.ReadOnly && c.present(name) {
			c.add(name, RuleReadOnly, "%s is read-only: %s marks it Read Only and Outbound Only, so ACE does not "+
				"take it from partners; leave it out", name, fileLeadFields)
			continue
		}
		if raw, ok := c.raw(name); ok {
			c.checkValue(f, raw)
		}
	}
}

func (c *recordCheck) checkPresence(f *FieldRule, reqs map[string]requirement) {
	req, hasReq := reqs[f.Name]
	state := "missing"
	if raw, ok := c.rec[f.Name]; ok {
		state = "null"
		if ace.JSONKind(raw) != "null" {
			state = "blank"
		}
	}
	switch f.Presence {
	case PresenceMandatory:
		if hasReq && !req.required(c) {
			return
		}
		why := f.Condition
		if hasReq {
			why = req.csv
		}
		if why == "" && c.object == ace.ObjectLead {
			why = f.Validation // "Mandatory. Accepts only standard values"
		}
		if why != "" {
			why = fmt.Sprintf(" (%s)", why)
		}
		c.add(f.Name, RuleMandatory, "%s is %s; %s marks it mandatory on inbound%s", f.Name, state, c.obj.Source, why)
	case PresenceConditional:
		if hasReq && req.required(c) {
			c.add(f.Name, RuleConditional, "%s is %s; it is mandatory %s", f.Name, state, lowerFirst(req.csv))
		}
	}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
