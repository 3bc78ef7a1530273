package salesforce

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/oppsync/oppsync/crm"
)

// Salesforce error codes OppSync tells apart (errorCode in Salesforce's error bodies and in
// each failed record of an sObject Collections call).
const (
	CodeInvalidSession      = "INVALID_SESSION_ID"
	CodeRequestLimit        = "REQUEST_LIMIT_EXCEEDED"
	CodeUnableToLockRow     = "UNABLE_TO_LOCK_ROW"
	CodeServerUnavailable   = "SERVER_UNAVAILABLE"
	CodeRestrictedPicklist  = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
	CodeCustomValidation    = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
	CodeInsufficientAccess  = "INSUFFICIENT_ACCESS_OR_READONLY"
	CodeRequiredFieldAbsent = "REQUIRED_FIELD_MISSING"
)

// retryableCodes are the error codes a later retry can cure.
var retryableCodes = map[string]bool{
	CodeRequestLimit:      true,
	CodeUnableToLockRow:   true,
	CodeServerUnavailable: true,
	"QUERY_TIMEOUT":       true,
}

// ErrMalformedResponse marks a Salesforce answer OppSync cannot read (not JSON, or not the
// documented shape). It is retryable: a proxy's error page or a truncated body usually is.
var ErrMalformedResponse = errors.New("malformed Salesforce response")

// APIError is a failed Salesforce call, with Salesforce's own error code and message.
type APIError struct {
	Op      string   // what OppSync was doing, e.g. "upsert Opportunity"
	Status  int      // HTTP status
	Code    string   // Salesforce's errorCode (or OAuth error), e.g. REQUEST_LIMIT_EXCEEDED
	Message string   // Salesforce's message
	Fields  []string // fields the error is about, when Salesforce names them
	// RetryAfter is how long Salesforce asked us to wait, zero if it did not say.
	RetryAfter time.Duration
}

func (e *APIError) Error() string { return e.render(true) }

// LogSafe is the error without Salesforce's message, which can quote the record's values
// (a validation rule's text naming the e-mail it refused), for logs (see
// logging.LogSafer): the operation, status, code, fields and hint.
func (e *APIError) LogSafe() string { return e.render(false) }

func (e *APIError) render(message bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Salesforce %s: HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if message && e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if len(e.Fields) > 0 {
		fmt.Fprintf(&b, " (fields %s)", strings.Join(e.Fields, ", "))
	}
	if h := e.hint(); h != "" {
		fmt.Fprintf(&b, "; %s", h)
	}
	return b.String()
}

func (e *APIError) hint() string {
	switch {
	case e.Code == "invalid_grant" || e.Code == "invalid_client_id" || e.Code == "invalid_client":
		return "check the connected app's client id, the integration user (user=), that the certificate matching key_file is uploaded to the connected app and the user is pre-authorized, or that the refresh token is still valid"
	case e.Code == CodeRequestLimit:
		return "the org's daily API request limit is exhausted; syncing resumes when Salesforce allows calls again"
	case e.Status == http.StatusForbidden || strings.HasPrefix(e.Code, "INSUFFICIENT_ACCESS"):
		return "give the integration user's profile or permission set access to the object and every mapped field"
	case e.Code == "INVALID_FIELD" || e.Code == "INVALID_TYPE":
		return "the mapping names a field or object the org does not have (or the user cannot see): create it or fix the mapping"
	}
	return ""
}

// Retryable reports whether the same call may succeed later: rate and request limits,
// row locks, server errors and timeouts are; validation, permission, authentication and
// bad-query errors are not.
func (e *APIError) Retryable() bool {
	if v, ok := retryableCodes[e.Code]; ok {
		return v
	}
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// RecordError is one record Salesforce (or the mapping) refused.
type RecordError = crm.RefusedRecord

// BatchError reports the records of an Upsert that Salesforce refused; the others landed.
type BatchError = crm.BatchError

// ConfigError is a problem with the CRM URL, the mapping or the credentials it references.
type ConfigError = crm.ConfigError

var configErrorf = crm.ConfigErrorf

// malformed wraps ErrMalformedResponse with what was being read and a short excerpt.
type malformedError struct {
	op      string
	err     error
	excerpt string // the body's start: records can be in it, so logs leave it out
	size    int    // the body's length
}

func (e *malformedError) Error() string {
	return fmt.Sprintf("Salesforce %s: %v: %v (body starts %q)", e.op, ErrMalformedResponse, e.err, e.excerpt)
}

// LogSafe is the error without the body's excerpt (see logging.LogSafer).
func (e *malformedError) LogSafe() string {
	return fmt.Sprintf("Salesforce %s: %v: %v (a body of %d bytes)", e.op, ErrMalformedResponse, e.err, e.size)
}
func (e *malformedError) Unwrap() error   { return ErrMalformedResponse }
func (e *malformedError) Retryable() bool { return true }

func malformed(op string, body []byte, err error) error {
	ex := strings.TrimSpace(string(body))
	if len(ex) > 120 {
		ex = ex[:120] + "…"
	}
	return &malformedError{op: op, err: err, excerpt: ex, size: len(body)}
}

// AuthFailed (crm.AuthClassifier) reports whether Salesforce refused our credentials: a 401,
// or the token endpoint's 400 (invalid_grant, invalid_client).
func (e *APIError) AuthFailed() bool {
	return e.Status == http.StatusUnauthorized || (e.Status == http.StatusBadRequest && strings.HasPrefix(e.Op, "token request"))
}
