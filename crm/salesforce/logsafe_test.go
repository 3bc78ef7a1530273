package salesforce_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/temporal"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm/salesforce"
	"github.com/oppsync/oppsync/crm/salesforce/sfcontract"
	"github.com/oppsync/oppsync/logging"
)

const contactEmail = "jane.doe@example.com"

// Salesforce's validation messages quote the refused value. What the connector returns
// keeps it (for the quarantine reason, in encrypted history), its log form does not: the
// SDK's "Activity error" line through logging's adapter carries the code, the field and
// the ACE id only.
func TestValidationErrorsLogWithoutTheValue(t *testing.T) {
	msg := "Primary contact " + contactEmail + " is already a contact of another account"
	tests := []struct {
		name  string
		setup func(srv *sfcontract.Server)
		want  []string
		// absent is what the log must not show besides the e-mail: a malformed answer's
		// body, which can hold records.
		absent string
	}{
		{"record refused", func(srv *sfcontract.Server) {
			srv.Refuse("O777", sfcontract.RecordFailure{Code: salesforce.CodeCustomValidation, Message: msg, Fields: []string{"ACE_Primary_Contact_Email__c"}})
		}, []string{"O777", salesforce.CodeCustomValidation, "ACE_Primary_Contact_Email__c", "opportunity-outbound/a.json"}, ""},
		{"call refused", func(srv *sfcontract.Server) {
			srv.FailNext(1, sfcontract.Failure{Status: 400, Code: salesforce.CodeCustomValidation, Message: msg})
		}, []string{"HTTP 400", salesforce.CodeCustomValidation}, ""},
		{"malformed answer", func(srv *sfcontract.Server) {
			srv.MalformedNext(10)
		}, []string{salesforce.ErrMalformedResponse.Error()}, "Service temporarily unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, s, _ := setup(t, "")
			tt.setup(srv)
			_, err := s.Upsert(context.Background(), src("a.json"), []ace.Record{opp("O777", "Prospect", t0, "primaryContactEmail", contactEmail)})
			if err == nil {
				t.Fatal("Upsert succeeded, want the org's refusal")
			}
			var actErr error
			var be *salesforce.BatchError
			if errors.As(err, &be) {
				if !strings.Contains(err.Error(), contactEmail) {
					t.Fatalf("the error %q lost Salesforce's message: the quarantine reason needs it", err)
				}
				actErr = temporal.NewNonRetryableApplicationError(err.Error(), "BadFile", err) // as SyncFile quarantines
			} else {
				actErr = fmt.Errorf("write 1 records of a.json to the CRM for customer acme/prod: %w", err) // as crmError retries
			}
			var buf bytes.Buffer
			logging.Temporal(zerolog.New(&buf)).Error("Activity error.", "Error", actErr)
			out := buf.String()
			if strings.Contains(out, contactEmail) {
				t.Fatalf("log line quotes the e-mail:\n%s", out)
			}
			if tt.absent != "" && !strings.Contains(err.Error(), tt.absent) {
				t.Fatalf("the error %q lacks %q: the test proves nothing", err, tt.absent)
			}
			if tt.absent != "" && strings.Contains(out, tt.absent) {
				t.Fatalf("log line quotes %q:\n%s", tt.absent, out)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("log line lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
