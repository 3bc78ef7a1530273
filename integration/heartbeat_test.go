package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/oppsync/oppsync/ace"
)

// A HubSpot portal at its default limit (100 requests per 10 s, the connector's own
// limiter: about 500 records a second read and written) takes a 20,000-record backlog in
// one batch of about 40 s, with a 5 s heartbeat timeout: the batch heartbeats from inside
// the connector's loop and its rate-limit waits, so it completes on its first attempt.
func TestRateLimitedBacklogKeepsHeartbeating(t *testing.T) {
	requireStack(t)
	var hs connector
	for _, cn := range connectors {
		if cn.name == "hubspot" {
			hs = cn
		}
	}
	fake := hs.start(t)
	c := newCustomer(t, "heartbeat")
	c.crmURL = fake.url() // the connector's default limiter: rate_limit=100, rate_interval=10s
	startWorker(t, c.taskQueue)
	cfg := c.config()
	cfg.BatchHeartbeat = 5 * time.Second
	c.enroll(t, cfg)

	const files, perFile = 200, 100
	for i := range files {
		c.putAsACE(t, fmt.Sprintf("opportunity-outbound/hb%03d.json", i),
			opportunityFile(t, ids("O", i*perFile, perFile), time.Now(), "Prospect"))
	}
	start := time.Now()
	s := c.syncNow(t)
	if !s.OK() || s.Counts.Inserted != files*perFile || s.Counts.Reread != 0 {
		t.Fatalf("backlog cycle: %+v, errors %v; want %d inserted on the first attempt", s.Counts, s.Errors, files*perFile)
	}
	if n := len(fake.all(ace.ObjectOpportunity)); n != files*perFile {
		t.Fatalf("HubSpot holds %d deals, want %d", n, files*perFile)
	}
	// Every SyncBatch ran once: no heartbeat timeout made Temporal retry it.
	it := env.temporal.GetWorkflowHistory(context.Background(), c.workflowID(), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	batches := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() > 1 {
			t.Fatalf("an activity ran %d times: %v", a.GetAttempt(), ev)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "SyncBatch" {
			batches++
		}
	}
	t.Logf("%d records in %d batch(es) in %s under a 5 s heartbeat timeout", files*perFile, batches, time.Since(start).Round(time.Second))
	if batches != 1 {
		t.Fatalf("%d SyncBatch activities, want the backlog in one batch", batches)
	}
}
