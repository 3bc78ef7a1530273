// Package sfcontract is a fake Salesforce REST API for contract tests: an in-memory org
// that speaks the documented request and response shapes the connector uses — the OAuth
// token endpoint (JWT bearer flow, with the assertion's RS256 signature, iss, sub, aud and
// exp checked; refresh-token flow), SOQL queries with nextRecordsUrl paging (the subset of
// SOQL the connector sends), sObject Collections upsert by external id and update by Id
// with per-record results, single-record PATCH, and Composite calls carrying those as
// subrequests. Tests can expire sessions (INVALID_SESSION_ID), answer with 429 or
// REQUEST_LIMIT_EXCEEDED and Retry-After, refuse chosen records, and send malformed bodies.
//
// It is not Salesforce: it has no schema (any field name is accepted unless declared
// restricted), no triggers or validation rules, and SystemModstamp comes from the test's clock.
package sfcontract

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sfTime is how Salesforce writes datetimes: "2026-01-31T10:00:00.000+0000".
const sfTime = "2006-01-02T15:04:05.000-0700"

// Failure is a canned error answer.
type Failure struct {
	Status     int    // HTTP status, e.g. 429 or 403
	Code       string // errorCode, e.g. REQUEST_LIMIT_EXCEEDED
	Message    string
	RetryAfter int // seconds; 0: no Retry-After header
}

// RecordFailure is a per-record refusal in an sObject Collections answer.
type RecordFailure struct {
	Code    string // statusCode, e.g. FIELD_CUSTOM_VALIDATION_EXCEPTION
	Message string
	Fields  []string
}

// Server is the fake org. Configure its exported fields before use; the methods are safe
// for concurrent use.
type Server struct {
	URL       string // base URL: login URL, JWT audience and instance URL
	ClientID  string
	Username  string         // the integration user (JWT sub)
	UserID    string         // the integration user's id
	PublicKey *rsa.PublicKey // verifies JWT assertions; nil disables the JWT flow
	// RefreshToken is the refresh token the refresh-token flow accepts ("" disables it).
	RefreshToken string
	// Delay, when set, holds a request back for the duration it returns before serving it
	// (outside the server's lock, so other requests go on): a slow write, as a busy org's
	// row locks or a long network path make one.
	Delay func(method, path string, body []byte) time.Duration
	// SessionCalls expires every access token after this many API calls (0: never).
	SessionCalls int
	// PageSize is the most records one query page holds (default 2000, as Salesforce).
	PageSize int
	// Now is the org's clock for SystemModstamp (default time.Now).
	Now func() time.Time

	srv *httptest.Server

	mu         sync.Mutex
	records    map[string]map[string]map[string]any // object → Id → fields
	seq        int
	tokens     map[string]int // access token → API calls made with it
	cursors    map[string][]map[string]any
	failNext   []Failure
	malformed  int
	refuse     map[string]RecordFailure // by external id value
	restricted map[string][]string      // "Object.Field" → allowed values
	tokenCalls int
	apiCalls   int
	requests   []string
}

// New starts a fake org on a loopback port. Close it when done.
func New() *Server {
	s := &Server{
		ClientID: "3MVG9-test-client", Username: "integration@example.com", UserID: "005000000000001AAA",
		records: map[string]map[string]map[string]any{}, tokens: map[string]int{}, cursors: map[string][]map[string]any{},
		refuse: map[string]RecordFailure{}, restricted: map[string][]string{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// FailNext makes the next n API calls (not token requests) answer with f.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, f)
	}
}

// MalformedNext makes the next n API calls answer 200 with a body that is not JSON.
func (s *Server) MalformedNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.malformed += n
}

// Refuse makes upserts of the record whose external id is extID fail with f.
func (s *Server) Refuse(extID string, f RecordFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse[extID] = f
}

// Restrict declares object.field a restricted picklist with the given values: other values
// are refused with INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, as Salesforce does.
func (s *Server) Restrict(object, field string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restricted[object+"."+field] = values
}

// ExpireSessions invalidates every access token issued so far.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]int{}
}

// Counts returns the token requests and API calls served so far.
func (s *Server) Counts() (tokenCalls, apiCalls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCalls, s.apiCalls
}

// Requests returns "METHOD path" of every API call so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Records returns a copy of object's records, by Id.
func (s *Server) Records(object string) map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]any{}
	for id, r := range s.records[object] {
		out[id] = clone(r)
	}
	return out
}

// Find returns a copy of the object's record whose field equals value, or nil.
func (s *Server) Find(object, field, value string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.records[object] {
		if v, _ := r[field].(string); v == value {
			return clone(r)
		}
	}
	return nil
}

