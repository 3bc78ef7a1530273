// Package hscontract is a fake HubSpot CRM v3 API for contract tests: an in-memory CRM
// behind the documented request and response shapes of the endpoints OppSync uses —
// objects' batch/upsert (200, or 207 with per-input errors), batch/read (by record id or a
// unique property), batch/update, search (filter groups, sorts, "after" paging, the
// 10,000-result cap), list, the OAuth token endpoint (grant_type=refresh_token) and
// bearer-token authentication (401 for an unknown or expired token, 403 MISSING_SCOPES for
// a read-only token), the ten-secondly rate limit (429 with HubSpot's headers) and
// injected faults (5xx, 429 with Retry-After, malformed bodies).
//
// It is a test helper, not a HubSpot emulator: it knows the properties it is told about
// (unique ones, enumerations with their options) and accepts any other property.
package hscontract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the fake HubSpot. Create it with New; its exported fields may be set before
// the first request.
type Server struct {
	*httptest.Server

	mu      sync.Mutex
	objects map[string]*objectStore // by object type: deals, contacts, leads
	tokens  map[string]*token
	clients map[string]*oauthClient
	faults  []*Fault
	calls   map[string]int
	total   int
	nextID  int64
	lastMS  int64
	issued  int
	window  []time.Time

	// Now is the server's clock (time.Now by default).
	Now func() time.Time
	// RateLimit, when > 0, answers 429 once RateLimit requests were made within
	// RateWindow (HubSpot's ten-secondly rolling limit).
	RateLimit  int
	RateWindow time.Duration
	// TokenTTL is the lifetime of OAuth access tokens (HubSpot: 30 minutes).
	TokenTTL time.Duration
	// Delay, when set, holds a request back for the duration it returns before serving it
	// (outside the server's lock, so other requests go on): a slow write.
	Delay func(method, path string, body []byte) time.Duration
	// AllowTies stamps writes with Now's millisecond even when an earlier write had it, as
	// HubSpot does; otherwise stamps are made strictly increasing.
	AllowTies bool
	// WholeBatch400 makes batch writes refuse the whole batch with a 400 when any input is
	// invalid, as HubSpot does for some validation errors, instead of a 207.
	WholeBatch400 bool
}

type objectStore struct {
	records map[string]*Record
	unique  map[string]bool
	enums   map[string][]string
	index   map[string]map[string]*Record // unique property → value → record
}

// Record is one stored CRM record.
type Record struct {
	ID         string
	Properties map[string]string
	Created    time.Time
	Updated    time.Time
}

type token struct {
	expires  time.Time // zero: never (a private-app token)
	readOnly bool
}

type oauthClient struct {
	secret, refresh string
}

// Fault is an injected answer: the next Times requests whose method and path match get
// Status, Header and Body instead of being served.
type Fault struct {
	Method string // empty: any
	// Path matches when the request path ends with it, e.g. "/batch/upsert".
	Path   string
	Times  int
	Status int
	Header http.Header
	Body   string
}

// New starts a fake HubSpot with the object types deals, contacts and leads. Stop it with
// Close.
func New() *Server {
	s := &Server{
		objects:    map[string]*objectStore{},
		tokens:     map[string]*token{},
		clients:    map[string]*oauthClient{},
		calls:      map[string]int{},
		Now:        time.Now,
		RateWindow: 10 * time.Second,
		TokenTTL:   30 * time.Minute,
		nextID:     1000,
	}
	for _, t := range []string{"deals", "contacts", "leads"} {
		s.objects[t] = &objectStore{records: map[string]*Record{}, unique: map[string]bool{}, enums: map[string][]string{},
			index: map[string]map[string]*Record{}}
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Unique declares a property with unique values ("Has unique values" in HubSpot's
// property settings): the only kind batch/upsert and batch/read accept as idProperty.
func (s *Server) Unique(objectType, property string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	os := s.objects[objectType]
	os.unique[property] = true
	os.index[property] = map[string]*Record{}
	for _, r := range os.records {
		if v := r.Properties[property]; v != "" {
			os.index[property][v] = r
		}
	}
}

// Enumeration declares a property whose values must be one of options.
func (s *Server) Enumeration(objectType, property string, options ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[objectType].enums[property] = options
}

// AddToken accepts a private-app token; readOnly tokens lack the write scopes.
func (s *Server) AddToken(tok string, readOnly bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = &token{readOnly: readOnly}
}

// RevokeToken makes tok fail with 401, as a rotated private-app token does.
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, tok)
}

// AddOAuthClient registers an OAuth app with its secret and one refresh token.
func (s *Server) AddOAuthClient(id, secret, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = &oauthClient{secret: secret, refresh: refresh}
}

// ExpireTokens makes every OAuth access token issued so far expired.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if !t.expires.IsZero() {
			t.expires = s.Now().Add(-time.Second)
		}
	}
}

