package activities

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
)

// A CRM call cut short by the attempt's own end is retried; a refusal no retry cures is not.
func TestCRMErrorRetryable(t *testing.T) {
	target := customersync.Target{Customer: "acme", Env: string(customersync.EnvProd)}
	for _, tc := range []struct {
		name      string
		err       error
		retryable bool
	}{
		{"cancelled", fmt.Errorf("Salesforce upsert: %w", context.Canceled), true},
		{"network", errors.New("connection reset by peer"), true},
		{"record gone", crm.ErrRecordGone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := crmError(target, "write", tc.err)
			var app *temporal.ApplicationError
			nonRetryable := errors.As(err, &app) && app.NonRetryable()
			if nonRetryable == tc.retryable {
				t.Errorf("crmError(%v) = %v: non-retryable %v, want retryable %v", tc.err, err, nonRetryable, tc.retryable)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("crmError(%v) = %v: the cause is lost", tc.err, err)
			}
		})
	}
}
