package ace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Limits of an inbound file (README, Files: "Inbound file ≤ 1 MB, at most 50 records").
// AWS does not say whether a megabyte is 10^6 or 2^20 bytes; the smaller is used.
const (
	MaxInboundFileBytes = 1_000_000
	MaxInboundRecords   = 50
)

// InboundVersion is the envelope version OppSync writes: payload 2.x follows field
// definitions v14 and later, which the embedded tables are (README, Files).
const InboundVersion = "2.0"

// Errors of BuildInbound, for callers that split records over several files.
var (
	ErrTooManyRecords   = errors.New("ace: more than 50 records for one inbound file")
	ErrInboundTooLarge  = errors.New("ace: inbound file larger than 1 MB")
	ErrNoInboundRecords = errors.New("ace: no records for an inbound file")
)

// InboundReport is the outcome of ValidateInboundFile.
type InboundReport struct {
	// Key is the file's key or path as given.
	Key string `json:"key"`
	// Object is the kind of records, from the key's folder or else the envelope.
	Object Object `json:"object"`
	// Version and SpmsID are the envelope's, as sent.
	Version string `json:"version,omitempty"`
	SpmsID  string `json:"spmsId,omitempty"`
	// RecordsKey is the envelope key holding the records: "opportunities", "leads" or "Leads".
	RecordsKey string `json:"recordsKey,omitempty"`
	// Records is the number of records; Bytes the file's size.
	Records int `json:"records"`
	Bytes   int `json:"bytes"`
	// Problems lists every rule broken, file-level ones (Record -1) first, then by record.
	Problems []Problem `json:"problems"`
}

// OK reports whether the file breaks no rule.
func (r *InboundReport) OK() bool { return len(r.Problems) == 0 }