// TokensIssued is how many access tokens the OAuth endpoint issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// Calls returns how many requests were made to "METHOD /path" (path without query).
func (s *Server) Calls(methodPath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[methodPath]
}

// TotalCalls is every request made, the token endpoint included.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetCalls zeroes the call counters.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.total = map[string]int{}, 0
}

// Create adds a record as a user would in HubSpot's interface and returns its id.
func (s *Server) Create(objectType string, props map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	os := s.objects[objectType]
	r := s.newRecordLocked(os)
	s.applyLocked(os, r, props)
	return r.ID
}

// Edit changes a record's properties as a user would in HubSpot's interface.
func (s *Server) Edit(objectType, id string, props map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	os := s.objects[objectType]
	r := os.records[id]
	if r == nil {
		return fmt.Errorf("no %s %s", objectType, id)
	}
	s.applyLocked(os, r, props)
	return nil
}

// Delete removes a record, as a person deleting it in HubSpot would (to the recycle bin):
// batch/read no longer returns it, batch/update refuses it and search does not find it.
func (s *Server) Delete(objectType, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects[objectType].records, id)
}

// Get returns a copy of a record, or nil.
func (s *Server) Get(objectType, id string) *Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.objects[objectType].records[id]
	if r == nil {
		return nil
	}
	c := *r
	c.Properties = maps(r.Properties)
	return &c
}

// Find returns a copy of the record whose property has value, or nil.
func (s *Server) Find(objectType, property, value string) *Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.findLocked(s.objects[objectType], property, value); r != nil {
		c := *r
		c.Properties = maps(r.Properties)
		return &c
	}
	return nil
}

// Records returns copies of every record of an object type, by record id.
func (s *Server) Records(objectType string) map[string]*Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*Record{}
	for id, r := range s.objects[objectType].records {
		c := *r
		c.Properties = maps(r.Properties)
		out[id] = &c
	}
	return out
}

// Count is the number of records of an object type.
func (s *Server) Count(objectType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.objects[objectType].records)
}

