package rules

import (
	"bytes"
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/oppsync/oppsync/ace"
)

// fieldTables holds AWS's field tables, copied unchanged from aws-samples/partner-crm-integration-samples
// (see fields/README.md). A new table from AWS is a file swap: everything except the prose conditions in
// conditions.go is read from these files.
//
//go:embed fields/*.csv
var fieldTables embed.FS

// The field table files Load reads, by their names in aws-samples.
const (
	fileOpportunityFields = "Opportunity-Fields.csv"
	fileOpportunityValues = "Opportunity_-_StandardValues.csv"
	fileLeadFields        = "Leads-Fields.csv"
	fileLeadValues        = "Lead_-_StandardValues.csv"
	filePostalFormats     = "PostalCodeValidations.csv"
	fileNoPostalCode      = "CountriesWithoutPostalCode.csv"
)

// Column headers of Opportunity-Fields.csv, exactly as in the file.
const (
	colOppName            = "Field Name - APN CRM JSON Name"
	colOppDatatype        = "Datatype"
	colOppValidation      = "Field Validation"
	colOppInbound         = "Inbound - Mandatory / Conditionally Mandatory / Optional"
	colOppCondition       = "Conditions when Mandatory (Biz Validation)"
	colOppActionRequired  = "Update - Action Required"
	colOppAfterLaunched   = "Update - After Launched (Closed Won)"
	colOppUntilLaunched   = "Updates up until Launched/Lost"
	colOppCreate          = "Create"
	colLeadName           = "Field"
	colLeadMandatory      = "Mandatory fIelds/Validations" // sic: AWS's spelling
	colLeadReadUpdate     = "Read/Update"
	colLeadDatatype       = "Data Type"
	colLeadLength         = "Format/Length"
	colLeadDirection      = "Inbound/Outbound"
	colPostalCountry      = "Name"
	colPostalMessage      = "Validation Error Message"
	colNoPostalCodeCountr = "Countries without Postal Code"
)

// Presence says whether an inbound record must carry a field, as the tables put it.
type Presence string

// The presence values of the tables' inbound column. PresenceNA marks fields that only ACE
// writes (outbound only).
const (
	PresenceMandatory   Presence = "Mandatory"
	PresenceConditional Presence = "Conditionally Mandatory"
	PresenceOptional    Presence = "Optional"
	PresenceNA          Presence = "NA"
)

// ValueKind is the JSON shape a field's value must have.
type ValueKind string

// The value kinds derived from the tables' datatype columns.
const (
	KindText        ValueKind = "text"         // JSON string
	KindPicklist    ValueKind = "picklist"     // JSON string, one standard value
	KindMultiSelect ValueKind = "multi-select" // JSON string, standard values separated by ";"
	KindArray       ValueKind = "array"        // JSON array of strings
	KindDate        ValueKind = "date"         // JSON string yyyy-mm-dd
	KindDateTime    ValueKind = "datetime"     // JSON string, RFC 3339
	KindNumber      ValueKind = "number"       // JSON number (or a numeric string)
)

// FieldRule is what the tables say about one field of an opportunity or lead.
type FieldRule struct {
	// Name is the field's JSON key, e.g. "partnerProjectTitle".
	Name string
	// Datatype and Validation are the table's text, kept for messages.
	Datatype   string
	Validation string
	// Presence is the inbound presence; Condition the table's text for it.
	Presence  Presence
	Condition string
	Kind      ValueKind
	// Allowed lists the standard values of a picklist or multi-select field, in table order;
	// nil when the tables give none (any string is then accepted).
	Allowed []string
	// AllowedFrom names the table that gave Allowed, for messages.
	AllowedFrom string
	// MinLength and MaxLength bound a string's length in characters; 0 means no bound.
	MinLength, MaxLength int
	// Min bounds a number from below: Min < value, or Min <= value when MinInclusive.
	Min          *float64
	MinInclusive bool
	// IntegerDigits and Decimals bound a currency's precision, from its datatype
	// Currency(IntegerDigits,Decimals); HasPrecision is false for other fields. The table
	// writes a currency type as Salesforce does, Currency(length, decimal places), where the
	// length counts the digits before the decimal point: Currency(18,0) takes whole numbers
	// of up to 18 digits, Currency(16,2) up to 16 digits and 2 decimal places, 18 digits
	// either way (Salesforce's maximum).
	HasPrecision            bool
	IntegerDigits, Decimals int
	// NotInPast marks dates that may not lie before today ("Date cannot be in the past").
	NotInPast bool
	// Update columns of Opportunity-Fields.csv: "Yes", "No", "Yes (ISV Partners Only)", "#N/A", …
	// Empty for leads.
	UpdateActionRequired, UpdateAfterLaunched, UpdateUntilLaunched, Create string
	// ReadOnly marks lead fields that only ACE writes (Leads-Fields.csv: Read Only and Outbound Only).
	ReadOnly bool
}

