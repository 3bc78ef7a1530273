package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// checkChanges applies the Create and update columns of Opportunity-Fields.csv: on creation,
// fields whose Create column says No must not be sent; on an update, fields whose column for
// the previous record's stage or status says No must not change.
func (c *recordCheck) checkChanges() {
	if c.create {
		for _, name := range c.obj.Order {
			f := c.obj.Fields[name]
			if f.Create != valueNo || !c.present(name) || c.excepted(name) {
				continue
			}
			c.add(name, RuleStageUpdate, "%s cannot be set when creating an opportunity (%s, Create: No); leave it out",
				name, fileOpportunityFields)
		}
		return
	}
	if c.prev == nil {
		return // an update whose previous version is unknown
	}
	prevStage, prevStatus := c.prevStr("stage"), c.prevStr("status")
	column, when := "Updates up until Launched/Lost", fmt.Sprintf("at stage %q", prevStage)
	pick := func(f *FieldRule) string { return f.UpdateUntilLaunched }
	switch {
	case prevStatus == statusActionReq:
		// While AWS asks for changes, only the fields of this column may change.
		column, when = colOppActionRequired, `while status is "Action Required"`
		pick = func(f *FieldRule) string { return f.UpdateActionRequired }
	case stageIsClosed(prevStage):
		// The table has no column for after Closed Lost; "Updates up until Launched/Lost"
		// ends there, so the After Launched column applies to both.
		column = colOppAfterLaunched
		pick = func(f *FieldRule) string { return f.UpdateAfterLaunched }
	}
	for _, name := range c.obj.Order {
		f := c.obj.Fields[name]
		if pick(f) != valueNo || !c.changed(name) || c.excepted(name) || c.hasProblem(name) {
			continue
		}
		c.add(name, RuleStageUpdate, "%s cannot change %s (%s, %q: No); send the previous value",
			name, when, fileOpportunityFields, column)
	}
}

// hasProblem reports whether field already has a problem: one is enough to act on.
func (c *recordCheck) hasProblem(field string) bool {
	for _, p := range c.problems {
		if p.Field == field {
			return true
		}
	}
	return false
}

func (c *recordCheck) excepted(name string) bool {
	a, ok := updateExceptions[name]
	return ok && a.allowed(c)
}

// changed reports whether the record sends key with a value other than the previous one. An
// absent key is not sent and so unchanged; null, "" and absent are the same empty value.
func (c *recordCheck) changed(key string) bool {
	raw, sent := c.rec[key]
	if !sent {
		return false
	}
	return !sameValue(raw, c.prev[key])
}

func sameValue(a, b json.RawMessage) bool {
	if !hasValue(a) || !hasValue(b) {
		return hasValue(a) == hasValue(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	if s, ok := x.(string); ok {
		x = strings.TrimSpace(s)
	}
	if s, ok := y.(string); ok {
		y = strings.TrimSpace(s)
	}
	return reflect.DeepEqual(x, y)
}
