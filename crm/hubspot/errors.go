package hubspot

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/oppsync/oppsync/crm"
)

// HubSpot error categories OppSync tells apart. HubSpot puts one in every error body
// ({"status":"error","message":…,"correlationId":…,"category":…}) and in each entry of a
// batch's "errors" list.
const (
	CategoryValidation     = "VALIDATION_ERROR"
	CategoryObjectNotFound = "OBJECT_NOT_FOUND"
	CategoryMissingScopes  = "MISSING_SCOPES"
	CategoryRateLimits     = "RATE_LIMITS"
	CategoryInvalidAuth    = "INVALID_AUTHENTICATION"
	CategoryExpiredAuth    = "EXPIRED_AUTHENTICATION"
	CategoryConflict       = "CONFLICT"
)

// ErrMalformedResponse marks a HubSpot answer OppSync cannot read (not JSON, or not the
// documented shape). crm.Retryable counts it retryable: a proxy's error page or a
// truncated body usually is.
var ErrMalformedResponse = errors.New("malformed HubSpot response")

// APIError is a failed HubSpot call: the HTTP status and HubSpot's own error body, kept as
// HubSpot wrote it so the operator sees HubSpot's words.
type APIError struct {
	Op            string // what OppSync was doing, e.g. "batch/upsert deals"
	Status        int    // HTTP status
	Category      string // HubSpot's category, e.g. VALIDATION_ERROR; may be empty
	Message       string // HubSpot's message
	CorrelationID string // quote it to HubSpot support
	// RetryAfter is how long HubSpot asked us to wait (429), zero if it did not say.
	RetryAfter time.Duration
}

func (e *APIError) Error() string { return e.render(true) }

// LogSafe is the error without HubSpot's message, which can quote the record's values
// ("Property values were not valid: … jane.doe@example.com …"), for logs (see
// logging.LogSafer): the operation, status, category, correlation id and hint.
func (e *APIError) LogSafe() string { return e.render(false) }

func (e *APIError) render(message bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "HubSpot %s: HTTP %d", e.Op, e.Status)
	if e.Category != "" {
		fmt.Fprintf(&b, " %s", e.Category)
	}
	if message && e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " (correlationId %s)", e.CorrelationID)
	}
	if hint := e.hint(); hint != "" {
		fmt.Fprintf(&b, "; %s", hint)
	}
	return b.String()
}

// hint tells the operator what to do about errors no retry cures.
func (e *APIError) hint() string {
	switch {
	case e.Status == http.StatusUnauthorized:
		return "the access token is invalid or expired: rotate the private-app token (token_env/token_file) or check the OAuth refresh token"
	case e.Category == CategoryMissingScopes || e.Status == http.StatusForbidden:
		return "grant the HubSpot app the scopes it lacks (crm.objects.deals.read/write, crm.objects.contacts.read/write or crm.objects.leads.read/write, crm.schemas.*.read)"
	case e.Status == http.StatusTooManyRequests:
		return "HubSpot's rate limit is exhausted; lower rate_limit in the CRM URL if this persists"
	}
	return ""
}

// Retryable (crm.RetryClassifier) reports whether the same call may succeed later: rate limits (429), HubSpot's
// server errors (5xx) and timeouts (408) are; validation, permission and authentication
// errors are not.
func (e *APIError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// RecordError is one record HubSpot (or the mapping) refused; Code holds HubSpot's category.
type RecordError = crm.RefusedRecord

// BatchError reports the records of an Upsert that HubSpot refused; the others landed.
type BatchError = crm.BatchError

// ConfigError is a problem with the CRM URL, the mapping or the credentials it references.
type ConfigError = crm.ConfigError

var configErrorf = crm.ConfigErrorf

var _ crm.RetryClassifier = (*APIError)(nil)

// recordRetryable classifies one batch entry's error by its status and category.
func recordRetryable(status int, category string) bool {
	switch category {
	case CategoryValidation, CategoryMissingScopes, CategoryInvalidAuth, CategoryConflict, CategoryObjectNotFound:
		return false
	case CategoryRateLimits:
		return true
	}
	return status == http.StatusTooManyRequests || status >= 500
}

// malformedError is an answer OppSync cannot read, with the start of its body.
type malformedError struct {
	op     string
	status int
	err    error  // why it could not be read; nil: it is not the documented shape
	body   []byte // records can be in it: logs leave it out
}

func (e *malformedError) Error() string {
	return fmt.Sprintf("HubSpot %s: %v: HTTP %d with %s", e.op, ErrMalformedResponse, e.status, describeBody(e.body, e.err))
}

// LogSafe is the error without the body's excerpt (see logging.LogSafer).
func (e *malformedError) LogSafe() string {
	why := ""
	if e.err != nil {
		why = fmt.Sprintf(" (%v)", e.err)
	}
	return fmt.Sprintf("HubSpot %s: %v: HTTP %d with an unreadable body of %d bytes%s", e.op, ErrMalformedResponse, e.status, len(e.body), why)
}

func (e *malformedError) Unwrap() error { return ErrMalformedResponse }

// invalidProperties is how HubSpot's VALIDATION_ERROR message starts when it lists the
// properties it refused, as JSON: Property values were not valid: [{"isValid":false,
// "message":"…","error":"INVALID_EMAIL","name":"email"}].
const invalidProperties = "Property values were not valid: "

// propertyNames returns the properties a HubSpot validation message lists, nil if it
// lists none: the field names a log may carry when the message itself may not.
func propertyNames(msg string) []string {
	_, list, ok := strings.Cut(msg, invalidProperties)
	if !ok {
		return nil
	}
	var props []struct {
		Name string `json:"name"`
	}
	if json.NewDecoder(strings.NewReader(list)).Decode(&props) != nil {
		return nil
	}
	var names []string
	for _, p := range props {
		if p.Name != "" {
			names = append(names, p.Name)
		}
	}
	return names
}

// AuthFailed (crm.AuthClassifier) reports whether HubSpot refused our credentials: a 401, a
// 403 or missing scopes, or the OAuth token endpoint's 400.
func (e *APIError) AuthFailed() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Category == CategoryMissingScopes ||
		(e.Status == http.StatusBadRequest && strings.Contains(e.Op, "OAuth"))
}
