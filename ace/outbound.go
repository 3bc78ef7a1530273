package ace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxOutboundFileBytes is the largest file ParseOutbound and ParseResult accept. AWS
// documents no size limit for outbound files (inbound files are capped at 1 MB); the cap
// keeps a runaway file from exhausting a worker's memory.
const MaxOutboundFileBytes = 10 << 20 // 10 MiB

// CheckSize rejects a file by its size, so that callers can skip an object by the size S3
// lists before downloading it. It returns a *FileError for an empty or oversized file.
func CheckSize(key string, size int64) error {
	switch {
	case size == 0:
		return fileErrorf(key, nil, "file is empty (0 bytes)")
	case size > MaxOutboundFileBytes:
		return fileErrorf(key, nil, "file is %d bytes, larger than the %d-byte (10 MiB) limit; inspect it by hand",
			size, MaxOutboundFileBytes)
	}
	return nil
}

// OutboundFile is an outbound file ACE wrote to opportunity-outbound/ or lead-outbound/.
type OutboundFile struct {
	// Key is the file's S3 object key.
	Key string
	// Version is the envelope's version as sent: ACE has sent "2.0" and "1", and a JSON
	// number is accepted too (kept as its text, e.g. "1").
	Version string
	// Major is the version's major number, 1 or 2. Payload 1.x follows field definitions
	// v13 and 2.x follows v14 and later (README, Files).
	Major int
	// SpmsID is the partner's id (spmsId).
	SpmsID string
	// Object is the kind of record the file holds, from its folder.
	Object Object
	// Records are the records that parsed, in file order.
	Records []Record
	// Rejected lists the records that could not be used; see Problem.
	Rejected []RecordError
	// Extra keeps envelope members OppSync does not know, so nothing ACE adds is lost.
	// It is nil when there are none.
	Extra map[string]json.RawMessage
}

// Problem returns nil when every record parsed, else a *FileError listing the rejected
// records. Callers sync Records first and then quarantine the file with this reason.
func (f *OutboundFile) Problem() error {
	if len(f.Rejected) == 0 {
		return nil
	}
	const maxListed = 20 // keep the reason short enough for logs and tags
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d records rejected", len(f.Rejected), len(f.Records)+len(f.Rejected))
	for i := range f.Rejected {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(f.Rejected)-maxListed)
			break
		}
		b.WriteString("; ")
		b.WriteString(f.Rejected[i].Error())
	}
	return &FileError{Key: f.Key, Reason: b.String()}
}

// recordsKeys lists the envelope keys that may hold the records of o. Lead files may use
// "Leads": AWS's own lead sample does (README, Quirks).
func recordsKeys(o Object) []string {
	if o == ObjectLead {
		return []string{"leads", "Leads"}
	}
	return []string{"opportunities"}
}

// ParseOutbound parses the outbound file body stored under key. The key's folder says
// whether the file holds opportunities or leads.
//
// A problem with the file as a whole (key, size, JSON syntax, envelope) returns a
// *FileError. A problem with one record does not: the record goes to Rejected and the
// others are parsed, so one bad record does not hold back the rest of the file.
func ParseOutbound(key string, body []byte) (*OutboundFile, error) {
	if !strings.HasSuffix(key, ".json") {
		return nil, fileErrorf(key, nil, "key does not end in .json; ACE writes only JSON files")
	}
	if IsErrorFile(key) {
		return nil, fileErrorf(key, nil, "is an ACE error file (*.error.json), not an outbound file")
	}
	obj, ok := outboundObject(key)
	if !ok {
		return nil, fileErrorf(key, nil, "key is not in an outbound folder (%s or %s)",
			FolderOpportunityOutbound, FolderLeadOutbound)
	}
	top, err := decodeObject(key, body, true)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimPrefix(body, utf8BOM)
	f := &OutboundFile{Key: key, Object: obj}
	if f.Version, f.Major, err = parseVersion(top); err != nil {
		return nil, fileErrorf(key, nil, "%v", err)
	}
	env := fieldReader{fields: top}
	f.SpmsID = env.str("spmsId")
	if len(env.problems) > 0 {
		return nil, fileErrorf(key, nil, "%s", strings.Join(env.problems, "; "))
	}
	if err := checkEnvelope(body, top, recordsKeys(obj)); err != "" {
		return nil, fileErrorf(key, nil, "%s", err)
	}
	recKey, elems, err := recordsArray(obj, top)
	if err != nil {
		return nil, fileErrorf(key, nil, "%v", err)
	}
	for k, v := range top {
		if k == "version" || k == "spmsId" || k == recKey {
			continue
		}
		if f.Extra == nil {
			f.Extra = make(map[string]json.RawMessage)
		}
		f.Extra[k] = v
	}
	for i, raw := range elems {
		rec, rerr := parseRecord(obj, raw)
		if rerr != nil {
			rerr.Index = i
			f.Rejected = append(f.Rejected, *rerr)
			continue
		}
		f.Records = append(f.Records, rec)
	}
	return f, nil
}

