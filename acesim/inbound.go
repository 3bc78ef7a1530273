package acesim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"reflect"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/oppsync/oppsync/ace"
)

// Messages the simulator answers with. ACE's own wording is known only where a sample shows
// it; the others are the simulator's and say so by being specific.
const (
	// msgNoUpdate is ACE's answer to an update that changes nothing
	// (samples/lead-result-errors.json).
	msgNoUpdate = "No new update identified for this record"
	// msgNotJSON goes into the *.error.json answering a non-.json upload (README, Folders:
	// ACE writes the reason; its wording is undocumented).
	msgNotJSON = "Invalid file type: only .json files are processed"
)

// folder is one inbound folder and where its answers go.
type folder struct {
	object  ace.Object
	inbound string
	results string
}

func (s *Sim) folders() []folder {
	return []folder{
		{ace.ObjectOpportunity, ace.FolderOpportunityInbound, s.opts.ResultsFolders.Opportunity},
		{ace.ObjectLead, ace.FolderLeadInbound, s.opts.ResultsFolders.Lead},
	}
}

// ProcessOnce answers every inbound file present now (subject to Options.Delay) and returns
// what it did. An S3 failure on one file does not stop the others; the failed file is
// retried by the next call, and the failures are returned joined.
func (s *Sim) ProcessOnce(ctx context.Context) (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st Stats
	var errs []error
	for _, f := range s.folders() {
		keys, err := s.list(ctx, f.inbound)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, key := range keys {
			if err := s.handle(ctx, f, key, &st); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return st, errors.Join(errs...)
}

// list returns the keys under prefix, skipping folder placeholders ("prefix/").
func (s *Sim) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.s3, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.errS3("list", prefix, err)
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); !strings.HasSuffix(k, "/") {
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

// handle answers one inbound object.
func (s *Sim) handle(ctx context.Context, f folder, key string, st *Stats) error {
	if s.processed[key] {
		// ACE does not process a repeated file name (README, Files); it still consumes it.
		st.Repeats++
		s.logf("acesim: %s: name already processed, deleting without an answer", key)
		return s.delete(ctx, key)
	}
	if s.opts.Delay > 0 {
		first, ok := s.firstSeen[key]
		if !ok {
			first = s.now()
			s.firstSeen[key] = first
		}
		if s.now().Sub(first) < s.opts.Delay {
			st.Waiting++
			return nil
		}
	}

	if !strings.HasSuffix(key, ".json") {
		if err := s.putErrorFile(ctx, f, key, msgNotJSON); err != nil {
			return err
		}
		st.ErrorFiles++
		return s.consumed(ctx, key)
	}

	body, err := s.get(ctx, key)
	if err != nil {
		return err
	}
	res, staged := s.evaluate(f.object, key, body)
	if s.opts.DropResults != nil && s.opts.DropResults(key) {
		st.Dropped++
		s.logf("acesim: %s: %s, result dropped (Options.DropResults)", key, res.summary())
	} else {
		if err := s.putJSON(ctx, ace.ResultKeyFor(key, f.results), res); err != nil {
			return err // nothing applied: the next poll retries the whole file
		}
		s.logf("acesim: %s: %s → %s", key, res.summary(), ace.ResultKeyFor(key, f.results))
	}
	accepted := s.commit(staged)

	st.Files++
	if res.IsAPIError {
		st.APIErrors++
	}
	for _, r := range res.InboundAPIResults {
		st.Records++
		if r.IsSuccess {
			st.Succeeded++
		} else {
			st.Failed++
		}
	}
	var errs []error
	errs = append(errs, s.consumed(ctx, key))
	if s.opts.UnmaskOnAccept {
		for _, id := range accepted {
			out, err := s.unmask(ctx, id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			st.Outbound = append(st.Outbound, out)
		}
	}
	return errors.Join(errs...)
}

// consumed records key as processed and deletes it, as ACE deletes an inbound file once
// processed (README, Folders). The key is recorded first: should the delete fail, the
// next poll deletes it as a repeat instead of applying it twice.
func (s *Sim) consumed(ctx context.Context, key string) error {
	s.processed[key] = true
	delete(s.firstSeen, key)
	return s.delete(ctx, key)
}

func (s *Sim) get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, s.errS3("get", key, err)
	}
	defer out.Body.Close()
	// One byte more than the limit tells an oversized file from one at the limit.
	body, err := io.ReadAll(io.LimitReader(out.Body, ace.MaxInboundFileBytes+1))
	if err != nil {
		return nil, s.errS3("read", key, err)
	}
	return body, nil
}

func (s *Sim) delete(ctx context.Context, key string) error {
	if _, err := s.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}); err != nil {
		return s.errS3("delete", key, err)
	}
	return nil
}

