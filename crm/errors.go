package crm

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// RetryClassifier is implemented by connector errors that know whether a retry can cure
// them (crm/salesforce's and crm/hubspot's API errors): rate limits, server errors and
// timeouts can; validation, picklist, permission and configuration errors cannot.
type RetryClassifier interface {
	Retryable() bool
}

// Retryable reports whether err may go away if the same call is retried later, so the
// activities can map it to a retryable or a non-retryable Temporal error. Errors that
// classify themselves (RetryClassifier, found with errors.As) decide; a cancelled context
// is not retryable; anything else (network failures, unknown errors) is assumed to be.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var rc RetryClassifier
	if errors.As(err, &rc) {
		return rc.Retryable()
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	return true
}

// RecordsRejecter is implemented by connector errors saying that the CRM refused some of
// the records of a call while the others landed (Salesforce's and HubSpot's BatchError).
type RecordsRejecter interface {
	RejectedRecords() int
}

// RefusedRecord is one record a CRM refused, in the CRM's own words.
type RefusedRecord struct {
	ACEID string // the record's ACE id (apnCrmUniqueIdentifier)
	// Code is the CRM's error code or category, e.g. Salesforce's
	// INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST or HubSpot's VALIDATION_ERROR.
	Code    string
	Message string   // e.g. "bad value for restricted picklist field: Prospect"
	Fields  []string // the fields the CRM names, when it does
	// Retryable: the record may land on a later attempt (row lock, rate limit, server error).
	Retryable bool
}

// LogSafe is the refusal without the CRM's message, which can quote the record's values (a
// validation rule naming the e-mail it refused): the ACE id, the code and the fields.
func (r RefusedRecord) LogSafe() string {
	s := r.ACEID
	if s == "" {
		s = "(no ACE id)"
	}
	if r.Code != "" {
		s += ": " + r.Code
	}
	if len(r.Fields) > 0 {
		s += " (fields " + strings.Join(r.Fields, ", ") + ")"
	}
	return s
}

func (r RefusedRecord) String() string {
	s := r.ACEID + ": "
	if r.Code != "" {
		s += r.Code + ": "
	}
	s += r.Message
	if len(r.Fields) > 0 {
		s += " (fields " + strings.Join(r.Fields, ", ") + ")"
	}
	return s
}

// BatchError reports the records of an Upsert that a CRM (or the mapping) refused; every
// other record of the call landed and is counted in the UpsertResult returned with it.
// Upsert is idempotent, so retrying the whole call re-applies the landed records as
// Unchanged.
type BatchError struct {
	CRM     string // e.g. Salesforce
	Object  string // the CRM's object, e.g. Opportunity; may be empty
	Source  string // the ACE file
	Records []RefusedRecord
}

func (e *BatchError) Error() string { return e.render(RefusedRecord.String) }

// LogSafe is the error without the CRM's messages, for logs (see logging.LogSafer): which
// records were refused, with which codes and fields.
func (e *BatchError) LogSafe() string { return e.render(RefusedRecord.LogSafe) }

func (e *BatchError) render(record func(RefusedRecord) string) string {
	const shown = 10
	var b strings.Builder
	object := ""
	if e.Object != "" {
		object = e.Object + " "
	}
	fmt.Fprintf(&b, "%s refused %d %srecord(s) of %s", e.CRM, len(e.Records), object, e.Source)
	for i, r := range e.Records {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more", len(e.Records)-shown)
			break
		}
		b.WriteString("; ")
		b.WriteString(record(r))
	}
	return b.String()
}

// Retryable reports whether any refused record may land on a retry (RetryClassifier). A
// batch where every refusal is a validation or permission problem is not: the file, the
// mapping or the CRM's settings need fixing.
func (e *BatchError) Retryable() bool {
	for _, r := range e.Records {
		if r.Retryable {
			return true
		}
	}
	return false
}

// RejectedRecords is the number of records refused (RecordsRejecter).
func (e *BatchError) RejectedRecords() int { return len(e.Records) }

// ConfigError is a problem with a CRM URL, its mapping or the credentials it references:
// nothing a retry cures.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// Retryable is always false: the configuration must be fixed.
func (e *ConfigError) Retryable() bool { return false }

// ConfigErrorf formats a ConfigError.
func ConfigErrorf(format string, a ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, a...)}
}

// AuthClassifier is implemented by connector errors that know whether the CRM refused our
// credentials (an invalid, expired or revoked token or key, missing scopes) rather than
// failed otherwise.
type AuthClassifier interface {
	AuthFailed() bool
}

// AuthFailed reports whether err says the CRM refused our credentials, so that an operator
// is told to fix the credential rather than the network.
func AuthFailed(err error) bool {
	var ac AuthClassifier
	return errors.As(err, &ac) && ac.AuthFailed()
}