// Edit changes a record as a person (byUserID, not the integration user) would in the UI,
// or creates one when id is "". It returns the record's Id.
func (s *Server) Edit(object, id, byUserID string, fields map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.records[object][id]
	if r == nil {
		id = s.newID(object)
		r = map[string]any{"Id": id}
		if s.records[object] == nil {
			s.records[object] = map[string]map[string]any{}
		}
		s.records[object][id] = r
	}
	for k, v := range fields {
		r[k] = v
	}
	s.touch(r, byUserID)
	return id
}

// Delete removes a record, as a person deleting it in Salesforce would: a later PATCH of
// its Id answers 404 NOT_FOUND, and no query finds it.
func (s *Server) Delete(object, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records[object], id)
}

func clone(r map[string]any) map[string]any {
	c := make(map[string]any, len(r))
	for k, v := range r {
		c[k] = v
	}
	return c
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) touch(r map[string]any, user string) {
	r["SystemModstamp"] = s.now().UTC().Format(sfTime)
	r["LastModifiedById"] = user
}

func (s *Server) newID(object string) string {
	s.seq++
	prefix := "a0X"
	switch object {
	case "Opportunity":
		prefix = "006"
	case "Lead":
		prefix = "00Q"
	}
	return fmt.Sprintf("%s%015d", prefix, s.seq)
}

// errorBody is Salesforce's error answer: [{"message","errorCode","fields"}].
func errorBody(code, msg string, fields ...string) []map[string]any {
	e := map[string]any{"message": msg, "errorCode": code}
	if len(fields) > 0 {
		e["fields"] = fields
	}
	return []map[string]any{e}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/services/oauth2/token" {
		s.token(w, r)
		return
	}
	if s.Delay != nil && r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if d := s.Delay(r.Method, r.URL.Path, body); d > 0 {
			time.Sleep(d)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiCalls++
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/15000", s.apiCalls))
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	n, ok := s.tokens[tok]
	if !ok || (s.SessionCalls > 0 && n >= s.SessionCalls) {
		writeJSON(w, http.StatusUnauthorized, errorBody("INVALID_SESSION_ID", "Session expired or invalid"))
		return
	}
	s.tokens[tok] = n + 1
	if len(s.failNext) > 0 {
		f := s.failNext[0]
		s.failNext = s.failNext[1:]
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		writeJSON(w, f.Status, errorBody(f.Code, f.Message))
		return
	}
	if s.malformed > 0 {
		s.malformed--
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "<html><body>Service temporarily unavailable</body>")
		return
	}
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	status, out := s.route(r.Method, r.URL.RequestURI(), body)
	if out == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, out)
}

var (
	reQuery      = regexp.MustCompile(`^/services/data/v\d+\.\d/query$`)
	reCursor     = regexp.MustCompile(`^/services/data/v\d+\.\d/query/([\w-]+)$`)
	reComposite  = regexp.MustCompile(`^/services/data/v\d+\.\d/composite$`)
	reCollection = regexp.MustCompile(`^/services/data/v\d+\.\d/composite/sobjects$`)
	reUpsert     = regexp.MustCompile(`^/services/data/v\d+\.\d/composite/sobjects/(\w+)/(\w+)$`)
	reSObject    = regexp.MustCompile(`^/services/data/v\d+\.\d/sobjects/(\w+)/(\w+)$`)
)

// route serves one API request (top level or a Composite subrequest); s.mu is held. A nil
// answer means no body.
func (s *Server) route(method, requestURI string, body []byte) (int, any) {
	u, err := url.Parse(requestURI)
	if err != nil {
		return http.StatusBadRequest, errorBody("MALFORMED_QUERY", err.Error())
	}
	p := u.Path
	switch {
	case method == http.MethodGet && reQuery.MatchString(p):
		return s.query(u.Query().Get("q"))
	case method == http.MethodGet && reCursor.MatchString(p):
		return s.page(reCursor.FindStringSubmatch(p)[1])
	case method == http.MethodPost && reComposite.MatchString(p):
		return s.composite(body)
	case method == http.MethodPatch && reCollection.MatchString(p):
		return s.collection(body, "", "")
	case method == http.MethodPatch && reUpsert.MatchString(p):
		m := reUpsert.FindStringSubmatch(p)
		return s.collection(body, m[1], m[2])
	case method == http.MethodPatch && reSObject.MatchString(p):
		m := reSObject.FindStringSubmatch(p)
		return s.patchOne(m[1], m[2], body)
	}
	return http.StatusNotFound, errorBody("NOT_FOUND", "The requested resource does not exist")
}

