// Package fakests is a fake of AWS STS for local runs: real STS checks the role's trust
// policy; this only checks that the role is registered and the External ID matches.
//
// It speaks the real STS Query wire protocol (form-encoded POST, Version 2011-06-15) for
// the one action OppSync needs, AssumeRole, and answers with the real XML, so the AWS SDK's
// stscreds provider works against it unchanged. It does not check request signatures: any
// caller may try to assume a role, exactly as any AWS principal may call STS, and the
// External ID is what keeps a confused deputy out.
package fakests

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// APIVersion is the only STS Query API version the fake answers.
const APIVersion = "2011-06-15"

// Duration limits of AssumeRole (DurationSeconds), as documented for the real API.
const (
	MinDuration     = 15 * time.Minute
	MaxDuration     = 12 * time.Hour
	DefaultDuration = time.Hour
)

// Credentials are what AssumeRole hands out for a role. Locally they are a versitygw
// user's long-term keys. SessionToken may be empty: versitygw's internal IAM backend
// rejects any request that carries an X-Amz-Security-Token (InvalidToken), and the AWS SDK
// signs without the header when the token is empty.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken,omitempty"`
}

// Role is one assumable role, as stored by AddRole and read by LoadRoles.
type Role struct {
	// ARN is the role's ARN, arn:aws:iam::<12-digit account>:role/<name>.
	ARN string `json:"roleArn"`
	// ExternalID is the value the trust policy's sts:ExternalId condition requires;
	// empty means the trust policy has no such condition.
	ExternalID string `json:"externalId"`
	// Credentials are handed out to whoever assumes the role.
	Credentials Credentials `json:"credentials"`
}

// Server is the fake STS. Its zero value is not usable; call New.
type Server struct {
	mu       sync.RWMutex
	roles    map[string]Role
	requests atomic.Int64
	now      func() time.Time
}

// New returns a Server with no roles registered.
func New() *Server {
	return &Server{roles: make(map[string]Role), now: time.Now}
}

// AddRole registers roleARN (replacing any earlier registration): AssumeRole on it
// succeeds only with exactly externalID and hands out creds. An empty externalID means the
// role has no External ID condition.
func (s *Server) AddRole(roleARN, externalID string, creds Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[roleARN] = Role{ARN: roleARN, ExternalID: externalID, Credentials: creds}
}

// Roles returns the registered roles, for saving them to a file a standalone fake can load.
func (s *Server) Roles() []Role {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Role, 0, len(s.roles))
	for _, r := range s.roles {
		out = append(out, r)
	}
	return out
}

// LoadRoles registers every role in the JSON file at path: an array of objects
// {"roleArn", "externalId", "credentials": {"accessKeyId", "secretAccessKey", "sessionToken"}}.
func (s *Server) LoadRoles(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("fakests: read roles: %w", err)
	}
	var roles []Role
	if err := json.Unmarshal(data, &roles); err != nil {
		return fmt.Errorf("fakests: roles file %s: want a JSON array of {roleArn, externalId, credentials}: %w", path, err)
	}
	for i, r := range roles {
		if !ValidRoleARN(r.ARN) {
			return fmt.Errorf("fakests: roles file %s: entry %d: %q is not a role ARN (arn:aws:iam::<12 digits>:role/<name>)", path, i, r.ARN)
		}
		if r.Credentials.AccessKeyID == "" || r.Credentials.SecretAccessKey == "" {
			return fmt.Errorf("fakests: roles file %s: role %s: credentials need accessKeyId and secretAccessKey", path, r.ARN)
		}
	}
	for _, r := range roles {
		s.AddRole(r.ARN, r.ExternalID, r.Credentials)
	}
	return nil
}

// Requests reports how many requests the server has received, answered or not.
func (s *Server) Requests() int {
	return int(s.requests.Load())
}