func maps(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// stamp returns the next modification time in epoch milliseconds, strictly increasing.
func (s *Server) stampLocked() int64 {
	ms := s.Now().UnixMilli()
	if ms <= s.lastMS && !s.AllowTies {
		ms = s.lastMS + 1
	}
	s.lastMS = ms
	return ms
}

func (s *Server) newRecordLocked(os *objectStore) *Record {
	s.nextID++
	id := strconv.FormatInt(s.nextID, 10)
	ms := s.stampLocked()
	r := &Record{ID: id, Properties: map[string]string{"hs_object_id": id, "createdate": iso(ms)}, Created: time.UnixMilli(ms)}
	os.records[id] = r
	return r
}

// applyLocked writes props ("" clears) and stamps the record as HubSpot does on every
// write: hs_lastmodifieddate (deals, leads) and lastmodifieddate (contacts).
func (s *Server) applyLocked(os *objectStore, r *Record, props map[string]string) {
	for k, v := range props {
		if idx := os.index[k]; idx != nil {
			if old := r.Properties[k]; old != "" {
				delete(idx, old)
			}
			if v != "" {
				idx[v] = r
			}
		}
		if v == "" {
			delete(r.Properties, k)
		} else {
			r.Properties[k] = v
		}
	}
	ms := s.stampLocked()
	r.Properties["hs_lastmodifieddate"] = iso(ms)
	r.Properties["lastmodifieddate"] = iso(ms)
	r.Updated = time.UnixMilli(ms)
}

func iso(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") }

func (s *Server) findLocked(os *objectStore, prop, value string) *Record {
	if prop == "" || prop == "hs_object_id" {
		return os.records[value]
	}
	if idx := os.index[prop]; idx != nil {
		return idx[value]
	}
	for _, r := range os.records {
		if r.Properties[prop] == value {
			return r
		}
	}
	return nil
}

// --- HTTP ---

type errBody struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId,omitempty"`
	Category      string              `json:"category"`
	Context       map[string][]string `json:"context,omitempty"`
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, status int, category, format string, a ...any) {
	s.writeJSON(w, status, errBody{Status: "error", Message: fmt.Sprintf(format, a...),
		CorrelationID: fmt.Sprintf("c0ffee00-%04d", s.total), Category: category})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.Delay != nil && r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if d := s.Delay(r.Method, r.URL.Path, body); d > 0 {
			time.Sleep(d)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.calls[r.Method+" "+r.URL.Path]++

	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasSuffix(r.URL.Path, f.Path) {
			f.Times--
			if f.Times <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			for k, v := range f.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(f.Body))
			return
		}
	}
	if r.URL.Path == "/oauth/v1/token" {
		s.serveToken(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/crm/v3/objects/") {
		s.fail(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "no route for %s %s", r.Method, r.URL.Path)
		return
	}
	tok, ok := s.authLocked(w, r)
	if !ok {
		return
	}
	if s.RateLimit > 0 {
		now := s.Now()
		keep := s.window[:0]
		for _, t := range s.window {
			if now.Sub(t) < s.RateWindow {
				keep = append(keep, t)
			}
		}
		s.window = keep
		if len(s.window) >= s.RateLimit {
			h := w.Header()
			h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(s.RateWindow.Milliseconds(), 10))
			h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(s.RateLimit))
			h.Set("X-HubSpot-RateLimit-Remaining", "0")
			s.writeJSON(w, http.StatusTooManyRequests, map[string]any{
				"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
				"errorType": "RATE_LIMIT", "correlationId": "c0ffee00-rl", "policyName": "TEN_SECONDLY_ROLLING",
				"category": "RATE_LIMITS"})
			return
		}
		s.window = append(s.window, now)
	}

	rest := strings.TrimPrefix(r.URL.Path, "/crm/v3/objects/")
	typ, op, _ := strings.Cut(rest, "/")
	os := s.objects[typ]
	if os == nil {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Unable to infer object type from: %s", typ)
		return
	}
	write := r.Method != http.MethodGet && op != "batch/read" && op != "search"
	if write && tok.readOnly {
		s.fail(w, http.StatusForbidden, "MISSING_SCOPES",
			"This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.")
		return
	}
	switch {
	case r.Method == http.MethodGet && op == "":
		s.serveList(w, r, os)
	case r.Method == http.MethodPost && op == "batch/read":
		s.serveBatchRead(w, r, os)
	case r.Method == http.MethodPost && (op == "batch/upsert" || op == "batch/update"):
		s.serveBatchWrite(w, r, os, op == "batch/upsert")
	case r.Method == http.MethodPost && op == "search":
		s.serveSearch(w, r, os)
	case r.Method == http.MethodPatch && op != "":
		s.servePatch(w, r, os, op)
	default:
		s.fail(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "no route for %s %s", r.Method, r.URL.Path)
	}
}

func (s *Server) authLocked(w http.ResponseWriter, r *http.Request) (*token, bool) {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	t := s.tokens[raw]
	if !ok || t == nil {
		s.fail(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION",
			"Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
		return nil, false
	}
	if !t.expires.IsZero() && !s.Now().Before(t.expires) {
		s.fail(w, http.StatusUnauthorized, "EXPIRED_AUTHENTICATION",
			"The OAuth token used to make this call expired %s ago.", s.Now().Sub(t.expires).Round(time.Second))
		return nil, false
	}
	return t, true
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.fail(w, http.StatusMethodNotAllowed, "VALIDATION_ERROR", "POST only")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "bad form: %v", err)
		return
	}
	c := s.clients[r.PostForm.Get("client_id")]
	switch {
	case r.PostForm.Get("grant_type") != "refresh_token":
		s.writeJSON(w, http.StatusBadRequest, map[string]string{"status": "BAD_GRANT_TYPE", "message": "grant_type must be refresh_token here"})
		return
	case c == nil || c.secret != r.PostForm.Get("client_secret"):
		s.writeJSON(w, http.StatusBadRequest, map[string]string{"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"})
		return
	case c.refresh != r.PostForm.Get("refresh_token"):
		s.writeJSON(w, http.StatusBadRequest, map[string]string{"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"})
		return
	}
	s.issued++
	at := fmt.Sprintf("oauth-access-%d", s.issued)
	s.tokens[at] = &token{expires: s.Now().Add(s.TokenTTL)}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "bearer", "refresh_token": c.refresh, "access_token": at, "expires_in": int(s.TokenTTL.Seconds()),
	})
}

