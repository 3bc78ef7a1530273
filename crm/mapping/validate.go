package mapping

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/rules"
)

// ValidationError lists every problem Validate found, each naming the object and field.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("mapping has %d problem(s):\n  - %s", len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// knownOutboundFields are keys ACE's outbound files carry that the field tables do not list.
var knownOutboundFields = map[ace.Object][]string{
	// In AWS's opportunity-outbound sample beside partnerDeveloperManagerEmail.
	ace.ObjectOpportunity: {"partnerDeveloperManagerPhone"},
	// AWS's lead inbound sample spells useCaseWorkload "useCaseWorkLoad".
	ace.ObjectLead: {"useCaseWorkLoad"},
}

// Validate checks the mapping against ACE's field tables (rules.Default) and reports
// every problem at once as a *ValidationError: unknown objects and ACE fields, missing
// required settings (external id, raw, ACE lastModifiedDate, the CRM's stamp), CRM fields
// used twice, unknown types and directions, value-map keys that are not ACE standard
// values, and mandatory ACE inbound fields left unmapped (a record created in the CRM could
// not be sent to ACE without them).
func (m *Mapping) Validate() error {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if len(m.Objects) == 0 {
		add("no objects mapped: map opportunity, lead or both under objects:")
	}
	tables := rules.Default()
	objs := make([]string, 0, len(m.Objects))
	for o := range m.Objects {
		objs = append(objs, string(o))
	}
	sort.Strings(objs)
	for _, name := range objs {
		o := ace.Object(name)
		om := m.Objects[o]
		if !o.Valid() {
			add("objects.%s: unknown ACE object (want %q or %q)", o, ace.ObjectOpportunity, ace.ObjectLead)
			continue
		}
		if om == nil {
			add("objects.%s: empty", o)
			continue
		}
		validateObject(o, om, tables.For(o), add)
	}
	if len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	return nil
}

