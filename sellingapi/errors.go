package sellingapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
)

// ErrorMetadata is what every error of this package knows about the failed call besides the
// service's code and message: the operation, the HTTP status and AWS's request id (quote it to
// AWS support).
type ErrorMetadata struct {
	Operation  string
	StatusCode int
	RequestID  string
}

// apiError is implemented by the generated error types and APIError.
type apiError interface {
	smithy.APIError
	metadata() *ErrorMetadata
}

// APIError is an error response whose code the model does not declare (for example the
// authentication layer's UnrecognizedClientException or InvalidSignatureException), or one
// without a code at all (a proxy's HTML page).
type APIError struct {
	Code    string
	Message string
	Fault   smithy.ErrorFault
	ErrorMetadata
}

// Error describes the error for an operator, without the request.
func (e *APIError) Error() string { return formatAPIError(e, &e.ErrorMetadata) }

// ErrorCode returns the service's error code ("" if the response carried none).
func (e *APIError) ErrorCode() string { return e.Code }

// ErrorMessage returns the service's message.
func (e *APIError) ErrorMessage() string { return e.Message }

// ErrorFault says whether the client or the service is at fault (by HTTP status).
func (e *APIError) ErrorFault() smithy.ErrorFault { return e.Fault }

func (e *APIError) metadata() *ErrorMetadata { return &e.ErrorMetadata }

// errorDetail adds the field errors to ValidationException's message: the fields and codes
// say what to fix. The per-field messages stay in ErrorList, out of Error(), since they may
// quote the submitted values (customer record text).
func (e *ValidationException) errorDetail() string {
	var b strings.Builder
	if e.Reason != "" {
		fmt.Fprintf(&b, " (reason %s)", e.Reason)
	}
	if len(e.ErrorList) > 0 {
		b.WriteString("; fields:")
		for i, fe := range e.ErrorList {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s %s", derefString(fe.FieldName), fe.Code)
		}
	}
	return b.String()
}

// errorDetail adds the reason access was denied.
func (e *AccessDeniedException) errorDetail() string {
	if e.Reason == "" {
		return ""
	}
	return fmt.Sprintf(" (reason %s)", e.Reason)
}

// formatAPIError renders "partnercentral-selling UpdateOpportunity: ConflictException: <message>
// (HTTP 409, request id ...)". It never includes the request, whose body carries customer records.
func formatAPIError(e smithy.APIError, m *ErrorMetadata) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", SigningName, m.Operation)
	code := e.ErrorCode()
	if code == "" {
		code = fmt.Sprintf("HTTP %d %s without an error code", m.StatusCode, http.StatusText(m.StatusCode))
	}
	b.WriteString(code)
	if msg := e.ErrorMessage(); msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	if d, ok := e.(interface{ errorDetail() string }); ok {
		b.WriteString(d.errorDetail())
	}
	fmt.Fprintf(&b, " (HTTP %d", m.StatusCode)
	if m.RequestID != "" {
		fmt.Fprintf(&b, ", request id %s", m.RequestID)
	}
	b.WriteString(")")
	return b.String()
}

// sanitizeErrorCode strips what awsJson1_0 allows around an error code: a "namespace#" prefix
// and a ":"-separated suffix (https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html#operation-error-serialization).
func sanitizeErrorCode(code string) string {
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return strings.TrimSpace(code)
}

// decodeError turns a non-2xx response into a typed error. The code comes from the
// X-Amzn-ErrorType header, else the body's __type (or code); the message from message or
// Message.
func decodeError(op string, resp *http.Response, body []byte) error {
	meta := ErrorMetadata{Operation: op, StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Amzn-RequestId")}
	var envelope struct {
		Type       string `json:"__type"`
		Code       string `json:"code"`
		MessageLow string `json:"message"`
		MessageUp  string `json:"Message"`
	}
	// A body that is not JSON (a proxy's error page) still yields an APIError from the status.
	isJSON := json.Unmarshal(body, &envelope) == nil
	code := sanitizeErrorCode(resp.Header.Get("X-Amzn-ErrorType"))
	if code == "" {
		code = sanitizeErrorCode(envelope.Type)
	}
	if code == "" {
		code = sanitizeErrorCode(envelope.Code)
	}
	msg := envelope.MessageLow
	if msg == "" {
		msg = envelope.MessageUp
	}
	if newErr, ok := errorTypes[code]; ok && isJSON {
		e := newErr()
		if err := json.Unmarshal(body, e); err != nil {
			return fmt.Errorf("%s %s: decoding %s (HTTP %d, request id %s): %w", SigningName, op, code, resp.StatusCode, meta.RequestID, err)
		}
		// encoding/json matches member names case-insensitively, so Message takes "message" too.
		*e.metadata() = meta
		return e
	}
	fault := smithy.FaultClient
	if resp.StatusCode >= 500 {
		fault = smithy.FaultServer
	}
	return &APIError{Code: code, Message: msg, Fault: fault, ErrorMetadata: meta}
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// errNoMorePages is what NextPage returns after the last page.
func errNoMorePages(op string) error {
	return fmt.Errorf("%s %s: no more pages", SigningName, op)
}