// ValidateInboundFile checks an inbound file before it is uploaded: the envelope (version,
// spmsId, records array), the limits (JSON, ≤ 1 MB, ≤ 50 records), and every record against
// the field tables (see ValidateOpportunity). key is the S3 key or a local path; its folder
// (opportunity-inbound/ or lead-inbound/) gives the object, else the records key does.
//
// Broken rules are reported in the report. The error is a *FileError only when the file cannot
// be validated at all: not JSON, not an object, no records array, or a key in a folder ACE writes.
//
// Lead files are accepted with version 1.x or 2.x and with the key "Leads", as AWS's own lead
// inbound sample has them. Opportunity files must be 2.x: the tables describe payload 2.x
// (field definitions v14+), and upgrading from 1.x is one-way (README, Files).
func ValidateInboundFile(key string, body []byte, opts ValidateOptions) (*InboundReport, error) {
	top, err := decodeObject(key, body, false)
	if err != nil {
		return nil, err
	}
	r := &InboundReport{Key: key, Bytes: len(body)}
	fileProblem := func(rule Rule, format string, args ...any) {
		r.Problems = append(r.Problems, Problem{Record: -1, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	obj, err := inboundObject(key, top)
	if err != nil {
		return nil, fileErrorf(key, nil, "%v", err)
	}
	r.Object = obj
	recKey, elems, err := recordsArray(obj, top)
	if err != nil {
		return nil, fileErrorf(key, nil, "%v", err)
	}
	r.RecordsKey, r.Records = recKey, len(elems)

	if !strings.HasSuffix(key, ".json") {
		fileProblem(RuleFileName, "file name does not end in .json; ACE processes only .json files and answers others "+
			"with a *.error.json file")
	}
	if len(body) > MaxInboundFileBytes {
		fileProblem(RuleFileSize, "file is %d bytes; an inbound file may be at most %d bytes (1 MB); split the records "+
			"over several files", len(body), MaxInboundFileBytes)
	}
	switch {
	case len(elems) == 0:
		fileProblem(RuleRecordCount, "%q holds no records", recKey)
	case len(elems) > MaxInboundRecords:
		fileProblem(RuleRecordCount, "%q holds %d records; an inbound file may hold at most %d (AWS recommends one "+
			"per file)", recKey, len(elems), MaxInboundRecords)
	}
	version, major, verr := parseVersion(top)
	r.Version = version
	switch {
	case verr != nil:
		fileProblem(RuleVersion, "%v", verr)
	case obj == ObjectOpportunity && major != 2:
		fileProblem(RuleVersion, "version %q follows field definitions v13; these rules and OppSync's files are "+
			"payload %s (v14+), and a partner that has sent 2.x cannot go back; send \"version\": %q",
			version, InboundVersion, InboundVersion)
	}
	env := fieldReader{fields: top}
	r.SpmsID = env.str("spmsId")
	for _, p := range env.problems {
		fileProblem(RuleEnvelope, "%s", p)
	}
	if len(env.problems) == 0 && strings.TrimSpace(r.SpmsID) == "" {
		fileProblem(RuleEnvelope, "spmsId is missing or blank; set it to the partner's id (spmsId)")
	}

	idKey := "partnerCrmUniqueIdentifier"
	if obj == ObjectLead {
		idKey = "partnerCrmLeadId"
	}
	seen := make(map[string]int)
	for i, raw := range elems {
		var prev json.RawMessage
		id := ""
		if fields, err := Fields(raw); err == nil {
			id = stringOf(fields[idKey])
		}
		if id != "" && opts.Previous != nil {
			prev = opts.Previous(obj, id)
		}
		for _, p := range validateRecord(obj, raw, prev, opts) {
			p.Record = i
			r.Problems = append(r.Problems, p)
		}
		if id == "" {
			continue
		}
		if j, dup := seen[id]; dup {
			r.Problems = append(r.Problems, Problem{Record: i, RecordID: id, Field: idKey, Rule: RuleDuplicate,
				Message: fmt.Sprintf("%s %q is also record %d of this file; send one document per record", idKey, id, j)})
			continue
		}
		seen[id] = i
	}
	return r, nil
}

// inboundObject tells which object an inbound file holds: from an inbound folder in key,
// else from the envelope's records key (for local files).
func inboundObject(key string, top map[string]json.RawMessage) (Object, error) {
	switch {
	case strings.HasPrefix(key, FolderOpportunityInbound):
		return ObjectOpportunity, nil
	case strings.HasPrefix(key, FolderLeadInbound):
		return ObjectLead, nil
	}
	if o, ok := ObjectForKey(key); ok {
		return "", fmt.Errorf("key is in a folder ACE writes, not in %s or %s; this is not an inbound %s file",
			FolderOpportunityInbound, FolderLeadInbound, o)
	}
	var found []Object
	for _, o := range []Object{ObjectOpportunity, ObjectLead} {
		for _, k := range recordsKeys(o) {
			if _, ok := top[k]; ok {
				found = append(found, o)
				break
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", errors.New(`no "opportunities" or "leads" array; an inbound file is {"version": "2.0", ` +
			`"spmsId": …, "opportunities": [...]} or the same with "leads"`)
	}
	return "", errors.New(`file has both "opportunities" and "leads"; an inbound file holds one kind of record`)
}

// BuildInbound writes the inbound file for records of object o:
// {"version":"2.0","spmsId":…,"opportunities":[…]} or with "leads". Each record must be a JSON
// object; it is copied compacted, values unchanged. It fails with ErrNoInboundRecords,
// ErrTooManyRecords or ErrInboundTooLarge (wrapped) when the file would break ACE's limits, so
// callers can split the records over several files.
func BuildInbound(o Object, spmsID string, records []json.RawMessage) ([]byte, error) {
	if !o.Valid() {
		return nil, fmt.Errorf("ace: build inbound file: unknown object %q", o)
	}
	if strings.TrimSpace(spmsID) == "" {
		return nil, errors.New("ace: build inbound file: spmsId is blank; set the customer's partner id")
	}
	switch {
	case len(records) == 0:
		return nil, ErrNoInboundRecords
	case len(records) > MaxInboundRecords:
		return nil, fmt.Errorf("%w: %d %s records; split them over several files", ErrTooManyRecords, len(records), o)
	}
	recKey := recordsKeys(o)[0] // "opportunities" or "leads", the documented spellings
	var b bytes.Buffer
	b.WriteString(`{"version":`)
	writeJSONString(&b, InboundVersion)
	b.WriteString(`,"spmsId":`)
	writeJSONString(&b, spmsID)
	b.WriteString(`,`)
	writeJSONString(&b, recKey)
	b.WriteString(`:[`)
	for i, rec := range records {
		if k := JSONKind(rec); k != "object" || !json.Valid(rec) {
			return nil, fmt.Errorf("ace: build inbound file: record %d is not a valid JSON object (%s)", i, k)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		if err := json.Compact(&b, rec); err != nil {
			return nil, fmt.Errorf("ace: build inbound file: record %d: %w", i, err)
		}
	}
	b.WriteString("]}")
	if b.Len() > MaxInboundFileBytes {
		return nil, fmt.Errorf("%w: %d bytes for %d records; split them over several files", ErrInboundTooLarge,
			b.Len(), len(records))
	}
	return b.Bytes(), nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}

// inboundTimeLayout stamps inbound file names: UTC to the millisecond, sortable, and free of
// characters S3 keys would need escaped.
const inboundTimeLayout = "20060102T150405.000Z"

// maxInboundNameLen caps the name part of an inbound key, keeping keys readable.
const maxInboundNameLen = 100

// InboundKey returns the key for an inbound file of object o: "opportunity-inbound/<name>_<timestamp>.json"
// or "lead-inbound/…", with t in UTC to the millisecond. ACE does not process a file whose name
// it has seen before (README, Files), so callers pass a distinct name or time per file. Characters
// of name outside [A-Za-z0-9-_] become "-"; an empty name becomes "file". The result depends only
// on the arguments. It returns "" for an unknown object.
func InboundKey(o Object, name string, t time.Time) string {
	var folder string
	switch o {
	case ObjectOpportunity:
		folder = FolderOpportunityInbound
	case ObjectLead:
		folder = FolderLeadInbound
	default:
		return ""
	}
	var b strings.Builder
	for _, r := range name {
		if b.Len() >= maxInboundNameLen {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	n := b.String()
	if n == "" {
		n = "file"
	}
	return folder + n + "_" + t.UTC().Format(inboundTimeLayout) + ".json"
}

// InboundFields keeps, of a record's fields, those ACE takes on inbound: fields the field
// tables know and do not mark outbound-only or read-only (lastModifiedDate, createdDate,
// aWSStage, … are ACE's to write), plus the two ids. A CRM holds ACE's whole record; this
// is what may go back.
func InboundFields(o Object, fields map[string]json.RawMessage) map[string]json.RawMessage {
	rules := DefaultRules().For(o)
	out := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		switch k {
		case "apnCrmUniqueIdentifier", "partnerCrmUniqueIdentifier", "partnerCrmLeadId":
			out[k] = v
			continue
		}
		if f := rules.Field(k); f != nil && f.Presence != PresenceNA && !f.ReadOnly {
			out[k] = v
		}
	}
	return out
}
