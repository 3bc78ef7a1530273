package hubspot

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/temporal"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm/hubspot/hscontract"
	"github.com/oppsync/oppsync/logging"
)

const leadEmail = "jane.doe@example.com"

// HubSpot's validation messages quote the refused value. What the connector returns keeps
// it (for the quarantine reason, in encrypted history), its log form does not: the
// SDK's "Activity error" line through logging's adapter carries the category, the
// property and the ACE id only.
func TestValidationErrorsLogWithoutTheValue(t *testing.T) {
	invalidEmail := `Property values were not valid: [{\"isValid\":false,\"message\":\"Email address ` + leadEmail +
		` is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]`
	tests := []struct {
		name  string
		setup func(srv *hscontract.Server)
	}{
		{"whole call refused", func(srv *hscontract.Server) {
			srv.Inject(hscontract.Fault{Path: "/batch/upsert", Status: 400,
				Body: `{"status":"error","message":"` + invalidEmail + `","correlationId":"c0ffee00-0001","category":"VALIDATION_ERROR"}`})
		}},
		{"record refused in a batch", func(srv *hscontract.Server) {
			srv.Enumeration("contacts", "email", "someone.else@example.com")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t)
			tt.setup(srv)
			s, _ := openFake(t, srv, "")
			rec := lead("L0001", lm(1), "jane.doe", "Doe") // e-mail jane.doe@example.com
			_, err := s.Upsert(context.Background(), src, []ace.Record{rec})
			var be *BatchError
			if !errors.As(err, &be) || len(be.Records) != 1 {
				t.Fatalf("Upsert = %v, want a BatchError refusing the lead", err)
			}
			if !strings.Contains(err.Error(), leadEmail) {
				t.Fatalf("the error %q lost HubSpot's message: the quarantine reason needs it", err)
			}
			var buf bytes.Buffer
			// As activities.SyncFile returns it, and the SDK logs it.
			actErr := temporal.NewNonRetryableApplicationError(err.Error(), "BadFile", err)
			logging.Temporal(zerolog.New(&buf)).Error("Activity error.", "Error", actErr)
			out := buf.String()
			if strings.Contains(out, leadEmail) {
				t.Fatalf("log line quotes the e-mail:\n%s", out)
			}
			for _, want := range []string{"L0001", CategoryValidation, "email", src.Key} {
				if !strings.Contains(out, want) {
					t.Errorf("log line lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