// ObjectRules are the rules of one object, field by field.
type ObjectRules struct {
	Object ace.Object
	// Source names the table the field rules come from, for messages.
	Source string
	// Fields maps each field's JSON key to its rule.
	Fields map[string]*FieldRule
	// Order lists the field names in table order, so problems come out in a stable order.
	Order []string
}

// Field returns the rule of the named field, or nil.
func (o *ObjectRules) Field(name string) *FieldRule { return o.Fields[name] }

// Rules is the whole rule model built from the field tables.
type Rules struct {
	Opportunity *ObjectRules
	Lead        *ObjectRules
	// PostalFormats maps a normalised country name (see countryKey) to its format.
	PostalFormats map[string]*PostalFormat
	// NoPostalCode maps a normalised country name to the name as the table spells it.
	NoPostalCode map[string]string
}

// For returns the rules of object o (nil for an unknown object).
func (r *Rules) For(o ace.Object) *ObjectRules {
	switch o {
	case ace.ObjectOpportunity:
		return r.Opportunity
	case ace.ObjectLead:
		return r.Lead
	}
	return nil
}

// Default returns the rules built from the embedded field tables. It panics if they do
// not parse, which the package tests rule out.
func Default() *Rules {
	r, err := defaultRules()
	if err != nil {
		panic(err)
	}
	return r
}

var defaultRules = sync.OnceValues(func() (*Rules, error) {
	sub, err := fs.Sub(fieldTables, "fields")
	if err != nil {
		return nil, err
	}
	return Load(sub)
})

// Load builds the rules from the field tables in fsys (the files of fields/, by their
// aws-samples names, at its root). The files are read as AWS publishes them: UTF-8 with or
// without a BOM, CRLF or LF line endings, quoted cells spanning lines.
func Load(fsys fs.FS) (*Rules, error) {
	r := &Rules{}
	var err error
	if r.Opportunity, err = loadOpportunityRules(fsys); err != nil {
		return nil, err
	}
	if r.Lead, err = loadLeadRules(fsys); err != nil {
		return nil, err
	}
	if r.PostalFormats, err = loadPostalFormats(fsys); err != nil {
		return nil, err
	}
	if r.NoPostalCode, err = loadNoPostalCode(fsys); err != nil {
		return nil, err
	}
	return r, nil
}

// table is a CSV file read into rows, with its header.
type table struct {
	name   string
	header []string
	rows   [][]string
}

// readTable reads a CSV field table: strips a UTF-8 BOM and lets encoding/csv handle CRLF
// and multi-line quoted cells. Rows may be shorter than the header (trailing empty cells).
func readTable(fsys fs.FS, name string) (*table, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("ace: field table %s: %w", name, err)
	}
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	t := &table{name: name}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ace: field table %s: %w", name, err)
		}
		if t.header == nil {
			t.header = rec
			continue
		}
		if slices.IndexFunc(rec, func(s string) bool { return strings.TrimSpace(s) != "" }) < 0 {
			continue // blank line
		}
		t.rows = append(t.rows, rec)
	}
	if t.header == nil {
		return nil, fmt.Errorf("ace: field table %s is empty", name)
	}
	return t, nil
}

// columns finds the named columns by their header (compared after trimming spaces) and
// fails naming the first one missing, so a renamed column in a new AWS table is caught.
func (t *table) columns(names ...string) (map[string]int, error) {
	idx := make(map[string]int, len(names))
	for _, n := range names {
		i := slices.IndexFunc(t.header, func(h string) bool { return strings.TrimSpace(h) == n })
		if i < 0 {
			return nil, fmt.Errorf("ace: field table %s has no column %q (columns: %q)", t.name, n, t.header)
		}
		idx[n] = i
	}
	return idx, nil
}

func cell(row []string, i int) string {
	if i < len(row) {
		return strings.TrimSpace(row[i])
	}
	return ""
}

// picklists reads a standard-values table: one column per picklist, values down the column.
// fieldFor maps a header to a field name ("" to skip the column).
func picklists(t *table, fieldFor func(header string) string) map[string][]string {
	out := make(map[string][]string)
	for i, h := range t.header {
		f := fieldFor(h)
		if f == "" {
			continue
		}
		for _, row := range t.rows {
			if v := cell(row, i); v != "" {
				out[f] = append(out[f], v)
			}
		}
	}
	return out
}