func (s *Sim) putJSON(ctx context.Context, key string, v any) error {
	body, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return fmt.Errorf("acesim: encode %s: %w", key, err)
	}
	if _, err := s.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	}); err != nil {
		return s.errS3("put", key, err)
	}
	return nil
}

// errorFile is the simulator's *.error.json. ACE writes one when a non-.json file is
// uploaded but documents neither its folder nor its shape (README, Folders); the
// simulator's choice: the results folder, "<name>.error.json", and these three members.
type errorFile struct {
	FileName           string `json:"fileName"`
	Error              string `json:"error"`
	FileApnProcessedDT string `json:"fileApnProcessedDT"`
}

// ErrorKeyFor returns where the simulator answers the non-.json inbound file key:
// "opportunity-inbound/x.csv" gives resultsFolder + "x.csv.error.json".
func ErrorKeyFor(key, resultsFolder string) string {
	return withSlash(resultsFolder) + path.Base(key) + ".error.json"
}

func (s *Sim) putErrorFile(ctx context.Context, f folder, key, reason string) error {
	errKey := ErrorKeyFor(key, f.results)
	if err := s.putJSON(ctx, errKey, errorFile{FileName: key, Error: reason, FileApnProcessedDT: aceTime(s.now())}); err != nil {
		return err
	}
	s.logf("acesim: %s: %s → %s", key, reason, errKey)
	return nil
}

// resultFile is a result file in ACE's format (README, Files; samples/*result*.json).
type resultFile struct {
	Success            string         `json:"success"`
	SpmsID             *string        `json:"spmsId"`
	IsAPIError         bool           `json:"isApiError"`
	APIErrors          []string       `json:"apiErrors"`
	FileName           string         `json:"fileName"`
	FileApnProcessedDT string         `json:"fileApnProcessedDT"`
	InboundAPIResults  []resultRecord `json:"inboundApiResults"`
}

// resultRecord is one element of inboundApiResults. Lead results use
// partnerCrmUniqueIdentifier too (samples/lead-result-*.json). ACE writes null, not [],
// for no errors or warnings, so nil slices are kept nil.
type resultRecord struct {
	PartnerID *string  `json:"partnerCrmUniqueIdentifier"`
	ACEID     *string  `json:"apnCrmUniqueIdentifier"`
	IsSuccess bool     `json:"isSuccess"`
	Errors    []string `json:"errors"`
	Warnings  []string `json:"warnings"`
}

// Values of success. ACE's samples show ALL and NONE; PARTIAL is the simulator's word for
// a mixed file, which ACE documents only as "each record gets its own status".
const (
	successAll     = "ALL"
	successNone    = "NONE"
	successPartial = "PARTIAL"
)

func (r *resultFile) summary() string {
	if r.IsAPIError {
		return "rejected whole: " + strings.Join(r.APIErrors, "; ")
	}
	ok := 0
	for _, rr := range r.InboundAPIResults {
		if rr.IsSuccess {
			ok++
		}
	}
	return fmt.Sprintf("%s (%d of %d records accepted)", r.Success, ok, len(r.InboundAPIResults))
}

// nullable returns nil for "", so that a missing id is written as null as ACE does.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// staging holds the records a file changes until its result is written: a file whose
// result cannot be written is retried whole, so it must not have changed anything.
type staging struct {
	records  map[string]*Record // working copies, by ACE id
	accepted []string           // referrals accepted by this file
}

func (s *Sim) lookup(st *staging, aceID string) *Record {
	if r, ok := st.records[aceID]; ok {
		return r
	}
	r, ok := s.records[aceID]
	if !ok {
		return nil
	}
	c := r.clone()
	st.records[aceID] = &c
	return &c
}

// commit applies a file's changes and returns the referrals it accepted.
func (s *Sim) commit(st *staging) []string {
	maps.Copy(s.records, st.records)
	return st.accepted
}

