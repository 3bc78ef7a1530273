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

// InboundFile is an inbound file as ReadInbound finds it: its object, envelope and records,
// not yet checked against ACE's limits or field tables (package ace/rules does that).
type InboundFile struct {
	// Key is the file's key or path as given.
	Key string
	// Object is the kind of records, from the key's folder or else the envelope.
	Object Object
	// RecordsKey is the envelope key holding the records: "opportunities", "leads" or "Leads".
	RecordsKey string
	// Records are the records array's elements, as sent.
	Records []json.RawMessage
	// Version is the envelope's version as sent; VersionMajor its major number. VersionErr
	// says why the version is unusable (missing, malformed or unsupported), nil otherwise.
	Version      string
	VersionMajor int
	VersionErr   error
	// SpmsID is the envelope's spmsId, "" when missing or not a string; SpmsIDProblems
	// says what is wrong with a spmsId that is not a string.
	SpmsID         string
	SpmsIDProblems []string
}

// ReadInbound reads an inbound file before it is uploaded: key is the S3 key or a local path;
// its folder (opportunity-inbound/ or lead-inbound/) gives the object, else the records key
// does. The error is a *FileError when the file cannot be read as an inbound file at all: not
// JSON, not an object, no records array, or a key in a folder ACE writes. Lead files may use
// the key "Leads", as AWS's own lead inbound sample does.
func ReadInbound(key string, body []byte) (*InboundFile, error) {
	top, err := decodeObject(key, body, false)
	if err != nil {
		return nil, err
	}
	obj, err := inboundObject(key, top)
	if err != nil {
		return nil, fileErrorf(key, nil, "%v", err)
	}
	recKey, elems, err := recordsArray(obj, top)
	if err != nil {
		return nil, fileErrorf(key, nil, "%v", err)
	}
	f := &InboundFile{Key: key, Object: obj, RecordsKey: recKey, Records: elems}
	f.Version, f.VersionMajor, f.VersionErr = parseVersion(top)
	env := fieldReader{fields: top}
	f.SpmsID = env.str("spmsId")
	f.SpmsIDProblems = env.problems
	return f, nil
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