type wireObject struct {
	ID         string             `json:"id"`
	Properties map[string]*string `json:"properties"`
	CreatedAt  string             `json:"createdAt"`
	UpdatedAt  string             `json:"updatedAt"`
	Archived   bool               `json:"archived"`
	New        *bool              `json:"new,omitempty"`
}

// wire renders r with the requested properties (null when unset) and HubSpot's defaults;
// nil props means every property.
func wire(r *Record, props []string) wireObject {
	o := wireObject{ID: r.ID, Properties: map[string]*string{},
		CreatedAt: r.Created.UTC().Format(time.RFC3339Nano), UpdatedAt: r.Updated.UTC().Format(time.RFC3339Nano)}
	add := func(p string) {
		if v, ok := r.Properties[p]; ok {
			o.Properties[p] = &v
		} else {
			o.Properties[p] = nil
		}
	}
	if props == nil {
		for k := range r.Properties {
			add(k)
		}
	}
	for _, p := range append([]string{"hs_object_id", "createdate", "hs_lastmodifieddate"}, props...) {
		add(p)
	}
	return o
}

func decode(w http.ResponseWriter, r *http.Request, s *Server, v any) bool {
	d := json.NewDecoder(r.Body)
	if err := d.Decode(v); err != nil {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Invalid input JSON on line 1: %v", err)
		return false
	}
	return true
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, os *objectStore) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	var props []string
	if p := r.URL.Query().Get("properties"); p != "" {
		props = strings.Split(p, ",")
	}
	ids := sortedIDs(os)
	var res []wireObject
	var next string
	for _, id := range ids {
		n, _ := strconv.ParseInt(id, 10, 64)
		if n <= after {
			continue
		}
		if len(res) == limit {
			next = strconv.FormatInt(n-1, 10)
			break
		}
		res = append(res, wire(os.records[id], props))
	}
	ans := map[string]any{"results": orEmpty(res)}
	if next != "" {
		ans["paging"] = map[string]any{"next": map[string]string{"after": next}}
	}
	s.writeJSON(w, http.StatusOK, ans)
}

func orEmpty(r []wireObject) []wireObject {
	if r == nil {
		return []wireObject{}
	}
	return r
}

func sortedIDs(os *objectStore) []string {
	ids := make([]string, 0, len(os.records))
	for id := range os.records {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, _ := strconv.ParseInt(ids[i], 10, 64)
		b, _ := strconv.ParseInt(ids[j], 10, 64)
		return a < b
	})
	return ids
}

func (s *Server) serveBatchRead(w http.ResponseWriter, r *http.Request, os *objectStore) {
	var req struct {
		IDProperty string `json:"idProperty"`
		Inputs     []struct {
			ID string `json:"id"`
		} `json:"inputs"`
		Properties []string `json:"properties"`
	}
	if !decode(w, r, s, &req) {
		return
	}
	if len(req.Inputs) > 100 {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Batch input limit exceeded: %d inputs, the limit is 100", len(req.Inputs))
		return
	}
	if req.IDProperty != "" && req.IDProperty != "hs_object_id" && !os.unique[req.IDProperty] {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Property %s is not a unique identifier property", req.IDProperty)
		return
	}
	results := []wireObject{}
	var missing []string
	for _, in := range req.Inputs {
		if rec := s.findLocked(os, req.IDProperty, in.ID); rec != nil {
			results = append(results, wire(rec, req.Properties))
		} else {
			missing = append(missing, in.ID)
		}
	}
	ans := map[string]any{"status": "COMPLETE", "results": results,
		"startedAt": iso(s.Now().UnixMilli()), "completedAt": iso(s.Now().UnixMilli())}
	if len(missing) > 0 {
		ans["numErrors"] = 1
		ans["errors"] = []errBody{{Status: "error", Category: "OBJECT_NOT_FOUND",
			Message: "Could not get some objects, they may be deleted or not exist.", Context: map[string][]string{"ids": missing}}}
		s.writeJSON(w, http.StatusMultiStatus, ans)
		return
	}
	s.writeJSON(w, http.StatusOK, ans)
}

