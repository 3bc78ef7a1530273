package sellingcontract

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/oppsync/oppsync/devstack/fakests"
)

// Published quotas of the Selling API per partner account: reads (List*, Get*) and writes
// (everything else), requests per second.
const (
	DefaultReadsPerSecond  = 10
	DefaultWritesPerSecond = 1
)

// DefaultAccountID is the partner account every access key maps to when no account
// resolver is configured.
const DefaultAccountID = "555566667777"

// DefaultRegion is the Selling API's only region.
const DefaultRegion = "us-east-1"

// AWSAccountID is the account AWS's referrals are sent from (SenderAwsAccountId).
const AWSAccountID = "000000000000"

// Catalogs are the catalogs a partner account has.
var Catalogs = []string{"AWS", "Sandbox"}

// Principal is who an access key belongs to: the partner account, and optionally the
// secret key, with which the server verifies the request's SigV4 signature.
type Principal struct {
	AccountID       string
	SecretAccessKey string // empty: the signature is not verified
}

// Resolver maps an access key id to its principal; false means the key is unknown
// (UnrecognizedClientException).
type Resolver func(accessKeyID string) (Principal, bool)

// Option configures New.
type Option func(*Server)

// WithResolver sets how access keys map to partner accounts (default: every key is
// DefaultAccountID's, signatures unverified).
func WithResolver(r Resolver) Option { return func(s *Server) { s.resolve = r } }

// WithQuotas sets the per-account rates of reads and writes, requests per second (burst:
// the rate rounded up, at least 1). rate.Inf turns throttling off.
func WithQuotas(reads, writes rate.Limit) Option {
	return func(s *Server) { s.readRate, s.writeRate = reads, writes }
}

// WithClock sets the server's clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithRegion sets the region in ARNs (default DefaultRegion).
func WithRegion(region string) Option { return func(s *Server) { s.region = region } }

// FromSTS resolves the access keys that the fake STS hands out for its roles to the
// role's account (the account in the role ARN), verifying signatures with the role's
// secret key; any other key is unknown.
func FromSTS(sts *fakests.Server) Resolver {
	return func(accessKeyID string) (Principal, bool) {
		for _, r := range sts.Roles() {
			if r.Credentials.AccessKeyID == accessKeyID {
				if m := roleAccount.FindStringSubmatch(r.ARN); m != nil {
					return Principal{AccountID: m[1], SecretAccessKey: r.Credentials.SecretAccessKey}, true
				}
			}
		}
		return Principal{}, false
	}
}

// AnyKey maps every access key to accountID, without verifying signatures.
func AnyKey(accountID string) Resolver {
	return func(string) (Principal, bool) { return Principal{AccountID: accountID}, true }
}

// FirstOf asks each resolver in turn; the first that knows the key answers.
func FirstOf(resolvers ...Resolver) Resolver {
	return func(accessKeyID string) (Principal, bool) {
		for _, r := range resolvers {
			if p, ok := r(accessKeyID); ok {
				return p, true
			}
		}
		return Principal{}, false
	}
}

