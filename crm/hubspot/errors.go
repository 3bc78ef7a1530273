package hubspot

import (
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

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HubSpot %s: HTTP %d", e.Op, e.Status)
	if e.Category != "" {
		fmt.Fprintf(&b, " %s", e.Category)
	}
	if e.Message != "" {
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

// RecordError is HubSpot's refusal of one record of a batch.
type RecordError struct {
	ACEID    string // the record's ACE id (apnCrmUniqueIdentifier)
	Category string // HubSpot's category, e.g. VALIDATION_ERROR
	Message  string // HubSpot's message, e.g. which property had which invalid option
	// Retryable: the record may land on a later attempt (rate limit, server error).
	Retryable bool
}

func (e RecordError) String() string {
	s := e.ACEID + ": "
	if e.Category != "" {
		s += e.Category + ": "
	}
	return s + e.Message
}

var (
	_ crm.RetryClassifier = (*APIError)(nil)
	_ crm.RetryClassifier = (*BatchError)(nil)
	_ crm.RetryClassifier = (*ConfigError)(nil)
)

// BatchError reports the records of an Upsert that HubSpot refused; every other record of
// the call landed (and is counted in the UpsertResult returned with it). Because Upsert is
// idempotent, retrying the whole call re-applies the landed records as Unchanged.
type BatchError struct {
	Source  string // the ACE file
	Records []RecordError
}

func (e *BatchError) Error() string {
	const shown = 10
	var b strings.Builder
	fmt.Fprintf(&b, "HubSpot refused %d record(s) of %s", len(e.Records), e.Source)
	for i, r := range e.Records {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more", len(e.Records)-shown)
			break
		}
		b.WriteString("; ")
		b.WriteString(r.String())
	}
	return b.String()
}

// Retryable (crm.RetryClassifier) reports whether any refused record may land on a retry. A batch where every
// refusal is a validation or permission problem is not retryable: the file needs fixing,
// or the mapping, or the app's scopes.
func (e *BatchError) Retryable() bool {
	for _, r := range e.Records {
		if r.Retryable {
			return true
		}
	}
	return false
}

// ConfigError is a problem with the CRM URL, the mapping or the credentials it names:
// nothing a retry cures.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// Retryable is false: see crm.RetryClassifier.
func (e *ConfigError) Retryable() bool { return false }

func configErrorf(format string, a ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, a...)}
}

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

// RejectedRecords is the number of records refused (crm.RecordsRejecter).
func (e *BatchError) RejectedRecords() int { return len(e.Records) }