// evaluate answers the inbound file key of object o. A problem with the file as a whole
// rejects it whole (isApiError, no records); otherwise each record is answered on its own
// (README, Files).
func (s *Sim) evaluate(o ace.Object, key string, body []byte) (*resultFile, *staging) {
	st := &staging{records: make(map[string]*Record)}
	res := &resultFile{
		SpmsID:             nullable(s.opts.SpmsID),
		FileName:           key,
		FileApnProcessedDT: aceTime(s.now()),
		InboundAPIResults:  []resultRecord{},
	}
	reject := func(format string, args ...any) (*resultFile, *staging) {
		res.Success, res.IsAPIError = successNone, true
		res.APIErrors = []string{fmt.Sprintf(format, args...)}
		res.InboundAPIResults = []resultRecord{}
		return res, &staging{records: map[string]*Record{}}
	}

	if len(body) > ace.MaxInboundFileBytes {
		return reject("File size exceeds the 1 MB limit for inbound files")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return reject("Invalid file: the top level must be a JSON object, not a JSON %s", typ.Value)
		}
		return reject("Invalid JSON: %v", err)
	}
	if top == nil {
		return reject("Invalid file: the top level must be a JSON object, not null")
	}
	if spms, ok := stringField(top, "spmsId"); ok && spms != "" {
		if s.opts.SpmsID != "" && spms != s.opts.SpmsID {
			return reject("spmsId %q does not match this bucket's partner %q", spms, s.opts.SpmsID)
		}
		res.SpmsID = nullable(spms)
		s.lastSpms = spms
	}
	if problem := checkVersion(top); problem != "" {
		return reject("%s", problem)
	}
	elems, problem := recordsOf(o, top)
	if problem != "" {
		return reject("%s", problem)
	}
	switch {
	case len(elems) == 0:
		return reject("File contains no records")
	case len(elems) > ace.MaxInboundRecords:
		return reject("File contains %d records; at most %d records are accepted per file", len(elems), ace.MaxInboundRecords)
	}

	ok := 0
	for _, raw := range elems {
		rr := s.evaluateRecord(st, o, raw)
		if rr.IsSuccess {
			ok++
		}
		res.InboundAPIResults = append(res.InboundAPIResults, rr)
	}
	switch ok {
	case len(elems):
		res.Success = successAll
	case 0:
		res.Success = successNone
	default:
		res.Success = successPartial
	}
	return res, st
}

// checkVersion requires the envelope's version, "1.x" or "2.x" as a string or number
// (README, Files: 1.x follows field definitions v13, 2.x v14 and later). It returns the
// apiErrors message, or "" when the version is fine.
func checkVersion(top map[string]json.RawMessage) string {
	raw, ok := top["version"]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return `Invalid file: version is missing; send "2.0" (or "1.0")`
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return `Invalid file: version must be a string such as "2.0"`
		}
		v = n.String()
	}
	major, _, _ := strings.Cut(strings.TrimSpace(v), ".")
	if n, err := strconv.Atoi(major); err != nil || (n != 1 && n != 2) {
		return fmt.Sprintf(`Invalid file: unsupported version %q; send "2.0" (or "1.0")`, v)
	}
	return ""
}

// recordsOf returns the records array of an inbound file: "opportunities", or "leads" /
// "Leads" (AWS's own lead inbound sample uses "Leads"; README, Quirks). problem is the
// apiErrors message when there is no usable array.
func recordsOf(o ace.Object, top map[string]json.RawMessage) (elems []json.RawMessage, problem string) {
	names := []string{"opportunities"}
	if o == ace.ObjectLead {
		names = []string{"leads", "Leads"}
	}
	var found string
	for _, n := range names {
		if _, ok := top[n]; ok {
			if found != "" {
				return nil, fmt.Sprintf("Invalid file: both %q and %q present", found, n)
			}
			found = n
		}
	}
	if found == "" {
		return nil, fmt.Sprintf("Invalid file: no %q array in a %s file", names[0], o)
	}
	if err := json.Unmarshal(top[found], &elems); err != nil || elems == nil {
		return nil, fmt.Sprintf("Invalid file: %q must be an array of records", found)
	}
	return elems, ""
}

// partnerIDKey is the key of the partner's CRM id on records of o (README, Identity).
func partnerIDKey(o ace.Object) string {
	if o == ace.ObjectLead {
		return "partnerCrmLeadId"
	}
	return "partnerCrmUniqueIdentifier"
}

// acceptanceKey is the field by which the partner accepts an AWS referral of o:
// partnerAcceptanceStatus on opportunities, currentLeadStage on leads (fields/).
func acceptanceKey(o ace.Object) string {
	if o == ace.ObjectLead {
		return "currentLeadStage"
	}
	return "partnerAcceptanceStatus"
}

const aceIDKey = "apnCrmUniqueIdentifier"

// objectName is how ACE's messages name the object ("Opportunity", "Lead").
func objectName(o ace.Object) string {
	if o == ace.ObjectLead {
		return "Lead"
	}
	return "Opportunity"
}

// stringField reads a string member; ok is false when absent, null or not a string.
func stringField(fields map[string]json.RawMessage, key string) (string, bool) {
	raw, present := fields[key]
	if !present {
		return "", false
	}
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil || s == nil {
		return "", false
	}
	return strings.TrimSpace(*s), true
}

