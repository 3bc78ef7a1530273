package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack/fakests"
)

// Each lifecycle command works through the CLI, and is refused with a clear message when it
// does not apply; offboarding ends the workflow and enrolling again starts afresh.
func TestLifecycleCommands(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "lifecycle")
	startWorker(t, c.taskQueue)
	c.enroll(t, c.config())
	who := []string{"--customer", c.Name, "--env", "beta"}
	starter := func(args ...string) (string, error) { return run(t, "starter", args...) }
	mustOK := func(want string, args ...string) {
		t.Helper()
		out, err := starter(args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("starter %v: err=%v, want output with %q:\n%s", args, err, want, out)
		}
	}
	mustFail := func(want string, args ...string) {
		t.Helper()
		out, err := starter(args...)
		if err == nil || !strings.Contains(out, want) {
			t.Fatalf("starter %v: err=%v, want a failure mentioning %q:\n%s", args, err, want, out)
		}
	}

	mustOK("every link works", append([]string{"check"}, who...)...)
	mustFail("not paused", append([]string{"resume"}, who...)...)
	mustFail("required", append([]string{"pause"}, who...)...) // --reason is required
	mustOK("paused lifecycle/beta", append([]string{"pause", "--reason", "customer migrating CRM"}, who...)...)
	mustFail("already paused", append([]string{"pause", "--reason", "again"}, who...)...)
	mustFail("paused", append([]string{"sync-now", "--wait"}, who...)...)
	if st := c.status(t); st.Health != customersync.HealthPaused || st.State.PauseReason != "customer migrating CRM" {
		t.Fatalf("status while paused: health %s, reason %q", st.Health, st.State.PauseReason)
	}
	// A file arriving while paused is not synced...
	c.putAsACE(t, "opportunity-outbound/while-paused.json", opportunityFile(t, ids("O", 1, 2), time.Now(), "Prospect"))
	time.Sleep(time.Second)
	if n := len(c.records(t, "opportunity")); n != 0 {
		t.Fatalf("%d records synced while paused", n)
	}
	// ...until resume, which runs a cycle at once.
	mustOK("resumed", append([]string{"resume"}, who...)...)
	eventually(t, time.Minute, "the file synced after resume", func() bool { return len(c.records(t, "opportunity")) == 2 })

	mustFail("poll interval", append([]string{"configure", "--poll-interval", "1s"}, who...)...)
	mustFail("ack mode", append([]string{"configure", "--ack", "archive"}, who...)...)
	mustFail("nothing to change", append([]string{"configure"}, who...)...)
	// A CRM credential given by value never reaches the workflow, and is not repeated.
	if out, err := starter(append([]string{"configure", "--crm", "hubspot://api.hubapi.com?token=pat-na1-lifecycle"}, who...)...); err == nil ||
		!strings.Contains(out, "token_env=VAR") || strings.Contains(out, "pat-na1-lifecycle") {
		t.Fatalf("configure with an inline HubSpot token: err=%v, output:\n%s", err, out)
	}
	if st := c.status(t); st.Config.CRM != c.crmURL {
		t.Fatalf("CRM after a refused configure: %s", st.Config.CRM)
	}
	mustOK(c.crmURL, append([]string{"status"}, who...)...) // status shows the (redacted) CRM URL
	mustOK("poll every 30m0s", append([]string{"configure", "--poll-interval", "30m"}, who...)...)
	if st := c.status(t); st.Config.PollInterval != 30*time.Minute || st.Config.Bucket != c.Bucket {
		t.Fatalf("after configure: poll %s, bucket %s", st.Config.PollInterval, st.Config.Bucket)
	}

	mustFail("no file is quarantined", append([]string{"redrive"}, who...)...)
	c.putAsACE(t, "opportunity-outbound/broken.json", []byte(`{"version":"2.0","opportunities":[{"customerCompanyName":"no id"}]}`))
	mustOK("1 files quarantined", append([]string{"sync-now", "--wait"}, who...)...)
	mustFail("is not quarantined", append([]string{"redrive", "--file", "opportunity-outbound/other.json"}, who...)...)
	// After a fix (here: ACE re-sends the file), re-drive syncs it.
	c.putAsACE(t, "opportunity-outbound/broken.json", opportunityFile(t, ids("O", 10, 1), time.Now(), "Prospect"))
	mustOK("1 files, 1 records", append([]string{"redrive", "--file", "opportunity-outbound/broken.json"}, who...)...)

	mustOK("offboarded lifecycle/beta", append([]string{"offboard"}, who...)...)
	desc, err := env.temporal.DescribeWorkflow(context.Background(), c.workflowID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if s := desc.RawResponse.GetWorkflowExecutionInfo().GetStatus(); s != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("workflow status after offboard = %s, want completed", s)
	}
	mustFail("not enrolled", append([]string{"pause", "--reason", "x"}, who...)...)
	// Enrolling again later works and starts from a clean state.
	c.enroll(t, c.config())
	if st := c.status(t); st.Health != customersync.HealthHealthy || st.State.Cycles != 1 {
		t.Fatalf("after re-enroll: health %s, %d cycles", st.Health, st.State.Cycles)
	}
}

// A customer whose role trust is broken goes to needs-attention with the diagnosis (findable
// by a visibility query), stops burning retries, and heals by itself once fixed.
func TestBrokenTrustNeedsAttentionThenHeals(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "broken")
	startWorker(t, c.taskQueue)
	// The customer's role trusts another External ID than the one we were given.
	creds := fakests.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
	env.stack.STS.AddRole(c.RoleARN, "some-other-external-id", creds)
	cfg := c.config()
	cfg.PollInterval = customersync.MinPollInterval
	c.enroll(t, cfg)

	st := c.status(t)
	if st.Health != customersync.HealthNeedsAttention || !strings.Contains(st.State.Diagnosis, "sts:AssumeRole is broken") ||
		!strings.Contains(st.State.Diagnosis, "External ID") {
		t.Fatalf("health %s, diagnosis %q: want needs-attention naming AssumeRole and the External ID", st.Health, st.State.Diagnosis)
	}
	out, err := run(t, "starter", "check", "--customer", c.Name, "--env", "beta")
	if err == nil || !strings.Contains(out, "FAIL  sts:AssumeRole") {
		t.Fatalf("check with broken trust: err=%v\n%s", err, out)
	}
	// Operators find it with one query.
	query := fmt.Sprintf("SyncState = '%s' AND CustomerId = '%s'", customersync.HealthNeedsAttention, c.Name)
	eventually(t, 30*time.Second, "the customer in the needs-attention query", func() bool {
		resp, err := env.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.GetExecutions()) == 1
	})
	// No retry loop: over a few seconds at most one slow re-check happens.
	before := env.stack.STS.Requests()
	time.Sleep(4 * time.Second)
	if n := env.stack.STS.Requests() - before; n > 2 {
		t.Fatalf("%d AssumeRole calls in 4 s while needs-attention: retries are burning", n)
	}

	// The customer fixes the trust policy; nobody touches OppSync.
	env.stack.STS.AddRole(c.RoleARN, c.ExternalID, creds)
	c.putAsACE(t, "opportunity-outbound/after-fix.json", opportunityFile(t, ids("O", 1, 3), time.Now(), "Prospect"))
	eventually(t, 2*time.Minute, "the customer healthy again on its own", func() bool {
		return c.status(t).Health == customersync.HealthHealthy
	})
	eventually(t, 30*time.Second, "the records synced", func() bool { return len(c.records(t, "opportunity")) == 3 })
}
