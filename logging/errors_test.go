package logging

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
)

// refusal is a CRM error whose message quotes a record's value, as crm.BatchError is.
type refusal struct{ id, code, field, msg string }

func (r *refusal) Error() string {
	return fmt.Sprintf("%s: %s: %s (fields %s)", r.id, r.code, r.msg, r.field)
}
func (r *refusal) LogSafe() string { return fmt.Sprintf("%s: %s (fields %s)", r.id, r.code, r.field) }

const pii = "jane.doe@example.com"

func newRefusal() *refusal {
	return &refusal{id: "O123", code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", field: "Email__c", msg: pii + " is not a valid e-mail"}
}

func TestSafeErrorLeavesCRMTextOut(t *testing.T) {
	r := newRefusal()
	tests := []struct {
		name string
		err  error
		want []string // besides the id, code and field
	}{
		{"bare", r, nil},
		{"wrapped", fmt.Errorf("write 1 records of opportunity-outbound/a.json to the CRM for customer acme/prod: %w", r),
			[]string{"opportunity-outbound/a.json", "acme/prod"}},
		{"joined", errors.Join(errors.New("first problem"), fmt.Errorf("second: %w", r)), []string{"first problem", "second"}},
		// As the activities return it: the full text as message (the quarantine reason),
		// the CRM's error as cause.
		{"application error", temporal.NewNonRetryableApplicationError(r.Error(), "BadFile", r), []string{"BadFile"}},
		{"application error in an application error", fmt.Errorf("outer: %w",
			temporal.NewNonRetryableApplicationError("write for customer acme/prod: "+r.Error(), "CRMConfig", r)), []string{"CRMConfig", "acme/prod"}},
		// A wrapper that does not repeat the cause's text: only the safe form is left.
		{"summarised", temporal.NewNonRetryableApplicationError("CRM said: "+strings.ToUpper(r.Error()), "X", r), nil},
		{"summarised and wrapped", fmt.Errorf("outer: %w", temporal.NewNonRetryableApplicationError("CRM said: "+strings.ToUpper(r.Error()), "X", r)), []string{"outer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SafeError(tt.err)
			if strings.Contains(strings.ToLower(got), pii) {
				t.Fatalf("SafeError = %q: it quotes the record's e-mail", got)
			}
			for _, want := range append([]string{"O123", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Email__c"}, tt.want...) {
				if !strings.Contains(got, want) {
					t.Errorf("SafeError = %q, want it to keep %q", got, want)
				}
			}
		})
	}
	if got := SafeError(errors.New("dial tcp: connection refused")); got != "dial tcp: connection refused" {
		t.Errorf("an ordinary error changed: %q", got)
	}
	if SafeError(nil) != "" {
		t.Error("SafeError(nil) is not empty")
	}
}

// The SDK logs a failed activity as "Activity error." with the error under "Error".
func TestTemporalLoggerRendersErrorsSafely(t *testing.T) {
	var buf bytes.Buffer
	l := Temporal(zerolog.New(&buf))
	err := temporal.NewNonRetryableApplicationError(newRefusal().Error(), "BadFile", newRefusal())
	l.Error("Activity error.", "WorkflowID", "oppsync/acme/prod", "Error", err)
	l.(log.WithLogger).With("Error", err).Warn("with")
	out := buf.String()
	if strings.Contains(out, pii) {
		t.Fatalf("log quotes the record's e-mail:\n%s", out)
	}
	if n := strings.Count(out, `"Error":"O123: FIELD_CUSTOM_VALIDATION_EXCEPTION (fields Email__c)`); n != 2 {
		t.Fatalf("log lines lack the refusal's safe form (%d of 2):\n%s", n, out)
	}
}

// Loggers made by New render Err fields safely, whoever logs them.
func TestNewRendersErrFieldsSafely(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	l, err := New(f, FormatJSON, "info")
	if err != nil {
		t.Fatal(err)
	}
	l.Warn().Err(fmt.Errorf("quarantined: %w", newRefusal())).Msg("file quarantined")
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), pii) || !strings.Contains(string(b), "O123: FIELD_CUSTOM_VALIDATION_EXCEPTION") {
		t.Fatalf("log line %s: want the refusal's safe form, without the e-mail", b)
	}
}