// evaluateRecord answers one inbound record, staging its effect in st.
func (s *Sim) evaluateRecord(st *staging, o ace.Object, raw json.RawMessage) resultRecord {
	fields, err := ace.Fields(raw)
	if err != nil {
		return resultRecord{Errors: []string{"Invalid record: " + err.Error()}}
	}
	partnerID, _ := stringField(fields, partnerIDKey(o))
	aceID, _ := stringField(fields, aceIDKey)
	rr := resultRecord{PartnerID: nullable(partnerID), ACEID: nullable(aceID)}
	fail := func(msgs ...string) resultRecord {
		rr.Errors = msgs
		return rr
	}
	for _, k := range []string{partnerIDKey(o), aceIDKey} {
		if raw, ok := fields[k]; ok {
			if _, isStr := stringField(fields, k); !isStr && string(bytes.TrimSpace(raw)) != "null" {
				return fail(fmt.Sprintf("%s must be a string", k))
			}
		}
	}

	if aceID == "" {
		if o == ace.ObjectLead {
			// Leads-Fields.csv: apnCrmUniqueIdentifier is mandatory on inbound; the lead
			// inbound folder takes updates of leads AWS shared, not new leads.
			return fail("apnCrmUniqueIdentifier is mandatory: leads can only be updated, not created, through lead-inbound")
		}
		if msgs := s.validate(o, raw, nil); len(msgs) > 0 {
			return fail(msgs...)
		}
		// A create with a partner id ACE already knows makes a second record: ACE matches
		// inbound records by its own id only (README, Identity).
		rec := s.create(st, o, partnerID, fields)
		rr.ACEID = nullable(rec.ACEID)
		rr.IsSuccess = true
		return rr
	}

	rec := s.lookup(st, aceID)
	if rec == nil || rec.Object != o {
		return fail(fmt.Sprintf("%s not found for apnCrmUniqueIdentifier: %s", objectName(o), aceID))
	}
	if msgs := s.validate(o, raw, rec); len(msgs) > 0 {
		return fail(msgs...)
	}
	if !s.update(rec, partnerID, fields) {
		return fail(msgNoUpdate)
	}
	if rec.Referral && !rec.Accepted {
		if v, _ := stringField(fields, acceptanceKey(o)); v == "Accepted" {
			rec.Accepted = true
			st.accepted = append(st.accepted, rec.ACEID)
		}
	}
	rr.IsSuccess = true
	return rr
}

// create stages a new partner-created record.
func (s *Sim) create(st *staging, o ace.Object, partnerID string, fields map[string]json.RawMessage) *Record {
	id := s.newID(o)
	for st.records[id] != nil {
		id = s.newID(o)
	}
	rec := &Record{Object: o, ACEID: id, PartnerID: partnerID, Fields: withoutIDs(o, fields)}
	now := rawString(aceTime(s.now()))
	rec.Fields["createdDate"] = now
	rec.Fields["lastModifiedDate"] = now
	// What ACE sets on a partner's new opportunity: ownership, and the approval status it
	// starts in (Opportunity_-_StandardValues.csv, status). AWS approves it later; see
	// EmitOutbound.
	rec.Fields["opportunityOwnership"] = rawString("Partner Referral")
	rec.Fields["status"] = rawString("Submitted")
	st.records[id] = rec
	return rec
}

// update merges an inbound update into rec and reports whether anything changed. null
// clears a field (README, Quirks). A masked placeholder sent back for a field AWS has not
// revealed is ignored rather than stored over the real value.
func (s *Sim) update(rec *Record, partnerID string, fields map[string]json.RawMessage) bool {
	changed := false
	if partnerID != "" && partnerID != rec.PartnerID {
		rec.PartnerID = partnerID
		changed = true
	}
	masked := rec.Referral && !rec.Accepted
	for k, v := range withoutIDs(rec.Object, fields) {
		if masked && isMaskedField(rec.Object, k) && isMaskedValue(v) {
			continue
		}
		if old, ok := rec.Fields[k]; ok && sameJSON(old, v) {
			continue
		}
		if _, ok := rec.Fields[k]; !ok && string(bytes.TrimSpace(v)) == "null" {
			continue // clearing an absent field changes nothing
		}
		rec.Fields[k] = v
		changed = true
	}
	if changed {
		rec.Fields["lastModifiedDate"] = rawString(aceTime(s.now()))
	}
	return changed
}

// withoutIDs copies fields without the two ids, which Record keeps apart.
func withoutIDs(o ace.Object, fields map[string]json.RawMessage) map[string]json.RawMessage {
	out := maps.Clone(fields)
	if out == nil {
		out = make(map[string]json.RawMessage)
	}
	delete(out, aceIDKey)
	delete(out, partnerIDKey(o))
	return out
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

func rawString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