// checkEnvelope checks what an outbound file holds outside its records (recordKeys), whose
// own problems reject only them: a member named twice (two "opportunities" arrays would
// lose the first one's records unseen) or invalid UTF-8.
func checkEnvelope(body []byte, top map[string]json.RawMessage, recordKeys []string) string {
	if k := duplicateMember(body); k != "" {
		return fmt.Sprintf("the file has %q twice; ACE writes each member once, so which one is meant cannot be told: ask AWS to re-drive the file", k)
	}
	for k, v := range top {
		if slices.Contains(recordKeys, k) {
			continue
		}
		if dup := duplicateKey(v); dup != "" {
			return fmt.Sprintf("the file's %s has %s twice; ACE writes each member once: ask AWS to re-drive the file", k, dup)
		}
	}
	bad := slices.DeleteFunc(invalidUTF8(body, top), func(k string) bool { return slices.Contains(recordKeys, k) })
	if len(bad) > 0 {
		return "the file's " + invalidUTF8Problem(bad)
	}
	return ""
}

// decodeObject checks a file's size and syntax and splits its top-level object. With
// allowBOM, a UTF-8 byte-order mark in front of the JSON is ignored: ACE's own files
// (outbound and result) are read as a JSON parser may (RFC 8259 §8.1), while the inbound
// files OppSync writes and validates carry none.
func decodeObject(key string, body []byte, allowBOM bool) (map[string]json.RawMessage, error) {
	if err := CheckSize(key, int64(len(body))); err != nil {
		return nil, err
	}
	if allowBOM {
		body = bytes.TrimPrefix(body, utf8BOM)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fileErrorf(key, nil, "file contains only whitespace (%d bytes), no JSON", len(body))
	}
	var top map[string]json.RawMessage
	err := json.Unmarshal(body, &top)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := position(body, syn.Offset)
		return nil, fileErrorf(key, err, "invalid JSON at line %d, column %d (byte %d): %v", line, col, syn.Offset, err)
	}
	if err != nil || top == nil {
		// ACE rejects a top level that is not an object (README, Files); so do we.
		return nil, fileErrorf(key, err, "top level is a JSON %s, want an object", JSONKind(body))
	}
	return top, nil
}

// position converts the offset of a *json.SyntaxError (bytes read when the error was
// found) into a 1-based line and column.
func position(body []byte, offset int64) (line, col int) {
	n := int(offset) - 1 // the offending byte
	n = max(0, min(n, len(body)))
	before := body[:n]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = n - bytes.LastIndexByte(before, '\n')
	return line, col
}

// parseVersion reads the envelope's version, a string or a number, and its major number.
func parseVersion(top map[string]json.RawMessage) (version string, major int, err error) {
	raw, ok := top["version"]
	switch k := JSONKind(raw); {
	case !ok || k == "null":
		return "", 0, errors.New(`version is missing; want "1.x" or "2.x"`)
	case k == "number":
		version = string(bytes.TrimSpace(raw))
	case k == "string":
		if err := json.Unmarshal(raw, &version); err != nil {
			return "", 0, fmt.Errorf("version: %v", err)
		}
	default:
		return "", 0, fmt.Errorf(`version is a JSON %s (%s), want a string or number such as "2.0"`, k, snippet(raw))
	}
	head, _, _ := strings.Cut(strings.TrimSpace(version), ".")
	major, err = strconv.Atoi(head)
	if err != nil {
		return "", 0, fmt.Errorf(`version is %s, not a version number such as "2.0"`, DescribeString(version))
	}
	if major != 1 && major != 2 {
		return "", 0, fmt.Errorf("version has major version %d; OppSync reads payload versions 1.x and 2.x only", major)
	}
	return version, major, nil
}

