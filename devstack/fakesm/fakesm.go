// Package fakesm is a fake of AWS Secrets Manager for local runs and tests: it holds
// secrets in memory and answers GetSecretValue, the one action OppSync needs to resolve a
// CRM credential referenced by ARN (crm/secret).
//
// It speaks the real AWS JSON 1.1 wire protocol (POST /, X-Amz-Target:
// secretsmanager.GetSecretValue, a JSON body {"SecretId": …}), answers with the real JSON
// shape and returns errors as {"__type": "ResourceNotFoundException", "message": …} with
// HTTP 400, so the AWS SDK's secretsmanager client works against it unchanged (point
// AWS_ENDPOINT_URL_SECRETS_MANAGER at it). It does not check request signatures or IAM
// policies: real Secrets Manager would refuse a caller without secretsmanager:GetSecretValue
// on the secret; this answers anyone. Secret values are never written to a log or an error.
package fakesm

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// TargetGetSecretValue is the X-Amz-Target header of a GetSecretValue call.
const TargetGetSecretValue = "secretsmanager.GetSecretValue"

// Version stages, as real Secrets Manager names them.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
)

// contentType is the AWS JSON 1.1 protocol's media type.
const contentType = "application/x-amz-json-1.1"

// version is one value of a secret.
type version struct {
	id      string
	value   string
	created time.Time
}

// secret is one named secret with its current and previous versions.
type secret struct {
	arn      string
	name     string
	current  version
	previous *version
}

// Server is the fake Secrets Manager of one account in one region. Its zero value is not
// usable; call New.
type Server struct {
	region, account string

	mu       sync.RWMutex
	secrets  map[string]*secret // by name
	requests atomic.Int64
	now      func() time.Time
}

// New returns a Server with no secrets, whose ARNs name region and the 12-digit accountID.
func New(region, accountID string) *Server {
	return &Server{region: region, account: accountID, secrets: map[string]*secret{}, now: time.Now}
}

// Put stores value as the current version of the secret called name, creating the secret
// (with an ARN ending in a random six-character suffix, like the real service's) or
// rotating it: the version it replaces stays readable as AWSPREVIOUS. It returns the
// secret's full ARN, which does not change on rotation.
func (s *Server) Put(name, value string) (arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := version{id: uuid.NewString(), value: value, created: s.now()}
	if sec, ok := s.secrets[name]; ok {
		prev := sec.current
		sec.previous, sec.current = &prev, v
		return sec.arn
	}
	sec := &secret{
		arn:     fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", s.region, s.account, name, randomSuffix()),
		name:    name,
		current: v,
	}
	s.secrets[name] = sec
	return sec.arn
}

// Delete removes the secret called name; GetSecretValue on it then fails with
// ResourceNotFoundException.
func (s *Server) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.secrets, name)
}

// Requests reports how many requests the server has received, answered or not.
func (s *Server) Requests() int { return int(s.requests.Load()) }

// Handler returns the Secrets Manager endpoint as an http.Handler, to mount at "/".
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start serves the fake on addr (e.g. "127.0.0.1:0" for a free loopback port) and returns
// its base URL, to use as the Secrets Manager endpoint, and a function that shuts it down.
func (s *Server) Start(addr string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("fakesm: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	var once sync.Once
	stop = func() { once.Do(func() { _ = srv.Close() }) }
	return "http://" + ln.Addr().String(), stop, nil
}

// partialARN is a Secrets Manager ARN up to the secret's name, with or without the
// random suffix: the forms GetSecretValue accepts besides the bare name.
var partialARN = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):(\d{12}):secret:(.+)$`)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "Secrets Manager API calls are POST requests to /")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != contentType {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "want Content-Type "+contentType)
		return
	}
	// Signatures are not checked, but a request signed for another region would reach
	// another region's Secrets Manager, which does not hold these secrets.
	if region := signedRegion(r); region != "" && region != s.region {
		writeError(w, http.StatusBadRequest, "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. (this fake serves %s)", region, s.region))
		return
	}
	target := r.Header.Get("X-Amz-Target")
	if target != TargetGetSecretValue {
		writeError(w, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("unknown operation %q (this fake Secrets Manager implements only %s)", target, TargetGetSecretValue))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "cannot read the request body")
		return
	}
	var in struct {
		SecretID     string `json:"SecretId"`
		VersionID    string `json:"VersionId"`
		VersionStage string `json:"VersionStage"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "the request body is not a JSON object")
		return
	}
	s.getSecretValue(w, in.SecretID, in.VersionID, in.VersionStage)
}

func (s *Server) getSecretValue(w http.ResponseWriter, id, versionID, stage string) {
	if id == "" || len(id) > 2048 {
		writeError(w, http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must have length between 1 and 2048")
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	sec := s.find(id)
	if sec == nil {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	if stage == "" && versionID == "" {
		stage = StageCurrent
	}
	var v *version
	for _, c := range []struct {
		v     *version
		stage string
	}{{&sec.current, StageCurrent}, {sec.previous, StagePrevious}} {
		if c.v != nil && (stage == "" || stage == c.stage) && (versionID == "" || versionID == c.v.id) {
			v, stage = c.v, c.stage
			break
		}
	}
	if v == nil {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException",
			"Secrets Manager can't find the specified secret value for VersionId or staging label")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ARN":           sec.arn,
		"Name":          sec.name,
		"SecretString":  v.value,
		"VersionId":     v.id,
		"VersionStages": []string{stage},
		"CreatedDate":   float64(v.created.UnixMilli()) / 1000,
	})
}

// find looks a secret up by name, full ARN or partial ARN (without the suffix). Secrets of
// another region or account are not found, as in the real service.
func (s *Server) find(id string) *secret {
	m := partialARN.FindStringSubmatch(id)
	if m == nil {
		return s.secrets[id]
	}
	if m[1] != s.region || m[2] != s.account {
		return nil
	}
	for _, sec := range s.secrets {
		// The full ARN ends in "-" and six random characters; the partial one stops before.
		if id == sec.arn || id == sec.arn[:len(sec.arn)-7] {
			return sec
		}
	}
	return nil
}

// signedRegion is the region of a SigV4 Authorization header's credential scope
// (Credential=AKID/DATE/REGION/secretsmanager/aws4_request), or "" if unsigned.
func signedRegion(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	if parts := strings.Split(cred, "/"); len(parts) == 5 {
		return parts[2]
	}
	return ""
}

func writeError(w http.ResponseWriter, status int, typ, message string) {
	writeJSON(w, status, map[string]string{"__type": typ, "message": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Requestid", uuid.NewString())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// randomSuffix is the six random characters Secrets Manager appends to a secret's name
// in its ARN, so a deleted and re-created secret gets a new ARN.
func randomSuffix() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 6)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}