var roleAccount = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/`)

// Server is the contract server. Create it with New.
type Server struct {
	model     *Model
	resolve   Resolver
	readRate  rate.Limit
	writeRate rate.Limit
	now       func() time.Time
	region    string

	mu         sync.Mutex
	partitions map[partitionKey]*partition
	quotas     map[string]*quota
	calls      map[string]int
	tokens     map[tokenKey]*tokenUse
	lastStamp  time.Time
	nextOpp    int64
}

type partitionKey struct{ account, catalog string }

type quota struct{ reads, writes *rate.Limiter }

type tokenKey struct{ account, catalog, operation, token string }

type tokenUse struct {
	body     []byte // the request, canonical JSON
	response []byte
}

// New loads the model and returns a server with empty catalogs.
func New(opts ...Option) (*Server, error) {
	m, err := LoadModel()
	if err != nil {
		return nil, err
	}
	s := &Server{
		model:      m,
		resolve:    AnyKey(DefaultAccountID),
		readRate:   DefaultReadsPerSecond,
		writeRate:  DefaultWritesPerSecond,
		now:        time.Now,
		region:     DefaultRegion,
		partitions: map[partitionKey]*partition{},
		quotas:     map[string]*quota{},
		calls:      map[string]int{},
		tokens:     map[tokenKey]*tokenUse{},
		nextOpp:    1000000001,
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Model is the service model the server checks against.
func (s *Server) Model() *Model { return s.model }

// Handler returns the server as an http.Handler, to mount at "/": the Selling API at
// POST /, AWS's side under AdminPrefix.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start serves on addr (e.g. "127.0.0.1:0") and returns the base URL, the endpoint to give
// the client, and a function that shuts the server down.
func (s *Server) Start(addr string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("sellingcontract: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	var once sync.Once
	stop = func() { once.Do(func() { _ = srv.Close() }) }
	return "http://" + ln.Addr().String(), stop, nil
}

// Calls returns how many requests named each operation in X-Amz-Target, refused ones
// included.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// apiError is an error answered in awsJson1_0 shape: __type and the error shape's members.
type apiError struct {
	Type    string
	Status  int
	Message string
	Extra   map[string]any // further members (Reason, ErrorList)
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func (s *Server) modelError(name, msg string) *apiError {
	status := http.StatusBadRequest
	if sh, ok := s.model.Shapes[name]; ok && sh.HTTPStatus != 0 {
		status = sh.HTTPStatus
	}
	return &apiError{Type: name, Status: status, Message: msg}
}

func (s *Server) validationError(reason string, errs []FieldError) *apiError {
	e := s.modelError("ValidationException", fmt.Sprintf("%d validation error(s) detected", len(errs)))
	if reason == "BUSINESS_VALIDATION_FAILED" {
		e.Message = "the request does not pass the business validation rules"
	}
	e.Extra = map[string]any{"Reason": reason, "ErrorList": errs}
	return e
}

func notFound(what, id string) *apiError {
	return &apiError{Type: "ResourceNotFoundException", Status: http.StatusNotFound, Message: what + " " + id + " was not found in this catalog"}
}

func conflict(msg string) *apiError {
	return &apiError{Type: "ConflictException", Status: http.StatusConflict, Message: msg}
}

// Errors AWS's front end answers before the service sees a request; the model does not
// define them (they are common to all AWS JSON services).
func authError(typ string, status int, msg string) *apiError {
	return &apiError{Type: typ, Status: status, Message: msg}
}

const contentType = "application/x-amz-json-1.0"

// maxBody bounds a request body.
const maxBody = 4 << 20

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	w.Header().Set("X-Amzn-RequestId", requestID)
	if strings.HasPrefix(r.URL.Path, AdminPrefix) {
		s.serveAdmin(w, r)
		return
	}
	body, status, err := s.call(r)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{Type: "InternalServerException", Status: 500, Message: err.Error()}
		}
		writeError(w, ae)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	doc := map[string]any{"__type": e.Type, "Message": e.Message}
	for k, v := range e.Extra {
		doc[k] = v
	}
	body, _ := json.Marshal(doc)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// request is one decoded call of an operation.
type request struct {
	op      *operation
	account string
	catalog string
	input   map[string]any
}

func (s *Server) call(r *http.Request) ([]byte, int, error) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, 0, &apiError{Type: "UnknownOperationException", Status: http.StatusNotFound,
			Message: "the Selling API (awsJson1_0) answers only POST / with X-Amz-Target; got " + r.Method + " " + r.URL.Path}
	}
	target := r.Header.Get("X-Amz-Target")
	opName, ok := strings.CutPrefix(target, ServiceName+".")
	op := s.model.Operations[opName]
	if !ok || op == nil {
		return nil, 0, &apiError{Type: "UnknownOperationException", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("X-Amz-Target %q names no operation of %s", target, ServiceName)}
	}
	s.mu.Lock()
	s.calls[op.Name]++
	s.mu.Unlock()
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(ct) != contentType {
		return nil, 0, &apiError{Type: "UnknownOperationException", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("Content-Type must be %s (awsJson1_0); got %q", contentType, r.Header.Get("Content-Type"))}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, 0, &apiError{Type: "SerializationException", Status: 400, Message: "cannot read the request body: " + err.Error()}
	}
	if len(body) > maxBody {
		return nil, 0, &apiError{Type: "SerializationException", Status: 413, Message: "request body too large"}
	}
	account, err := s.authenticate(r, body)
	if err != nil {
		return nil, 0, err
	}
	if err := s.admit(account, op); err != nil {
		return nil, 0, err
	}
	input := map[string]any{}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			return nil, 0, &apiError{Type: "SerializationException", Status: 400, Message: "the request body is not JSON: " + err.Error()}
		}
		if dec.More() {
			return nil, 0, &apiError{Type: "SerializationException", Status: 400, Message: "the request body has data after its JSON value"}
		}
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil, 0, &apiError{Type: "SerializationException", Status: 400, Message: "the request body must be a JSON object; found " + jsonKind(doc)}
		}
		input = obj
	}
	if op.Input != nil {
		errs, err := s.model.Check(op.Input.Name, input, false)
		if err != nil {
			return nil, 0, &apiError{Type: "SerializationException", Status: 400, Message: err.Error()}
		}
		if len(errs) > 0 {
			return nil, 0, s.validationError("REQUEST_VALIDATION_FAILED", errs)
		}
	}
	req := &request{op: op, account: account, input: input}
	if c, ok := input["Catalog"].(string); ok {
		if c != "AWS" && c != "Sandbox" {
			return nil, 0, s.validationError("REQUEST_VALIDATION_FAILED", []FieldError{{FieldName: "Catalog", Code: CodeInvalidEnumValue, Message: "Catalog must be AWS or Sandbox"}})
		}
		req.catalog = c
	}
	handler, ok := handlers[op.Name]
	if !ok {
		return nil, 0, &apiError{Type: "UnsupportedOperationException", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("sellingcontract: %s is valid but not implemented by the contract server", op.Name)}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var key tokenKey
	var canonical []byte
	if op.TokenMember != "" {
		if tok, _ := input[op.TokenMember].(string); tok != "" {
			key = tokenKey{account, req.catalog, op.Name, tok}
			canonical, _ = json.Marshal(input)
			if use, ok := s.tokens[key]; ok {
				if !bytes.Equal(use.body, canonical) {
					return nil, 0, conflict("Conflicting client token submitted for a new request body.")
				}
				return use.response, http.StatusOK, nil
			}
		}
	}
	out, err := handler(s, req)
	if err != nil {
		return nil, 0, err
	}
	if out == nil {
		out = map[string]any{}
	}
	resp, err := json.Marshal(out)
	if err != nil {
		return nil, 0, err
	}
	if canonical != nil {
		s.tokens[key] = &tokenUse{body: canonical, response: resp}
	}
	return resp, http.StatusOK, nil
}

// admit takes a token from the account's read or write bucket.
func (s *Server) admit(account string, op *operation) error {
	s.mu.Lock()
	q, ok := s.quotas[account]
	if !ok {
		q = &quota{reads: rate.NewLimiter(s.readRate, burst(s.readRate)), writes: rate.NewLimiter(s.writeRate, burst(s.writeRate))}
		s.quotas[account] = q
	}
	s.mu.Unlock()
	lim, kind := q.writes, "writes"
	if isRead(op) {
		lim, kind = q.reads, "reads"
	}
	if !lim.AllowN(s.now(), 1) {
		return s.modelError("ThrottlingException", fmt.Sprintf("Rate exceeded: account %s is over its quota of %v %s per second", account, lim.Limit(), kind))
	}
	return nil
}

// isRead tells a read (List*, Get*: AWS's read quota) from a write.
func isRead(op *operation) bool {
	return strings.HasPrefix(op.Name, "List") || strings.HasPrefix(op.Name, "Get")
}

func burst(l rate.Limit) int {
	if l == rate.Inf || l > 1e6 {
		return math.MaxInt32
	}
	return max(1, int(math.Ceil(float64(l))))
}

// SetQuotas changes the per-account rates of reads and writes from now on.
func (s *Server) SetQuotas(reads, writes rate.Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readRate, s.writeRate = reads, writes
	s.quotas = map[string]*quota{}
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