func (s *Server) query(soql string) (int, any) {
	q, err := parseSOQL(soql)
	if err != nil {
		return http.StatusBadRequest, errorBody("MALFORMED_QUERY", err.Error())
	}
	var rows []map[string]any
	for _, r := range s.records[q.object] {
		if q.match(r) {
			rows = append(rows, r)
		}
	}
	q.sort(rows)
	if q.limit > 0 && len(rows) > q.limit {
		rows = rows[:q.limit]
	}
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		o := map[string]any{"attributes": map[string]any{"type": q.object, "url": "/services/data/v61.0/sobjects/" + q.object + "/" + r["Id"].(string)}}
		for _, f := range q.fields {
			o[f] = r[f] // absent fields come back as null, as in Salesforce
		}
		out[i] = o
	}
	s.seq++
	cursor := fmt.Sprintf("01gCURSOR%d", s.seq)
	s.cursors[cursor] = out
	return s.pageFrom(cursor, 0, len(out))
}

func (s *Server) pageSize() int {
	if s.PageSize > 0 {
		return s.PageSize
	}
	return 2000
}

func (s *Server) page(ref string) (int, any) {
	cursor, offset, ok := strings.Cut(ref, "-")
	n, err := strconv.Atoi(offset)
	rows, found := s.cursors[cursor]
	if !ok || err != nil || !found {
		return http.StatusBadRequest, errorBody("INVALID_QUERY_LOCATOR", "invalid query locator")
	}
	return s.pageFrom(cursor, n, len(rows))
}

func (s *Server) pageFrom(cursor string, offset, total int) (int, any) {
	rows := s.cursors[cursor]
	end := min(offset+s.pageSize(), total)
	res := map[string]any{"totalSize": total, "done": end >= total, "records": rows[offset:end]}
	if end < total {
		res["nextRecordsUrl"] = fmt.Sprintf("/services/data/v61.0/query/%s-%d", cursor, end)
	}
	return http.StatusOK, res
}

func (s *Server) composite(body []byte) (int, any) {
	var req struct {
		AllOrNone        bool `json:"allOrNone"`
		CompositeRequest []struct {
			Method      string          `json:"method"`
			URL         string          `json:"url"`
			ReferenceID string          `json:"referenceId"`
			Body        json.RawMessage `json:"body"`
		} `json:"compositeRequest"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, errorBody("JSON_PARSER_ERROR", err.Error())
	}
	if len(req.CompositeRequest) > 25 {
		return http.StatusBadRequest, errorBody("LIMIT_EXCEEDED", "Limit exceeded: at most 25 subrequests")
	}
	heavy := 0
	for _, sr := range req.CompositeRequest {
		if strings.Contains(sr.URL, "/query") || strings.Contains(sr.URL, "/composite/sobjects") {
			heavy++
		}
	}
	if heavy > 5 {
		return http.StatusBadRequest, errorBody("LIMIT_EXCEEDED", "Limit exceeded: at most 5 sObject Collections or query subrequests")
	}
	var out []map[string]any
	for _, sr := range req.CompositeRequest {
		status, res := s.route(sr.Method, sr.URL, sr.Body)
		out = append(out, map[string]any{"body": res, "httpHeaders": map[string]string{}, "httpStatusCode": status, "referenceId": sr.ReferenceID})
	}
	return http.StatusOK, map[string]any{"compositeResponse": out}
}

// collection serves sObject Collections: upsert by extField (object and extField set) or
// update by Id (both empty).
func (s *Server) collection(body []byte, object, extField string) (int, any) {
	var req struct {
		AllOrNone bool             `json:"allOrNone"`
		Records   []map[string]any `json:"records"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, errorBody("JSON_PARSER_ERROR", err.Error())
	}
	if len(req.Records) > 200 {
		return http.StatusBadRequest, errorBody("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
	}
	var byExt map[string]map[string]any // built once per call: records by external id
	if extField != "" {
		byExt = map[string]map[string]any{}
		for _, r := range s.records[object] {
			if v, ok := r[extField].(string); ok && v != "" {
				byExt[v] = r
			}
		}
	}
	var results []map[string]any
	for _, rec := range req.Records {
		attrs, _ := rec["attributes"].(map[string]any)
		typ, _ := attrs["type"].(string)
		fail := func(code, msg string, fields ...string) {
			if fields == nil {
				fields = []string{}
			}
			results = append(results, map[string]any{"success": false, "created": false, "id": nil,
				"errors": []map[string]any{{"statusCode": code, "message": msg, "fields": fields}}})
		}
		if typ == "" || (object != "" && typ != object) {
			fail("INVALID_TYPE", "record type does not match the URL or is missing")
			continue
		}
		var target map[string]any
		if extField != "" {
			v, _ := rec[extField].(string)
			if v == "" {
				fail("MISSING_ARGUMENT", extField+" not specified", extField)
				continue
			}
			if f, ok := s.refuse[v]; ok {
				fail(f.Code, f.Message, f.Fields...)
				continue
			}
			target = byExt[v]
		} else {
			id, _ := rec["Id"].(string)
			if target = s.records[typ][id]; target == nil {
				fail("ENTITY_IS_DELETED", "entity is deleted", "Id")
				continue
			}
		}
		if msg, field := s.checkRestricted(typ, rec); msg != "" {
			fail("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", msg, field)
			continue
		}
		created := target == nil
		if created {
			if s.records[typ] == nil {
				s.records[typ] = map[string]map[string]any{}
			}
			target = map[string]any{"Id": s.newID(typ)}
			s.records[typ][target["Id"].(string)] = target
		}
		for k, v := range rec {
			if k != "attributes" && k != "Id" {
				target[k] = v
			}
		}
		if byExt != nil {
			byExt[target[extField].(string)] = target
		}
		s.touch(target, s.UserID)
		results = append(results, map[string]any{"id": target["Id"], "success": true, "errors": []any{}, "created": created})
	}
	return http.StatusOK, results
}

func (s *Server) checkRestricted(object string, rec map[string]any) (msg, field string) {
	for k, v := range rec {
		allowed, ok := s.restricted[object+"."+k]
		if !ok || v == nil {
			continue
		}
		if sv, _ := v.(string); !slices.Contains(allowed, sv) {
			return "bad value for restricted picklist field: " + sv, k
		}
	}
	return "", ""
}

func (s *Server) patchOne(object, id string, body []byte) (int, any) {
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		return http.StatusBadRequest, errorBody("JSON_PARSER_ERROR", err.Error())
	}
	r := s.records[object][id]
	if r == nil {
		return http.StatusNotFound, errorBody("NOT_FOUND", "The requested resource does not exist")
	}
	for k, v := range fields {
		r[k] = v
	}
	s.touch(r, s.UserID)
	return http.StatusNoContent, nil
}