var (
	reTextLength = regexp.MustCompile(`^Text\s*\((\d+)\)$`)
	reCurrency   = regexp.MustCompile(`^Currency\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$`)
	reMinChars   = regexp.MustCompile(`(?i)minimum\s+(\d+)\s+characters`)
	reGreater    = regexp.MustCompile(`(?i)greater than\s+(or equal to\s+)?(-?\d+(?:\.\d+)?)`)
	reChoices    = regexp.MustCompile(`^[^|]+(\|[^|]+)+$`) // "Yes | No"
)

func loadOpportunityRules(fsys fs.FS) (*ObjectRules, error) {
	t, err := readTable(fsys, fileOpportunityFields)
	if err != nil {
		return nil, err
	}
	c, err := t.columns(colOppName, colOppDatatype, colOppValidation, colOppInbound, colOppCondition,
		colOppActionRequired, colOppAfterLaunched, colOppUntilLaunched, colOppCreate)
	if err != nil {
		return nil, err
	}
	vt, err := readTable(fsys, fileOpportunityValues)
	if err != nil {
		return nil, err
	}
	// The headers are the field names, one with a stray leading space (" customerSoftwareValueCurrency").
	values := picklists(vt, strings.TrimSpace)
	o := &ObjectRules{Object: ace.ObjectOpportunity, Source: fileOpportunityFields, Fields: make(map[string]*FieldRule)}
	for _, row := range t.rows {
		name := cell(row, c[colOppName]) // "cosellConvertReason " has a trailing space
		if name == "" {
			continue
		}
		f := &FieldRule{
			Name:                 name,
			Datatype:             cell(row, c[colOppDatatype]),
			Validation:           cell(row, c[colOppValidation]),
			Presence:             Presence(cell(row, c[colOppInbound])),
			Condition:            cell(row, c[colOppCondition]),
			UpdateActionRequired: cell(row, c[colOppActionRequired]),
			UpdateAfterLaunched:  cell(row, c[colOppAfterLaunched]),
			UpdateUntilLaunched:  cell(row, c[colOppUntilLaunched]),
			Create:               cell(row, c[colOppCreate]),
		}
		dt := strings.ToLower(f.Datatype)
		switch {
		case strings.HasPrefix(dt, "multi select"):
			f.Kind = KindMultiSelect
		case strings.HasPrefix(dt, "single select"):
			f.Kind = KindPicklist
		case dt == "array":
			f.Kind = KindArray
		case dt == "date":
			f.Kind = KindDate
		case dt == "datetime":
			f.Kind = KindDateTime
		case strings.HasPrefix(dt, "currency"), strings.HasPrefix(dt, "number"):
			f.Kind = KindNumber
		default:
			f.Kind = KindText
		}
		if m := reTextLength.FindStringSubmatch(f.Datatype); m != nil {
			f.MaxLength, _ = strconv.Atoi(m[1])
		}
		if m := reCurrency.FindStringSubmatch(f.Datatype); m != nil {
			f.HasPrecision = true
			f.IntegerDigits, _ = strconv.Atoi(m[1])
			f.Decimals, _ = strconv.Atoi(m[2])
		}
		if m := reMinChars.FindStringSubmatch(f.Validation); m != nil {
			f.MinLength, _ = strconv.Atoi(m[1])
		}
		if m := reGreater.FindStringSubmatch(f.Validation); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			f.Min, f.MinInclusive = &v, m[1] != ""
		}
		f.NotInPast = strings.Contains(strings.ToLower(f.Validation), "cannot be in the past")
		if f.Kind == KindPicklist || f.Kind == KindMultiSelect {
			if v, ok := values[name]; ok {
				f.Allowed, f.AllowedFrom = v, fileOpportunityValues
			} else if reChoices.MatchString(f.Validation) {
				// Small picklists are spelled out in the validation column: "Yes | No".
				for _, s := range strings.Split(f.Validation, "|") {
					f.Allowed = append(f.Allowed, strings.TrimSpace(s))
				}
				f.AllowedFrom = fileOpportunityFields
			}
		}
		if _, dup := o.Fields[name]; dup {
			return nil, fmt.Errorf("ace: field table %s lists %q twice", t.name, name)
		}
		o.Fields[name] = f
		o.Order = append(o.Order, name)
	}
	return o, nil
}