// Handler returns the STS endpoint as an http.Handler, to mount at "/".
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// Start serves the fake on addr (e.g. "127.0.0.1:0" for a free loopback port) and returns
// its base URL, to use as the STS endpoint, and a function that shuts it down.
func (s *Server) Start(addr string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("fakests: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	var once sync.Once
	stop = func() { once.Do(func() { _ = srv.Close() }) }
	return "http://" + ln.Addr().String(), stop, nil
}

// roleARNPattern is an IAM role ARN in any partition, with an optional path.
var roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/((?:[\x21-\x7e]+/)*)([\w+=,.@-]{1,64})$`)

// sessionNamePattern and externalIDPattern are the real API's parameter constraints.
var (
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	requestID := uuid.NewString()
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, requestID, "Sender", "InvalidAction", "STS Query API requests are POST (or GET) with form-encoded parameters")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, requestID, "Sender", "MalformedQueryString", "cannot parse the request parameters: "+err.Error())
		return
	}
	action := r.Form.Get("Action")
	if action != "AssumeRole" {
		writeError(w, http.StatusBadRequest, requestID, "Sender", "InvalidAction",
			fmt.Sprintf("Could not find operation %s for version %s (this fake STS implements only AssumeRole)", action, r.Form.Get("Version")))
		return
	}
	if v := r.Form.Get("Version"); v != APIVersion {
		writeError(w, http.StatusBadRequest, requestID, "Sender", "InvalidAction",
			fmt.Sprintf("Could not find operation AssumeRole for version %s", v))
		return
	}
	s.assumeRole(w, r, requestID)
}

func (s *Server) assumeRole(w http.ResponseWriter, r *http.Request, requestID string) {
	roleARN := r.Form.Get("RoleArn")
	sessionName := r.Form.Get("RoleSessionName")
	externalID, hasExternalID := r.Form["ExternalId"]

	m := roleARNPattern.FindStringSubmatch(roleARN)
	if m == nil {
		writeError(w, http.StatusBadRequest, requestID, "Sender", "ValidationError",
			fmt.Sprintf("%s is invalid: RoleArn must be an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name>", quoteOrMissing(roleARN)))
		return
	}
	account, roleName := m[1], m[3]
	if !sessionNamePattern.MatchString(sessionName) {
		writeError(w, http.StatusBadRequest, requestID, "Sender", "ValidationError",
			fmt.Sprintf("1 validation error detected: Value %s at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and match [\\w+=,.@-]*", quoteOrMissing(sessionName)))
		return
	}
	if hasExternalID && (len(externalID[0]) < 2 || len(externalID[0]) > 1224 || !externalIDPattern.MatchString(externalID[0])) {
		// Do not echo the External ID: it is a shared secret of sorts.
		writeError(w, http.StatusBadRequest, requestID, "Sender", "ValidationError",
			"1 validation error detected: Value at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224 and match [\\w+=,.@:/-]*")
		return
	}
	duration := DefaultDuration
	if d := r.Form.Get("DurationSeconds"); d != "" {
		secs, err := strconv.Atoi(d)
		if err != nil || time.Duration(secs)*time.Second < MinDuration || time.Duration(secs)*time.Second > MaxDuration {
			writeError(w, http.StatusBadRequest, requestID, "Sender", "ValidationError",
				fmt.Sprintf("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be between %d and %d", d, int(MinDuration.Seconds()), int(MaxDuration.Seconds())))
			return
		}
		duration = time.Duration(secs) * time.Second
	}

	s.mu.RLock()
	role, ok := s.roles[roleARN]
	s.mu.RUnlock()
	denied := fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller(r), roleARN)
	if !ok {
		writeError(w, http.StatusForbidden, requestID, "Sender", "AccessDenied", denied+" (fakests: no such role is registered)")
		return
	}
	if role.ExternalID != "" && (!hasExternalID || externalID[0] != role.ExternalID) {
		why := "the External ID does not match the role's sts:ExternalId condition"
		if !hasExternalID {
			why = "the request carries no External ID but the role's trust policy requires one (sts:ExternalId condition)"
		}
		writeError(w, http.StatusForbidden, requestID, "Sender", "AccessDenied", denied+" (fakests: "+why+")")
		return
	}

	writeXML(w, http.StatusOK, assumeRoleResponse{
		Result: assumeRoleResult{
			Credentials: credentialsXML{
				AccessKeyID:     role.Credentials.AccessKeyID,
				SecretAccessKey: role.Credentials.SecretAccessKey,
				SessionToken:    role.Credentials.SessionToken,
				Expiration:      s.now().Add(duration).UTC().Format(time.RFC3339),
			},
			AssumedRoleUser: assumedRoleUser{
				ARN:           fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, roleName, sessionName),
				AssumedRoleID: roleID(roleARN) + ":" + sessionName,
			},
		},
		Metadata: responseMetadata{RequestID: requestID},
	})
}

// caller names the requester for an AccessDenied message, from the access key id in its
// SigV4 Authorization header (the fake does not verify the signature).
func caller(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if _, cred, ok := strings.Cut(auth, "Credential="); ok {
		if akid, _, ok := strings.Cut(cred, "/"); ok && akid != "" {
			return "access key " + akid
		}
	}
	return "anonymous"
}

func quoteOrMissing(v string) string {
	if v == "" {
		return "null"
	}
	return "'" + v + "'"
}

// roleID derives a stable, AWS-looking unique id (AROA…) for a role.
func roleID(roleARN string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var h uint64 = 14695981039346656037
	for i := 0; i < len(roleARN); i++ {
		h ^= uint64(roleARN[i])
		h *= 1099511628211
	}
	id := []byte("AROA")
	for range 17 {
		id = append(id, alphabet[h%32])
		h /= 32
		if h == 0 {
			h = 0x9e3779b97f4a7c15
		}
	}
	return string(id)
}

type assumeRoleResponse struct {
	XMLName  xml.Name         `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Result   assumeRoleResult `xml:"AssumeRoleResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type assumeRoleResult struct {
	Credentials     credentialsXML  `xml:"Credentials"`
	AssumedRoleUser assumedRoleUser `xml:"AssumedRoleUser"`
}

type credentialsXML struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUser struct {
	ARN           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type errorResponse struct {
	XMLName   xml.Name    `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Error     errorDetail `xml:"Error"`
	RequestID string      `xml:"RequestId"`
}

type errorDetail struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func writeError(w http.ResponseWriter, status int, requestID, typ, code, message string) {
	writeXML(w, status, errorResponse{
		Error:     errorDetail{Type: typ, Code: code, Message: message},
		RequestID: requestID,
	})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

// ValidRoleARN reports whether arn is an IAM role ARN the fake accepts,
// arn:aws:iam::<12-digit account>:role/<name>.
func ValidRoleARN(arn string) bool {
	return roleARNPattern.MatchString(arn)
}
