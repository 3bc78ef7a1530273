package integration

import (
	"fmt"
	"testing"
	"time"

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
	batches := 0
	for _, ev := range historyEvents(t, c.workflowID()) {
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

// A live worker waiting on one slow CRM answer keeps its activity heartbeating: Salesforce
// or HubSpot takes 15 s to answer the batch's write, with a 5 s heartbeat timeout and a
// second worker on the queue. Without the connectors' keep-alive (crm.ProgressWhile)
// Temporal would time the attempt out and retry it on the other worker while the first
// write was still in flight, two writes of one customer's records at once, the older free
// to land last past its stale check. With it the batch runs once.
func TestSlowCRMAnswerKeepsHeartbeating(t *testing.T) {
	requireStack(t)
	for _, cn := range connectors {
		t.Run(cn.name, func(t *testing.T) {
			requireStack(t)
			fake := cn.start(t)
			holdWrites(t, fake, "Slow Company", 15*time.Second)
			c := newCustomer(t, "slowcrm-"+cn.name)
			c.crmURL = fake.url()
			a, b := startWorkerProcess(t, c.taskQueue), startWorkerProcess(t, c.taskQueue)
			defer a.stop(t)
			defer b.stop(t)
			cfg := c.config()
			cfg.BatchHeartbeat = 5 * time.Second
			c.enroll(t, cfg)

			c.putAsACE(t, "opportunity-outbound/slow.json", opportunityFileNamed(t, "O0000777", time.Now(), "Prospect", "Slow Company"))
			start := time.Now()
			s := c.syncNow(t)
			took := time.Since(start)
			for _, ev := range historyEvents(t, c.workflowID()) {
				if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() > 1 {
					t.Fatalf("an activity was retried (attempt %d) while its first attempt waited on the CRM: %v", a.GetAttempt(), ev)
				}
				if a := ev.GetActivityTaskTimedOutEventAttributes(); a != nil {
					t.Fatalf("an activity timed out while it waited on the CRM: %v", ev)
				}
			}
			if !s.OK() || s.Counts.Inserted != 1 {
				t.Fatalf("cycle: %+v, errors %v; want the record inserted", s.Counts, s.Errors)
			}
			if n := len(fake.all(ace.ObjectOpportunity)); n != 1 {
				t.Fatalf("the CRM holds %d opportunities, want 1", n)
			}
			t.Logf("%s: the cycle took %s with a 15 s CRM answer under a 5 s heartbeat timeout", cn.name, took.Round(time.Second))
		})
	}
}
