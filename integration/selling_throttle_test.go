package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack/sellingcontract"
)

// The contract server's quotas lowered (SetQuotas: 3 reads and one write every 2 s per
// account, under the worker's own 10 and 1): the worker's calls are throttled, and the
// cycles still bring every opportunity into the CRM and every CRM opportunity into ACE,
// once each.
func TestSellingThrottlingSurvived(t *testing.T) {
	requireStack(t)
	c := newSellCustomer(t, "sellthrottle", sellConnectors[0])
	const seeded, created = 6, 3
	for i := range seeded {
		c.seed(t, fmt.Sprintf("Seeded %d", i))
	}
	for i := range created {
		rec := sellOpportunity(t, "", "Created")
		rec["status"] = "Draft" // not submitted: fewer writes
		c.crm.create(t, fmt.Sprintf("CRM-T%d", i), rec)
	}
	env.stack.SellingAPI.SetQuotas(3, 0.5)
	t.Cleanup(func() {
		env.stack.SellingAPI.SetQuotas(sellingcontract.DefaultReadsPerSecond, sellingcontract.DefaultWritesPerSecond)
	})
	w := startWorkerProcess(t, c.taskQueue)
	defer w.stop(t)
	before := env.stack.SellingAPI.Calls()
	c.start(t, c.apiConfig()) // the first cycle runs at once, under the quotas

	cycles := 0
	var last customersync.CycleSummary
	eventually(t, 6*time.Minute, "every record on both sides", func() bool {
		recs := c.crm.all(t)
		done := len(recs) == seeded+created
		for _, r := range recs {
			if r.ACEID == "" || (strings.HasPrefix(r.CRMID, "CRM-T") && r.Status != string(crm.SyncAccepted) && r.Status != string(crm.SyncUpToDate)) {
				done = false
			}
		}
		if !done {
			last = c.syncNow(t)
			cycles++
			if len(last.Errors) > 0 {
				t.Logf("cycle %d: %v", cycles, last.Errors)
			}
		}
		return done
	})
	if n := len(c.opportunities(t)); n != seeded+created {
		t.Errorf("ACE holds %d opportunities, want %d (no duplicate from a retried create)", n, seeded+created)
	}
	calls := callsSince(before)
	writes := calls["CreateOpportunity"] + calls["AssociateOpportunity"] + calls["UpdateOpportunity"]
	// Without throttling: one create and three associations per CRM opportunity.
	if writes <= created*4 {
		t.Errorf("%d write calls for %d creates: the quotas did not throttle the worker (calls %v)", writes, created, calls)
	}
	st := c.status(t)
	if st.State.LastCycle == nil || !st.State.LastCycle.OK() {
		t.Errorf("the last cycle is not OK: %+v", st.State.LastCycle)
	}
	t.Logf("under 3 reads/s and 0.5 writes/s: %d extra cycles, Selling API calls %v (%d in all, for %d records)",
		cycles, calls, sumCalls(calls), seeded+created)
}

func sumCalls(calls map[string]int) int {
	n := 0
	for _, v := range calls {
		n += v
	}
	return n
}