func validateObject(o ace.Object, om *ObjectMapping, tables *rules.ObjectRules, add func(string, ...any)) {
	at := "objects." + string(o)
	required := []struct{ name, value, why string }{
		{"crmObject", om.CRMObject, "the CRM object to write, e.g. Opportunity or deals"},
		{"externalId", om.ExternalID, "the CRM field holding ACE's id (apnCrmUniqueIdentifier), e.g. ACE_Opportunity_Id__c; upserts are keyed by it"},
		{"partnerId", om.PartnerID, "the CRM's record id field (partnerCrmUniqueIdentifier / partnerCrmLeadId), e.g. Id or hs_object_id"},
		{"raw", om.Raw, "a long-text CRM field holding ACE's whole record, e.g. ACE_Raw__c, so unmapped fields are kept"},
		{"aceLastModified", om.ACELastModified, "the CRM field holding ACE's lastModifiedDate, e.g. ACE_Last_Modified__c, so older ACE updates never overwrite newer data"},
		{"lastModified", om.LastModified, "the CRM's own modification stamp for change detection, e.g. SystemModstamp or hs_lastmodifieddate"},
	}
	for _, r := range required {
		if strings.TrimSpace(r.value) == "" {
			add("%s.%s is missing: %s", at, r.name, r.why)
		}
	}
	// CRM fields may be used once for writing: two writers of one field would fight.
	written := map[string]string{}
	claim := func(crmField, by string) {
		if crmField == "" {
			return
		}
		if prev, dup := written[crmField]; dup {
			add("%s: CRM field %s is used by both %s and %s", at, crmField, prev, by)
			return
		}
		written[crmField] = by
	}
	claim(om.ExternalID, "externalId")
	claim(om.Raw, "raw")
	claim(om.ACELastModified, "aceLastModified")
	for _, s := range []struct{ name, field string }{
		{"status", om.Sync.Status}, {"errors", om.Sync.Errors}, {"warnings", om.Sync.Warnings},
		{"file", om.Sync.File}, {"lastSent", om.Sync.LastSent},
	} {
		claim(s.field, "sync."+s.name)
	}

	inboundMapped := map[string]bool{}
	for i, f := range om.Fields {
		fat := fmt.Sprintf("%s.fields[%d] (ace: %s)", at, i, f.ACE)
		if f.ACE == "" {
			add("%s.fields[%d]: ace is missing: the ACE field's JSON key, e.g. partnerProjectTitle", at, i)
		}
		if f.CRM == "" {
			add("%s: crm is missing: the CRM field's API name", fat)
		}
		switch f.Direction {
		case "", Both, Outbound, Inbound:
		default:
			add("%s: direction %q is not valid (want both, outbound or inbound)", fat, f.Direction)
		}
		switch f.Type {
		case "", Text, Number, Date, DateTime, Multi, Array, Bool:
		default:
			add("%s: type %q is not valid (want text, number, date, datetime, multi, array or bool)", fat, f.Type)
		}
		if f.ACE == aceIDKey || f.ACE == PartnerKey(o) {
			add("%s: ACE's ids are not mapped as fields: set externalId (ACE's id) and partnerId (the CRM record id) instead", fat)
			continue
		}
		rule := tables.Field(f.ACE)
		if rule == nil && f.ACE != "" && !slices.Contains(knownOutboundFields[o], f.ACE) {
			add("%s: %q is not a %s field in ACE's field tables (%s)%s", fat, f.ACE, o, tables.Source, suggestField(tables, f.ACE))
		}
		if f.outbound() {
			claim(f.CRM, "fields["+fmt.Sprint(i)+"] ("+f.ACE+")")
		}
		if f.inbound() {
			if rule != nil && (rule.Presence == rules.PresenceNA || rule.ReadOnly) {
				add("%s: ACE only writes %s (outbound only in %s); set direction: outbound", fat, f.ACE, tables.Source)
			}
			inboundMapped[f.ACE] = true
		}
		if rule != nil && len(rule.Allowed) > 0 {
			for _, k := range sortedKeys(f.Values) {
				if !slices.Contains(rule.Allowed, k) {
					add("%s: values key %q is not one of ACE's standard values for %s%s", fat, k, f.ACE, suggestValue(rule.Allowed, k))
				}
			}
			for _, k := range sortedKeys(f.FromCRM) {
				if v := f.FromCRM[k]; !slices.Contains(rule.Allowed, v) {
					add("%s: fromCRM maps %q to %q, which is not one of ACE's standard values for %s%s", fat, k, v, f.ACE, suggestValue(rule.Allowed, v))
				}
			}
		}
		if len(f.Values) > 0 {
			seen := map[string]string{}
			for _, k := range sortedKeys(f.Values) {
				v := f.Values[k]
				if prev, dup := seen[v]; dup && f.inbound() && f.FromCRM[v] == "" {
					add("%s: ACE values %q and %q both map to CRM value %q; add fromCRM: {%q: …} to say which one it means coming back", fat, prev, k, v, v)
				}
				seen[v] = k
			}
		}
	}
	for _, name := range tables.Order {
		r := tables.Fields[name]
		if r.Presence != rules.PresenceMandatory || name == aceIDKey || name == PartnerKey(o) {
			continue
		}
		if !inboundMapped[name] {
			add("%s: mandatory ACE field %s (%s) is not mapped to a CRM field: records created in the CRM could not be sent to ACE; add {ace: %s, crm: <field>}",
				at, name, tables.Source, name)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func suggestField(tables *rules.ObjectRules, name string) string {
	for _, n := range tables.Order {
		if strings.EqualFold(n, name) {
			return fmt.Sprintf("; did you mean %q? (ACE's keys are case-sensitive)", n)
		}
	}
	return ""
}

func suggestValue(allowed []string, v string) string {
	for _, a := range allowed {
		if strings.EqualFold(a, v) {
			return fmt.Sprintf("; did you mean %q? (values are case-sensitive)", a)
		}
	}
	if len(allowed) <= 12 {
		return fmt.Sprintf(" (allowed: %s)", strings.Join(allowed, ", "))
	}
	return ""
}
