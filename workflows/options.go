package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/customersync"
)

// Activity options: every activity has a timeout and a retry policy (retryPolicy); errors no
// retry can cure (bad files, access denied) are not retried.
var (
	checkOptions = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         retryPolicy(2*time.Second, 30*time.Second, 4),
		Summary:             "check the access chain",
	}
	// pollOptions: Poll only reads (two LISTs, a CRM read, and the results folders while
	// files are pending), so it runs as a local activity: no activity task round trip, one
	// marker event, and an idle cycle costs two Temporal actions (the timer and the poll).
	pollOptions = workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 5 * time.Minute,
		StartToCloseTimeout:    time.Minute,
		RetryPolicy:            retryPolicy(time.Second, 30*time.Second, 5),
		Summary:                "poll ACE's outbound folders and the CRM",
	}
	// syncBatchOptions: a batch may take long against a rate-limited CRM (a HubSpot portal
	// at ~500 records/s takes a 20,000-record backlog in under a minute, Salesforce's daily
	// limits may slow it further); the activity heartbeats from inside the connectors, so a
	// killed worker is noticed within the heartbeat timeout and the batch resumes on
	// another worker from its last heartbeat.
	syncBatchOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    customersync.DefaultBatchHeartbeat, // CustomerConfig.BatchHeartbeat
		RetryPolicy:         retryPolicy(2*time.Second, 2*time.Minute, 8),
	}
	sendOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         retryPolicy(2*time.Second, time.Minute, 6),
		Summary:             "send CRM changes to ACE",
	}
	resultsOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         retryPolicy(2*time.Second, time.Minute, 6),
		Summary:             "read ACE's results",
	}
	noAnswerOptions = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         retryPolicy(2*time.Second, time.Minute, 6),
		Summary:             "mark unanswered records",
	}
)

// Options of the per-file cycle's activities (runs started before versionBatches).
var (
	listOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         retryPolicy(time.Second, 30*time.Second, 5),
		Summary:             "list outbound folders",
	}
	syncFileOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		// A worker killed mid-file is noticed within the heartbeat timeout, not the
		// start-to-close timeout, and the file is retried on another worker.
		HeartbeatTimeout: 20 * time.Second,
		RetryPolicy:      retryPolicy(2*time.Second, 2*time.Minute, 8),
	}
)

// retryPolicy is every OppSync activity's retry policy: exponential back-off (×2) from
// initial, capped at maxInterval, at most attempts attempts, and no retry of the errors no
// retry can cure (customersync.NonRetryableErrors).
func retryPolicy(initial, maxInterval time.Duration, attempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: initial, BackoffCoefficient: 2, MaximumInterval: maxInterval,
		MaximumAttempts: attempts, NonRetryableErrorTypes: customersync.NonRetryableErrors}
}
