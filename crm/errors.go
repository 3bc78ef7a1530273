package crm

import (
	"context"
	"errors"
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
