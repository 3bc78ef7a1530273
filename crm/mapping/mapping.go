// Package mapping is a customer's field mapping between ACE records and a CRM: which CRM
// object and field holds each ACE field, how picklist values translate in both directions,
// and which CRM fields carry ACE's id, the raw ACE record, ACE's lastModifiedDate, the CRM's
// own modification stamp and the sync status shown to the sales team.
//
// A mapping is a YAML (or JSON) document; Default returns the one shipped for each CRM.
// Connectors (crm/salesforce, crm/hubspot) translate records with ToCRM and FromCRM and
// read the special fields from ObjectMapping.
package mapping

import (
	"bytes"
	"fmt"
	"os"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/oppsync/oppsync/ace"
)

// Mapping is one customer's mapping for one CRM.
type Mapping struct {
	// CRM names the CRM the mapping is for ("salesforce", "hubspot"); informational.
	CRM string `yaml:"crm" json:"crm"`
	// Objects maps each ACE object (opportunity, lead) to its CRM object. An object left out
	// is not synced.
	Objects map[ace.Object]*ObjectMapping `yaml:"objects" json:"objects"`
}

// ObjectMapping maps one ACE object to one CRM object.
type ObjectMapping struct {
	// CRMObject is the CRM's object: "Opportunity", "Lead" (Salesforce); "deals", "contacts" (HubSpot).
	CRMObject string `yaml:"crmObject" json:"crmObject"`
	// ExternalID is the CRM field holding ACE's id (apnCrmUniqueIdentifier), unique and
	// marked as an external id / unique property, so upserts by it are idempotent.
	ExternalID string `yaml:"externalId" json:"externalId"`
	// PartnerID is the CRM field that is the partner's CRM id (partnerCrmUniqueIdentifier /
	// partnerCrmLeadId): the CRM's own record id ("Id", "hs_object_id"). It is read, never written.
	PartnerID string `yaml:"partnerId" json:"partnerId"`
	// Raw is a long-text CRM field holding ACE's whole record as JSON, so fields that are not
	// mapped are kept and go back to ACE unchanged.
	Raw string `yaml:"raw" json:"raw"`
	// ACELastModified is the CRM field holding ACE's lastModifiedDate: an ACE update older
	// than it is stale and never overwrites the record.
	ACELastModified string `yaml:"aceLastModified" json:"aceLastModified"`
	// LastModified is the CRM's own modification stamp used for change detection
	// ("SystemModstamp", "hs_lastmodifieddate").
	LastModified string `yaml:"lastModified" json:"lastModified"`
	// ModifiedBy is the CRM field naming who last changed the record ("LastModifiedById"),
	// so the integration user's own writes are not sent back to ACE. Optional.
	ModifiedBy string `yaml:"modifiedBy,omitempty" json:"modifiedBy,omitempty"`
	// Sync names the CRM fields that show the sales team where the record stands with ACE.
	Sync SyncFields `yaml:"sync" json:"sync"`
	// Fields maps ACE fields to CRM fields, in the order they are listed.
	Fields []Field `yaml:"fields" json:"fields"`
}

// SyncFields are the CRM fields the inbound direction writes. Empty names are not written.
type SyncFields struct {
	Status   string `yaml:"status,omitempty" json:"status,omitempty"`     // crm.SyncStatus, e.g. ACE_Sync_Status__c
	Errors   string `yaml:"errors,omitempty" json:"errors,omitempty"`     // problems, one a line
	Warnings string `yaml:"warnings,omitempty" json:"warnings,omitempty"` // ACE's warnings, one a line
	File     string `yaml:"file,omitempty" json:"file,omitempty"`         // the inbound file it went in
	LastSent string `yaml:"lastSent,omitempty" json:"lastSent,omitempty"` // datetime it last went to ACE
}

// Direction says which way a field is copied.
type Direction string

// The directions. The default (empty) is both.
const (
	Both     Direction = "both"
	Outbound Direction = "outbound" // ACE → CRM only (fields only ACE writes: aWSStage, status, …)
	Inbound  Direction = "inbound"  // CRM → ACE only
)