// leadPicklistFields maps the labels heading Lead_-_StandardValues.csv (whitespace collapsed,
// "(required)" removed) to the JSON field they constrain. A header that is already a field
// name of Leads-Fields.csv ("status") needs no entry.
var leadPicklistFields = map[string]string{
	"Industry Vertical":  "industry",
	"Country":            "country",
	"State/Province":     "state",
	"Use Case":           "useCaseWorkload",
	"Current Lead Stage": "currentLeadStage",
}

// leadMultiSelect lists the lead picklists whose values are ";"-separated lists. Leads-Fields.csv
// calls useCaseWorkload a plain picklist, but ACE sends and AWS's inbound sample uses
// "Big Data;IOT".
var leadMultiSelect = map[string]bool{"useCaseWorkload": true}

var reRequired = regexp.MustCompile(`(?i)\(required\)`)

// leadFieldName turns a Leads-Fields.csv name into its JSON key: the table mixes keys
// ("partnerCrmLeadId") with labels ("Campaign Name", "Company", "CampaignMemberStatus"),
// whose keys in ACE's files are campaignName, company, campaignMemberStatus.
func leadFieldName(s string) string {
	s = strings.Join(strings.Fields(s), "")
	if s == "" {
		return ""
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func loadLeadRules(fsys fs.FS) (*ObjectRules, error) {
	t, err := readTable(fsys, fileLeadFields)
	if err != nil {
		return nil, err
	}
	c, err := t.columns(colLeadName, colLeadMandatory, colLeadReadUpdate, colLeadDatatype, colLeadLength, colLeadDirection)
	if err != nil {
		return nil, err
	}
	o := &ObjectRules{Object: ace.ObjectLead, Source: fileLeadFields, Fields: make(map[string]*FieldRule)}
	for _, row := range t.rows {
		name := leadFieldName(cell(row, c[colLeadName]))
		if name == "" {
			continue
		}
		mand := cell(row, c[colLeadMandatory])
		dir := strings.ToLower(cell(row, c[colLeadDirection]))
		f := &FieldRule{
			Name:       name,
			Datatype:   cell(row, c[colLeadDatatype]),
			Validation: mand,
			Presence:   PresenceOptional,
			ReadOnly:   strings.EqualFold(cell(row, c[colLeadReadUpdate]), "Read Only") && !strings.Contains(dir, "inbound"),
		}
		if !strings.Contains(dir, "inbound") {
			f.Presence = PresenceNA
		} else if strings.HasPrefix(strings.ToLower(mand), "mandatory") {
			f.Presence = PresenceMandatory
		}
		dt := strings.ToLower(f.Datatype)
		switch {
		case strings.HasPrefix(dt, "picklist"):
			f.Kind = KindPicklist
			if leadMultiSelect[name] {
				f.Kind = KindMultiSelect
			}
		case dt == "number":
			f.Kind = KindNumber
		case dt == "date":
			f.Kind = KindDateTime // "YYYY-MM-DDTHH:MI:SS.000Z"
		default:
			f.Kind = KindText
		}
		if n, err := strconv.Atoi(cell(row, c[colLeadLength])); err == nil && f.Kind == KindText {
			f.MaxLength = n
		}
		if _, dup := o.Fields[name]; dup {
			return nil, fmt.Errorf("ace: field table %s lists %q twice", t.name, name)
		}
		o.Fields[name] = f
		o.Order = append(o.Order, name)
	}
	vt, err := readTable(fsys, fileLeadValues)
	if err != nil {
		return nil, err
	}
	required := make(map[string]bool)
	values := picklists(vt, func(h string) string {
		label := strings.Join(strings.Fields(reRequired.ReplaceAllString(h, " ")), " ")
		f := leadPicklistFields[label]
		if f == "" {
			f = leadFieldName(label)
		}
		if reRequired.MatchString(h) {
			required[f] = true
		}
		return f
	})
	for name, v := range values {
		f := o.Fields[name]
		if f == nil {
			// A picklist for a field Leads-Fields.csv does not list: still worth checking.
			f = &FieldRule{Name: name, Datatype: "Picklist", Presence: PresenceOptional, Kind: KindPicklist}
			o.Fields[name] = f
			o.Order = append(o.Order, name)
		}
		f.Allowed, f.AllowedFrom = v, fileLeadValues
		if required[name] && f.Presence != PresenceNA {
			// The standard-values table heads these columns "… (required)".
			f.Presence = PresenceMandatory
			f.Condition = "(required) in " + fileLeadValues
		}
	}
	return o, nil
}
