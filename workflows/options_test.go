package workflows

import (
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/oppsync/oppsync/customersync"
)

// Every activity's retry policy, as the workflow has run with since each activity was added:
// a refactor of how they are built must leave them as they are.
func TestActivityRetryPolicies(t *testing.T) {
	for _, c := range []struct {
		name                 string
		got                  *temporal.RetryPolicy
		initial, maxInterval time.Duration
		attempts             int32
	}{
		{"Check", checkOptions.RetryPolicy, 2 * time.Second, 30 * time.Second, 4},
		{"ListOutbound", listOptions.RetryPolicy, time.Second, 30 * time.Second, 5},
		{"SyncFile", syncFileOptions.RetryPolicy, 2 * time.Second, 2 * time.Minute, 8},
		{"SendChanges", sendOptions.RetryPolicy, 2 * time.Second, time.Minute, 6},
		{"CollectResults", resultsOptions.RetryPolicy, 2 * time.Second, time.Minute, 6},
		{"MarkNoAnswer", noAnswerOptions.RetryPolicy, 2 * time.Second, time.Minute, 6},
		{"Poll", pollOptions.RetryPolicy, time.Second, 30 * time.Second, 5},
		{"SyncBatch", syncBatchOptions.RetryPolicy, 2 * time.Second, 2 * time.Minute, 8},
	} {
		p := c.got
		if p == nil || p.InitialInterval != c.initial || p.BackoffCoefficient != 2 || p.MaximumInterval != c.maxInterval ||
			p.MaximumAttempts != c.attempts || !slices.Equal(p.NonRetryableErrorTypes, customersync.NonRetryableErrors) {
			t.Errorf("%s retry policy %+v, want %s initial, ×2, %s at most, %d attempts, %v not retried",
				c.name, p, c.initial, c.maxInterval, c.attempts, customersync.NonRetryableErrors)
		}
	}
}
