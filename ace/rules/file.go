package rules

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oppsync/oppsync/ace"
)

// InboundReport is the outcome of ValidateInboundFile.
type InboundReport struct {
	// Key is the file's key or path as given.
	Key string `json:"key"`
	// Object is the kind of records, from the key's folder or else the envelope.
	Object ace.Object `json:"object"`
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
// Broken rules are reported in the report. The error is an *ace.FileError only when the file
// cannot be validated at all: not JSON, not an object, no records array, or a key in a folder
// ACE writes (see ace.ReadInbound).
//
// Lead files are accepted with version 1.x or 2.x and with the key "Leads", as AWS's own lead
// inbound sample has them. Opportunity files must be 2.x: the tables describe payload 2.x
// (field definitions v14+), and upgrading from 1.x is one-way (ace/FACTS.md, Files).
func ValidateInboundFile(key string, body []byte, opts Options) (*InboundReport, error) {
	f, err := ace.ReadInbound(key, body)
	if err != nil {
		return nil, err
	}
	r := &InboundReport{Key: key, Object: f.Object, Version: f.Version, SpmsID: f.SpmsID,
		RecordsKey: f.RecordsKey, Records: len(f.Records), Bytes: len(body)}
	fileProblem := func(rule Rule, format string, args ...any) {
		r.Problems = append(r.Problems, Problem{Record: -1, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	if !strings.HasSuffix(key, ".json") {
		fileProblem(RuleFileName, "file name does not end in .json; ACE processes only .json files and answers others "+
			"with a *.error.json file")
	}
	if len(body) > ace.MaxInboundFileBytes {
		fileProblem(RuleFileSize, "file is %d bytes; an inbound file may be at most %d bytes (1 MB); split the records "+
			"over several files", len(body), ace.MaxInboundFileBytes)
	}
	switch n := len(f.Records); {
	case n == 0:
		fileProblem(RuleRecordCount, "%q holds no records", f.RecordsKey)
	case n > ace.MaxInboundRecords:
		fileProblem(RuleRecordCount, "%q holds %d records; an inbound file may hold at most %d (AWS recommends one "+
			"per file)", f.RecordsKey, n, ace.MaxInboundRecords)
	}
	switch {
	case f.VersionErr != nil:
		fileProblem(RuleVersion, "%v", f.VersionErr)
	case f.Object == ace.ObjectOpportunity && f.VersionMajor != 2:
		fileProblem(RuleVersion, "version %q follows field definitions v13; these rules and OppSync's files are "+
			"payload %s (v14+), and a partner that has sent 2.x cannot go back; send \"version\": %q",
			f.Version, ace.InboundVersion, ace.InboundVersion)
	}
	for _, p := range f.SpmsIDProblems {
		fileProblem(RuleEnvelope, "%s", p)
	}
	if len(f.SpmsIDProblems) == 0 && strings.TrimSpace(f.SpmsID) == "" {
		fileProblem(RuleEnvelope, "spmsId is missing or blank; set it to the partner's id (spmsId)")
	}

	idKey := partnerIDKey(f.Object)
	seen := make(map[string]int)
	for i, raw := range f.Records {
		var prev json.RawMessage
		id := ""
		if fields, err := ace.Fields(raw); err == nil {
			id = stringOf(fields[idKey])
		}
		if id != "" && opts.Previous != nil {
			prev = opts.Previous(f.Object, id)
		}
		for _, p := range validateRecord(f.Object, raw, prev, opts) {
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

// partnerIDKey is the key of the partner's CRM id on records of o.
func partnerIDKey(o ace.Object) string {
	if o == ace.ObjectLead {
		return "partnerCrmLeadId"
	}
	return "partnerCrmUniqueIdentifier"
}

// InboundFields keeps, of a record's fields, those ACE takes on inbound: fields the field
// tables know and do not mark outbound-only or read-only (lastModifiedDate, createdDate,
// aWSStage, … are ACE's to write), plus the two ids. A CRM holds ACE's whole record; this
// is what may go back.
func InboundFields(o ace.Object, fields map[string]json.RawMessage) map[string]json.RawMessage {
	rules := Default().For(o)
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