// validate returns HubSpot's message for an invalid property value, or "".
func (os *objectStore) validate(props map[string]string) string {
	var bad []string
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := props[k]
		opts, ok := os.enums[k]
		if !ok || v == "" {
			continue
		}
		for _, part := range strings.Split(v, ";") {
			if !slices.Contains(opts, part) {
				b, _ := json.Marshal(map[string]any{"isValid": false, "message": fmt.Sprintf("%s was not one of the allowed options: %v", part, opts),
					"error": "INVALID_OPTION", "name": k})
				bad = append(bad, string(b))
				break
			}
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return "Property values were not valid: [" + strings.Join(bad, ",") + "]"
}

func (s *Server) serveBatchWrite(w http.ResponseWriter, r *http.Request, os *objectStore, upsert bool) {
	var req struct {
		Inputs []struct {
			ID         string            `json:"id"`
			IDProperty string            `json:"idProperty"`
			Properties map[string]string `json:"properties"`
		} `json:"inputs"`
	}
	if !decode(w, r, s, &req) {
		return
	}
	if len(req.Inputs) > 100 {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Batch input limit exceeded: %d inputs, the limit is 100", len(req.Inputs))
		return
	}
	type pending struct {
		rec   *Record
		props map[string]string
		isNew bool
	}
	var todo []pending
	var errs []errBody
	seen := map[string]bool{}
	for _, in := range req.Inputs {
		if seen[in.ID] {
			s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Duplicate IDs found in batch input: [%s]. IDs must be unique", in.ID)
			return
		}
		seen[in.ID] = true
		if upsert || in.IDProperty != "" {
			if in.IDProperty == "" || !os.unique[in.IDProperty] {
				s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "idProperty %q is not a property with unique values", in.IDProperty)
				return
			}
		}
		if msg := os.validate(in.Properties); msg != "" {
			if s.WholeBatch400 {
				s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "%s", msg)
				return
			}
			errs = append(errs, errBody{Status: "error", Category: "VALIDATION_ERROR", Message: msg, Context: map[string][]string{"ids": {in.ID}}})
			continue
		}
		rec := s.findLocked(os, in.IDProperty, in.ID)
		if rec == nil && !upsert {
			errs = append(errs, errBody{Status: "error", Category: "OBJECT_NOT_FOUND", Message: "Could not get some objects, they may be deleted or not exist.",
				Context: map[string][]string{"ids": {in.ID}}})
			continue
		}
		props := maps(in.Properties)
		if upsert {
			props[in.IDProperty] = in.ID
		}
		// Unique values must stay unique.
		clash := ""
		for p := range os.unique {
			if v, ok := props[p]; ok && v != "" {
				if other := s.findLocked(os, p, v); other != nil && other != rec {
					clash = p
				}
			}
		}
		if clash != "" {
			errs = append(errs, errBody{Status: "error", Category: "VALIDATION_ERROR",
				Message: fmt.Sprintf("A record with %s=%s already exists", clash, props[clash]), Context: map[string][]string{"ids": {in.ID}}})
			continue
		}
		todo = append(todo, pending{rec: rec, props: props, isNew: rec == nil})
	}
	results := []wireObject{}
	for _, p := range todo {
		rec := p.rec
		if rec == nil {
			rec = s.newRecordLocked(os)
		}
		s.applyLocked(os, rec, p.props)
		o := wire(rec, nil)
		if upsert {
			isNew := p.isNew
			o.New = &isNew
		}
		results = append(results, o)
	}
	ans := map[string]any{"status": "COMPLETE", "results": results,
		"startedAt": iso(s.Now().UnixMilli()), "completedAt": iso(s.Now().UnixMilli())}
	if len(errs) > 0 {
		ans["errors"] = errs
		ans["numErrors"] = len(errs)
		s.writeJSON(w, http.StatusMultiStatus, ans)
		return
	}
	s.writeJSON(w, http.StatusOK, ans)
}

func (s *Server) servePatch(w http.ResponseWriter, r *http.Request, os *objectStore, id string) {
	var req struct {
		Properties map[string]string `json:"properties"`
	}
	if !decode(w, r, s, &req) {
		return
	}
	rec := os.records[id]
	if rec == nil {
		s.fail(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "resource not found")
		return
	}
	if msg := os.validate(req.Properties); msg != "" {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "%s", msg)
		return
	}
	s.applyLocked(os, rec, req.Properties)
	s.writeJSON(w, http.StatusOK, wire(rec, nil))
}