// recordsArray finds the records array of an outbound file of object o.
func recordsArray(o Object, top map[string]json.RawMessage) (string, []json.RawMessage, error) {
	var key string
	for _, k := range recordsKeys(o) {
		if _, ok := top[k]; !ok {
			continue
		}
		if key != "" {
			return "", nil, fmt.Errorf("file has both %q and %q; cannot tell which holds the records", key, k)
		}
		key = k
	}
	if key == "" {
		want := recordsKeys(o)[0]
		for _, other := range recordsKeys(otherObject(o)) {
			if _, ok := top[other]; ok {
				return "", nil, fmt.Errorf("no %q array but a %q one: a %s file in the %s folder?", want, other, otherObject(o), o)
			}
		}
		return "", nil, fmt.Errorf("no %q array", want)
	}
	raw := top[key]
	if k := JSONKind(raw); k != "array" {
		return "", nil, fmt.Errorf("%q is a JSON %s, want an array of records", key, k)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return "", nil, fmt.Errorf("%q: %v", key, err)
	}
	return key, elems, nil
}

func otherObject(o Object) Object {
	if o == ObjectLead {
		return ObjectOpportunity
	}
	return ObjectLead
}

// parseRecord reads one element of an outbound records array.
func parseRecord(o Object, raw json.RawMessage) (Record, *RecordError) {
	fields, err := Fields(raw)
	if err != nil {
		return Record{}, &RecordError{Reason: "record " + err.Error()}
	}
	rec := Record{Object: o, Raw: raw}
	d := fieldReader{fields: fields}
	// The CRM must only ever hold valid UTF-8, and the raw record goes to it as it is. A
	// record with invalid bytes is rejected rather than repaired with U+FFFD: the bytes
	// mean a damaged or re-encoded file (Latin-1 "Müller" is invalid UTF-8), a repaired
	// name would be wrong in the CRM and go back to ACE on the next edit, and a re-drive of
	// the file by AWS brings the record intact.
	if bad := invalidUTF8(raw, fields); len(bad) > 0 {
		d.problem("%s", invalidUTF8Problem(bad))
	}
	// A field named twice is refused, not resolved: encoding/json keeps the last, the raw
	// record keeps both, and which one ACE meant cannot be told.
	if dup := duplicateKey(raw); dup != "" {
		d.problem("%s appears twice; ACE writes each field once, so which value is meant cannot be told: ask AWS to re-drive the file", dup)
	}
	// Every outbound record carries ACE's id: without it the record cannot be matched
	// to a CRM record or answered (README, Files: Identity).
	rec.ACEID = d.id("apnCrmUniqueIdentifier", "every outbound record must carry ACE's id")
	switch o {
	case ObjectOpportunity:
		rec.PartnerID = d.str("partnerCrmUniqueIdentifier")
		rec.Opportunity = &Opportunity{
			CustomerCompanyName:        d.str("customerCompanyName"),
			CustomerWebsite:            d.str("customerWebsite"),
			PartnerProjectTitle:        d.str("partnerProjectTitle"),
			Stage:                      d.str("stage"),
			AWSStage:                   d.str("aWSStage"),
			Status:                     d.str("status"),
			OpportunityOwnership:       d.str("opportunityOwnership"),
			PartnerAcceptanceStatus:    d.str("partnerAcceptanceStatus"),
			Industry:                   d.str("industry"),
			Country:                    d.str("country"),
			TargetCloseDate:            d.str("targetCloseDate"),
			ExpectedMonthlyAWSRevenue:  d.number("expectedMonthlyAwsRevenue"),
			AcceptBy:                   d.time("acceptBy"),
			CreatedDate:                d.time("createdDate"),
			IsOppFromMarketingActivity: d.str("IsOppFromMarketingActivity"),
		}
	case ObjectLead:
		rec.PartnerID = d.str("partnerCrmLeadId")
		rec.Lead = &Lead{
			Company:     d.str("company"),
			FullName:    d.str("fullName"),
			FirstName:   d.str("firstName"),
			LastName:    d.str("lastName"),
			Email:       d.str("email"),
			Status:      d.str("status"),
			LeadSource:  d.str("leadSource"),
			Industry:    d.str("industry"),
			Country:     d.str("country"),
			CreatedDate: d.time("createdDate"),
		}
	}
	rec.LastModified = d.time("lastModifiedDate")
	if len(d.problems) > 0 {
		return Record{}, &RecordError{ACEID: rec.ACEID, PartnerID: rec.PartnerID, Reason: strings.Join(d.problems, "; ")}
	}
	return rec, nil
}
