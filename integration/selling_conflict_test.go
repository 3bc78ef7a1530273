package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/oppsync/oppsync/sellingapi"

	"github.com/oppsync/oppsync/crm"
)

// AWS's edit (UpdateOpportunityAsAWS) reaches the CRM; then both sides edit in the same
// cycle window: different fields merge (each side's value on both sides), the same field
// ends in a conflict surfaced on the CRM record with AWS's value kept in ACE, never a
// silently lost update.
func TestSellingConcurrentEdits(t *testing.T) {
	eachSellConnector(t, "selledit", func(t *testing.T, c *sellCustomer) {
		w := startWorkerProcess(t, c.taskQueue)
		defer w.stop(t)
		id, aceID := c.awsEditedOpportunity(t)

		// Both sides edit, different fields, before the next cycle: both edits survive on
		// both sides.
		if err := env.stack.SellingAPI.UpdateOpportunityAsAWS(c.account, sellCatalog, aceID,
			map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS: workshop booked"}}); err != nil {
			t.Fatal(err)
		}
		c.crm.edit(t, id, map[string]string{"targetCloseDate": "2027-04-30"})
		sum := c.forceSend(t)
		if !sum.OK() {
			t.Fatalf("cycle with edits of different fields: %v", sum.Errors)
		}
		if r := sellMust(t, c.crm, id); r.Status == string(crm.SyncRejected) {
			t.Logf("edits of different fields rejected: %s", r.Errors)
		}
		sellEventually(t, time.Minute, "both edits on both sides", func() (bool, string) {
			o := c.opportunity(t, aceID)
			r := sellMust(t, c.crm, id)
			ok := nextSteps(o) == "AWS: workshop booked" && closeDate(o) == "2027-04-30" &&
				r.Fields["nextStep"] == "AWS: workshop booked" && r.Fields["targetCloseDate"] == "2027-04-30"
			if !ok {
				c.syncNow(t)
			}
			return ok, fmt.Sprintf("ACE: next step %q, close date %q; CRM record %s: nextStep %q, targetCloseDate %q",
				nextSteps(o), closeDate(o), r, r.Fields["nextStep"], r.Fields["targetCloseDate"])
		})

		// Both sides edit the same field: a conflict, not a lost update.
		if err := env.stack.SellingAPI.UpdateOpportunityAsAWS(c.account, sellCatalog, aceID,
			map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS: call the customer"}}); err != nil {
			t.Fatal(err)
		}
		c.crm.edit(t, id, map[string]string{"nextStep": "Partner: send the proposal"})
		sum = c.forceSend(t)
		r := sellMust(t, c.crm, id)
		o := c.opportunity(t, aceID)
		t.Logf("%s: after the conflicting edits: cycle %+v; ACE's next step %q; CRM record %s, nextStep %q",
			c.connector, sum.Counts, nextSteps(o), r, r.Fields["nextStep"])
		if got := nextSteps(o); got != "AWS: call the customer" {
			t.Errorf("ACE's next step is %q: AWS's concurrent edit was overwritten without a conflict", got)
		}
		if r.Status != string(crm.SyncRejected) || !strings.Contains(r.Errors, "conflict") || !strings.Contains(r.Errors, "nextStep") {
			t.Errorf("the CRM record is %s: want rejected with a conflict naming nextStep (the sales team's edit did not go)", r)
		}

		// The sales team's next edit goes, with the value the record then holds.
		c.crm.edit(t, id, map[string]string{"nextStep": "Partner: proposal sent"})
		sellEventually(t, time.Minute, "the edit after the conflict in ACE", func() (bool, string) {
			sum := c.forceSend(t)
			o, r := c.opportunity(t, aceID), sellMust(t, c.crm, id)
			return nextSteps(o) == "Partner: proposal sent" && r.Status == string(crm.SyncAccepted),
				fmt.Sprintf("cycle %+v %v; ACE's next step %q; CRM record %s", sum.Counts, sum.Errors, nextSteps(o), r)
		})
		if n, m := len(c.opportunities(t)), len(c.crm.all(t)); n != 1 || m != 1 {
			t.Errorf("ACE holds %d opportunities, the CRM %d; want 1 each", n, m)
		}
	})
}

func nextSteps(o *sellingapi.GetOpportunityOutput) string {
	if o.LifeCycle == nil {
		return ""
	}
	return aws.ToString(o.LifeCycle.NextSteps)
}

// sellEventually is eventually, saying what it saw last when it times out.
func sellEventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func closeDate(o *sellingapi.GetOpportunityOutput) string {
	if o.LifeCycle == nil {
		return ""
	}
	return aws.ToString(o.LifeCycle.TargetCloseDate)
}