// token serves /services/oauth2/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenCalls++
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	deny := func(code, msg string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": msg})
	}
	switch r.PostForm.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if err := s.checkJWT(r.PostForm.Get("assertion")); err != nil {
			deny("invalid_grant", err.Error())
			return
		}
	case "refresh_token":
		if s.RefreshToken == "" || r.PostForm.Get("refresh_token") != s.RefreshToken {
			deny("invalid_grant", "expired access/refresh token")
			return
		}
		if r.PostForm.Get("client_id") != s.ClientID {
			deny("invalid_client_id", "client identifier invalid")
			return
		}
	default:
		deny("unsupported_grant_type", "grant type not supported")
		return
	}
	s.seq++
	tok := fmt.Sprintf("00D000000000001!token%d", s.seq)
	s.tokens[tok] = 0
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok, "instance_url": s.URL, "token_type": "Bearer",
		"id":        s.URL + "/id/00D000000000001EAA/" + s.UserID,
		"issued_at": strconv.FormatInt(s.now().UnixMilli(), 10),
	})
}

// checkJWT verifies a JWT bearer assertion as Salesforce does: RS256 signature by the
// connected app's certificate, iss the client id, sub the user, aud the login URL, exp in
// the future.
func (s *Server) checkJWT(assertion string) error {
	if s.PublicKey == nil {
		return fmt.Errorf("JWT bearer flow not enabled")
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return fmt.Errorf("invalid assertion")
	}
	enc := base64.RawURLEncoding
	var header struct {
		Alg string `json:"alg"`
	}
	hb, err := enc.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &header) != nil || header.Alg != "RS256" {
		return fmt.Errorf("invalid assertion header")
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("invalid signature encoding")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(s.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("invalid assertion signature")
	}
	cb, err := enc.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("invalid claims encoding")
	}
	var c struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(cb, &c); err != nil {
		return fmt.Errorf("invalid claims")
	}
	now := s.now().Unix()
	switch {
	case c.Iss != s.ClientID:
		return fmt.Errorf("invalid client id (iss)")
	case c.Sub != s.Username:
		return fmt.Errorf("user hasn't approved this consumer (sub %q)", c.Sub)
	case c.Aud != s.URL:
		return fmt.Errorf("audience is invalid (aud %q)", c.Aud)
	case c.Exp <= now:
		return fmt.Errorf("expired assertion")
	case c.Exp > now+300:
		return fmt.Errorf("assertion expiry too far in the future")
	}
	return nil
}
