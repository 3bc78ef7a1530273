package logging

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
)

// LogSafer is implemented by errors whose text can quote record values: a CRM's validation
// message names the offending e-mail or name ("jane.doe@example.com is not a valid
// email"), a malformed answer's excerpt can hold a record. LogSafe returns what a log may
// carry: codes, categories, field names, record ids, the operation and HTTP status. The
// full text (Error) stays for Temporal's encrypted history and the status query.
type LogSafer interface {
	error
	LogSafe() string
}

// SafeError renders err for a log line. Each error in err's chain (errors.Unwrap, and
// errors.Join's lists) that implements LogSafer has its text replaced by its LogSafe form,
// so the context its wrappers add ("write 3 records of opportunity-outbound/a.json to the
// CRM for customer acme/prod: …") survives and the record values do not. A wrapper whose
// text does not hold its cause's text verbatim may paraphrase it: then only the safe forms
// of the chain are returned. A Temporal application error keeps its message when the
// CRM's text in it can be rewritten, its type and retryability always.
//
// Errors that implement no LogSafer are rendered as they are: OppSync's own messages
// describe values by type and length, never quote them.
func SafeError(err error) string {
	if err == nil {
		return ""
	}
	if s, ok := err.(LogSafer); ok {
		return s.LogSafe()
	}
	if len(logSafers(err, nil)) == 0 {
		return err.Error()
	}
	if appErr, ok := err.(*temporal.ApplicationError); ok {
		return safeApplicationError(appErr)
	}
	text := err.Error()
	for _, c := range causes(err) {
		full := c.Error()
		if full == "" || !strings.Contains(text, full) {
			return joinSafe(logSafers(err, nil))
		}
		text = strings.ReplaceAll(text, full, SafeError(c))
	}
	return text
}

// safeApplicationError renders a Temporal application error whose cause holds a LogSafer.
// Its Error() is its message, type and cause's text; the message is the full text the
// activity wrote (the quarantine reason), usually with the cause's text in it.
func safeApplicationError(e *temporal.ApplicationError) string {
	cause := errors.Unwrap(e)
	kind := fmt.Sprintf("(type: %s, retryable: %v)", e.Type(), !e.NonRetryable())
	if full := cause.Error(); full != "" && strings.Contains(e.Message(), full) {
		return strings.ReplaceAll(e.Message(), full, SafeError(cause)) + " " + kind
	}
	return kind + ": " + SafeError(cause)
}

// causes is what err wraps: errors.Unwrap's one, or errors.Join's list.
func causes(err error) []error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		return u.Unwrap()
	}
	if c := errors.Unwrap(err); c != nil {
		return []error{c}
	}
	return nil
}

func joinSafe(safers []LogSafer) string {
	safe := make([]string, len(safers))
	for i, s := range safers {
		safe[i] = s.LogSafe()
	}
	return strings.Join(safe, "; ")
}

// logSafers collects the outermost LogSafers of err's chain: it does not descend into one,
// whose LogSafe form speaks for its causes too.
func logSafers(err error, out []LogSafer) []LogSafer {
	if err == nil {
		return out
	}
	if s, ok := err.(LogSafer); ok {
		return append(out, s)
	}
	for _, c := range causes(err) {
		out = logSafers(c, out)
	}
	return out
}