// Type is how a value is converted between ACE's JSON and the CRM.
type Type string

// The value types. The default (empty) is text.
const (
	Text     Type = "text"     // string as is
	Number   Type = "number"   // JSON number; numeric strings are accepted from ACE and the CRM
	Date     Type = "date"     // yyyy-mm-dd; CRM epoch milliseconds accepted
	DateTime Type = "datetime" // RFC 3339 in ACE (…T13:15:35.000Z); CRM ISO forms and epoch ms accepted
	Multi    Type = "multi"    // ACE "a;b" ⇄ CRM "a;b" (multi-select picklist), values mapped one by one
	Array    Type = "array"    // ACE JSON array ["a","b"] ⇄ CRM "a;b"
	Bool     Type = "bool"     // ACE "Yes"/"No" ⇄ CRM checkbox true/false
)

// Field maps one ACE field to one CRM field.
type Field struct {
	// ACE is the field's key in ACE's JSON, as case-sensitive as ACE is ("aWSStage").
	ACE string `yaml:"ace" json:"ace"`
	// CRM is the CRM field's API name.
	CRM       string    `yaml:"crm" json:"crm"`
	Type      Type      `yaml:"type,omitempty" json:"type,omitempty"`
	Direction Direction `yaml:"direction,omitempty" json:"direction,omitempty"`
	// Values maps ACE's standard values to the CRM's picklist values. ACE values not listed
	// pass through unchanged (a restricted CRM picklist then refuses that one record).
	// The reverse direction uses the inverse map, plus FromCRM.
	Values map[string]string `yaml:"values,omitempty" json:"values,omitempty"`
	// FromCRM maps further CRM values to ACE values, for CRM picklists with more values than
	// ACE's (several CRM stages that mean one ACE stage). It wins over the inverse of Values.
	FromCRM map[string]string `yaml:"fromCRM,omitempty" json:"fromCRM,omitempty"`
}

func (f Field) outbound() bool { return f.Direction != Inbound }
func (f Field) inbound() bool  { return f.Direction != Outbound }

// aceIDKey is ACE's id key on both objects.
const aceIDKey = "apnCrmUniqueIdentifier"

// PartnerKey returns the ACE key of object's partner id: partnerCrmUniqueIdentifier on
// opportunities, partnerCrmLeadId on leads.
func PartnerKey(object ace.Object) string {
	if object == ace.ObjectLead {
		return "partnerCrmLeadId"
	}
	return "partnerCrmUniqueIdentifier"
}

// Parse reads a mapping from YAML or JSON (JSON is YAML). Unknown keys are errors, so a
// misspelt setting is caught. It does not Validate.
func Parse(b []byte) (*Mapping, error) {
	var m Mapping
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	return &m, nil
}

// Load reads and parses the mapping file at path. It does not Validate.
func Load(path string) (*Mapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// YAML returns the mapping as a YAML document that Parse reads back.
func (m *Mapping) YAML() ([]byte, error) {
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	e.SetIndent(2)
	if err := e.Encode(m); err != nil {
		return nil, err
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Object returns the mapping of object, or an error naming the mapped objects.
func (m *Mapping) Object(object ace.Object) (*ObjectMapping, error) {
	if om := m.Objects[object]; om != nil {
		return om, nil
	}
	var have []string
	for o := range m.Objects {
		have = append(have, string(o))
	}
	slices.Sort(have)
	return nil, fmt.Errorf("mapping: ACE object %q is not mapped (mapped: %v)", object, have)
}

// ReadFields returns every CRM field a connector must read to rebuild ACE's record and
// decide on staleness and changes, without duplicates, in a stable order.
func (om *ObjectMapping) ReadFields() []string {
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, s := range []string{om.PartnerID, om.ExternalID, om.ACELastModified, om.LastModified, om.ModifiedBy, om.Raw} {
		add(s)
	}
	for _, f := range om.Fields {
		add(f.CRM)
	}
	for _, s := range []string{om.Sync.Status, om.Sync.Errors, om.Sync.Warnings, om.Sync.File, om.Sync.LastSent} {
		add(s)
	}
	return out
}