// --- search ---

type searchFilter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        string `json:"value"`
}

func (s *Server) serveSearch(w http.ResponseWriter, r *http.Request, os *objectStore) {
	var req struct {
		FilterGroups []struct {
			Filters []searchFilter `json:"filters"`
		} `json:"filterGroups"`
		Sorts []struct {
			PropertyName string `json:"propertyName"`
			Direction    string `json:"direction"`
		} `json:"sorts"`
		Properties []string `json:"properties"`
		Limit      int      `json:"limit"`
		After      string   `json:"after"`
	}
	if !decode(w, r, s, &req) {
		return
	}
	if req.Limit > 200 {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "limit must be at most 200, was %d", req.Limit)
		return
	}
	if req.Limit <= 0 {
		req.Limit = 10
	}
	if len(req.FilterGroups) > 5 {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "at most 5 filterGroups are allowed")
		return
	}
	total := 0
	for _, g := range req.FilterGroups {
		if len(g.Filters) > 6 {
			s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "at most 6 filters per filterGroup are allowed")
			return
		}
		total += len(g.Filters)
		for _, f := range g.Filters {
			if !slices.Contains([]string{"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "HAS_PROPERTY", "NOT_HAS_PROPERTY"}, f.Operator) {
				s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "unsupported operator %q", f.Operator)
				return
			}
		}
	}
	if total > 18 {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "at most 18 filters are allowed")
		return
	}
	offset := 0
	if req.After != "" {
		n, err := strconv.Atoi(req.After)
		if err != nil || n < 0 {
			s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "after %q is not a valid paging cursor", req.After)
			return
		}
		offset = n
	}
	if offset+req.Limit > 10000 {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "The search API returns at most 10,000 results per query; narrow the filters")
		return
	}
	var hits []*Record
	for _, id := range sortedIDs(os) {
		rec := os.records[id]
		match := len(req.FilterGroups) == 0
		for _, g := range req.FilterGroups {
			all := true
			for _, f := range g.Filters {
				if !matches(rec, f) {
					all = false
					break
				}
			}
			if all {
				match = true
				break
			}
		}
		if match {
			hits = append(hits, rec)
		}
	}
	if len(req.Sorts) > 0 {
		so := req.Sorts[0]
		sort.SliceStable(hits, func(i, j int) bool {
			key := func(r *Record) string {
				if so.PropertyName == "hs_object_id" {
					return r.ID
				}
				return r.Properties[so.PropertyName]
			}
			c := compare(key(hits[i]), key(hits[j]))
			if so.Direction == "DESCENDING" {
				return c > 0
			}
			return c < 0
		})
	}
	props := req.Properties
	if props == nil {
		props = []string{}
	}
	results := []wireObject{}
	for i := offset; i < len(hits) && i < offset+req.Limit; i++ {
		results = append(results, wire(hits[i], props))
	}
	ans := map[string]any{"total": len(hits), "results": results}
	if offset+req.Limit < len(hits) {
		ans["paging"] = map[string]any{"next": map[string]string{"after": strconv.Itoa(offset + req.Limit)}}
	}
	s.writeJSON(w, http.StatusOK, ans)
}

// number reads a filterable value: a number, or a datetime as epoch milliseconds (HubSpot
// compares datetime properties with millisecond values).
func number(v string) (float64, bool) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f, true
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return float64(t.UnixMilli()), true
		}
	}
	return 0, false
}

func compare(a, b string) int {
	x, okA := number(a)
	y, okB := number(b)
	if okA && okB {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

func matches(r *Record, f searchFilter) bool {
	v, has := r.Properties[f.PropertyName]
	if f.PropertyName == "hs_object_id" {
		v, has = r.ID, true
	}
	switch f.Operator {
	case "HAS_PROPERTY":
		return has && v != ""
	case "NOT_HAS_PROPERTY":
		return !has || v == ""
	}
	if !has {
		return f.Operator == "NEQ"
	}
	c := compare(v, f.Value)
	switch f.Operator {
	case "EQ":
		return c == 0 || strings.EqualFold(v, f.Value)
	case "NEQ":
		return c != 0
	case "LT":
		return c < 0
	case "LTE":
		return c <= 0
	case "GT":
		return c > 0
	case "GTE":
		return c >= 0
	}
	return false
}
