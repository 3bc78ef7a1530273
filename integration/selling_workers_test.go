package integration

// Two worker processes on one customer's task queue, on the Selling API transport, against
// the README's promises: never older ACE data over newer, never twice (one opportunity in
// ACE per CRM record), never lost. Each worker reaches the contract server through its own
// proxy (sellingProxy), which can hold back the answer to one call after the server has
// acted on it: the opportunity is created, or AWS's version of it read, but the worker
// hears of it only when the test lets it, as a worker stalled by a slow network or a paused
// VM would. Temporal times the stalled activity out (its heartbeat timeout) and retries it
// on the other worker, since each worker runs one activity at a time
// (--max-concurrent-activities 1) and the stalled one's slot is taken; then the stalled
// attempt resumes, on data that is no longer current: on SQLite it finishes what it was
// doing, and the test checks the harm it could do; on Salesforce and HubSpot its first CRM
// call heartbeats (crm.ProgressWhile), learns that Temporal timed the attempt out, and is
// cancelled before it writes anything (the test requires that).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
)

// The worker's log lines that end a pull and a push (activities/pull.go, push.go).
const (
	pulledMsg = "opportunities pulled from the Selling API"
	pushedMsg = "CRM changes pushed to the Selling API"
)

// callHold holds back the answer to one Selling API call, whichever worker's proxy sees it
// first: arm names the operation (and the opportunity, if any), await waits until a call is
// held and says whose, let releases it.
type callHold struct {
	mu      sync.Mutex
	armed   bool
	op, id  string
	by      string        // the worker whose call is held
	held    chan struct{} // closed once a call is held
	release chan struct{} // closed to let it go
}

func (h *callHold) arm(op, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed, h.op, h.id, h.by = true, op, id, ""
	h.held, h.release = make(chan struct{}), make(chan struct{})
}

// catch returns the channel to wait on when the call is the armed one, else nil.
func (h *callHold) catch(worker, op, id string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.armed || op != h.op || (h.id != "" && id != h.id) {
		return nil
	}
	h.armed, h.by = false, worker
	close(h.held)
	return h.release
}

func (h *callHold) await(t *testing.T, what string) string {
	t.Helper()
	h.mu.Lock()
	held := h.held
	h.mu.Unlock()
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("timed out after 2m waiting for %s", what)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.by
}

func (h *callHold) let() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.release != nil {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
	}
}

type heldCallKey struct{}

type heldCall struct{ op, id string }

// startSellingProxy serves a reverse proxy to the stack's Selling API contract server for
// one worker and returns its URL. The request goes through unchanged (the SigV4 signature
// covers the proxy's host, which the proxy passes on); an answer the hold catches waits.
func startSellingProxy(t *testing.T, worker string, hold *callHold) string {
	t.Helper()
	target, err := url.Parse(env.stack.SellingAPIEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		c, _ := resp.Request.Context().Value(heldCallKey{}).(heldCall)
		if wait := hold.catch(worker, c.op, c.id); wait != nil {
			select {
			case <-wait:
			case <-resp.Request.Context().Done():
			}
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in struct{ Identifier string }
		_ = json.Unmarshal(body, &in)
		target := r.Header.Get("X-Amz-Target")
		op := target[strings.LastIndex(target, ".")+1:]
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), heldCallKey{}, heldCall{op, in.Identifier})))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(hold.let) // runs first: a held answer never blocks the proxy's Close
	return srv.URL
}

// sellWorker is one of the test's worker processes.
type sellWorker struct {
	name string
	*workerProcess
}

// lines returns the worker's log lines with the message, decoded.
func (w sellWorker) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(w.log)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, msg) {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// heartbeatGoneMsg is the SDK's log line when an activity's heartbeat finds its attempt
// over (Temporal timed it out and retried it): the SDK then cancels the attempt's context.
const heartbeatGoneMsg = "RecordActivityHeartbeat with error"

// fenced counts the worker's attempts of an activity type whose heartbeat found them over.
func (w sellWorker) fenced(t *testing.T, activityType string) int {
	t.Helper()
	n := 0
	for _, l := range w.lines(t, heartbeatGoneMsg) {
		if l["ActivityType"] == activityType {
			n++
		}
	}
	return n
}

// resumed waits, once the stalled attempt's held call is let go, for what the connector
// makes of it, and returns the log line of the attempt's end (doneMsg) if it finished.
// SQLite's connector makes no network call: the attempt finishes on data no longer
// current, and the test checks that it did no harm. Salesforce's and HubSpot's heartbeat
// at their first call (crm.ProgressWhile), find the attempt timed out and are cancelled
// before the call goes out: the attempt is fenced off, it writes nothing.
func (w sellWorker) resumed(t *testing.T, c *sellCustomer, activityType, doneMsg string, done, fenced int) map[string]any {
	t.Helper()
	var end map[string]any
	what := "the stalled " + activityType + " finishing on " + w.name
	if c.connector != "sqlite" {
		what = "the stalled " + activityType + " fenced off at its first CRM call on " + w.name
	}
	eventually(t, 2*time.Minute, what, func() bool {
		if l := w.lines(t, doneMsg); len(l) > done {
			end = l[done]
			return true
		}
		return w.fenced(t, activityType) > fenced
	})
	if c.connector == "sqlite" && end == nil {
		t.Fatalf("%s: the stalled %s was cancelled, want it finished (SQLite makes no call that heartbeats)", w.name, activityType)
	}
	if c.connector != "sqlite" && end != nil {
		t.Fatalf("%s: the stalled %s finished (%v), want it fenced off at its first CRM call", w.name, activityType, end)
	}
	return end
}

// startSellWorkers starts two worker processes on the customer's task queue, each running
// one activity at a time and reaching the Selling API through its own proxy.
func startSellWorkers(t *testing.T, c *sellCustomer, hold *callHold) map[string]sellWorker {
	t.Helper()
	out := map[string]sellWorker{}
	for _, name := range []string{"worker-a", "worker-b"} {
		proxy := startSellingProxy(t, name, hold)
		w := startWorkerProcessWith(t, c.taskQueue, []string{activities.SellingEndpointEnv + "=" + proxy}, "--max-concurrent-activities", "1")
		out[name] = sellWorker{name: name, workerProcess: w}
	}
	return out
}

// awsNextStep is AWS's people changing an opportunity's next step.
func awsNextStep(t *testing.T, c *sellCustomer, id, value string) {
	t.Helper()
	if err := env.stack.SellingAPI.UpdateOpportunityAsAWS(c.account, sellCatalog, id,
		map[string]any{"LifeCycle": map[string]any{"NextSteps": value}}); err != nil {
		t.Fatal(err)
	}
}

// aceNextStep is the next step ACE holds for an opportunity.
func aceNextStep(t *testing.T, c *sellCustomer, id string) string {
	t.Helper()
	if o := c.opportunity(t, id); o.LifeCycle != nil {
		return aws.ToString(o.LifeCycle.NextSteps)
	}
	return ""
}

func syncedStatus(s string) bool {
	return s == string(crm.SyncAccepted) || s == string(crm.SyncUpToDate)
}

// A CRM create and AWS's edits with one worker's activity stalled past its heartbeat
// timeout, retried on the other worker, then resumed, on each connector:
//
//  1. The push's CreateOpportunity is answered late to the first worker: the opportunity
//     exists in ACE, the CRM record has no ACE id yet; AWS edits the opportunity twice; the
//     retry on the other worker sends CreateOpportunity again (the same ClientToken: the same
//     opportunity) and writes the ACE id back; a cycle brings AWS's latest edit; then the
//     stalled attempt resumes and writes its outcome back (SQLite) or is fenced off at its
//     first CRM call (Salesforce, HubSpot). ACE holds one opportunity, the CRM one record
//     with its id and AWS's latest next step.
//  2. A pull's GetOpportunity is answered late to a worker, with AWS's version of that
//     moment; AWS edits twice more; the retry on the other worker brings the latest into
//     the CRM; then the stalled pull resumes and writes its older version, which SQLite's
//     stale check must refuse (Salesforce and HubSpot fence the attempt off before its
//     write), and the CRM keeps AWS's latest.
func TestSellingTwoWorkersStalledActivity(t *testing.T) {
	eachSellConnector(t, "selltwo", func(t *testing.T, c *sellCustomer) {
		hold := &callHold{}
		workers := startSellWorkers(t, c, hold)
		c.enroll(t, c.apiConfig())
		before := env.stack.SellingAPI.Calls()

		// 1. The create, stalled after CreateOpportunity.
		hold.arm("CreateOpportunity", "")
		id := c.crm.create(t, "CRM-TWO", sellOpportunity(t, "CRM-TWO", "Two Workers Corp"))
		if err := c.sync().RequestSync(context.Background(), c.Name, customersync.EnvBeta); err != nil {
			t.Fatal(err)
		}
		stalled := workers[hold.await(t, "a push's CreateOpportunity held")]
		pushes, fenced := len(stalled.lines(t, pushedMsg)), stalled.fenced(t, "PushChanges")
		opps := c.opportunities(t)
		if len(opps) != 1 {
			t.Fatalf("ACE holds %d opportunities after the first CreateOpportunity, want 1", len(opps))
		}
		aceID := aws.ToString(opps[0].Id)
		if r := sellMust(t, c.crm, id); r.ACEID != "" {
			t.Fatalf("the CRM record has ACE id %q before any write-back", r.ACEID)
		}
		awsNextStep(t, c, aceID, "AWS: first edit")
		awsNextStep(t, c, aceID, "AWS: second edit")
		eventually(t, 3*time.Minute, "the retried push (on the other worker) writing the ACE id back", func() bool {
			r := sellMust(t, c.crm, id)
			return r.ACEID != "" && syncedStatus(r.Status)
		})
		if r := sellMust(t, c.crm, id); r.ACEID != aceID {
			t.Fatalf("the retried push linked the CRM record to %s, ACE's opportunity is %s (ACE holds %d)", r.ACEID, aceID, len(c.opportunities(t)))
		}
		eventually(t, 2*time.Minute, "AWS's second edit in the CRM", func() bool {
			c.syncNow(t)
			return sellMust(t, c.crm, id).Fields["nextStep"] == "AWS: second edit"
		})
		hold.let()
		if l := stalled.resumed(t, c, "PushChanges", pushedMsg, pushes, fenced); l != nil && l["created"] != 1.0 {
			t.Fatalf("%s's first push after the release is not the stalled create: %v", stalled.name, l)
		}
		if sum := c.syncNow(t); !sum.OK() {
			t.Fatalf("the cycle after the stalled push resumed: %v", sum.Errors)
		}
		opps = c.opportunities(t)
		if len(opps) != 1 {
			t.Fatalf("ACE holds %d opportunities for one CRM create, want 1: %+v", len(opps), opps)
		}
		if got := aws.ToString(opps[0].PartnerOpportunityIdentifier); got != id {
			t.Errorf("ACE's opportunity has partner id %q, want the CRM's %s", got, id)
		}
		if n := callsSince(before)["CreateOpportunity"]; n != 2 {
			t.Errorf("CreateOpportunity called %d times, want 2 (the stalled attempt and its retry, one ClientToken)", n)
		}
		recs := c.crm.all(t)
		if len(recs) != 1 {
			t.Fatalf("the CRM holds %d opportunities, want 1: %v", len(recs), recs)
		}
		if r := recs[0]; r.ACEID != aceID || !syncedStatus(r.Status) || r.Fields["nextStep"] != "AWS: second edit" {
			t.Fatalf("the CRM record after the stalled push resumed: %s, nextStep %q; want %s accepted with AWS's second edit",
				r, r.Fields["nextStep"], aceID)
		}

		// 2. A pull, stalled with AWS's version of the moment.
		c.approveIfSubmitted(t, aceID)
		hold.arm("GetOpportunity", aceID)
		awsNextStep(t, c, aceID, "AWS: third edit")
		if err := c.sync().RequestSync(context.Background(), c.Name, customersync.EnvBeta); err != nil {
			t.Fatal(err)
		}
		stalled = workers[hold.await(t, "a pull's GetOpportunity held")]
		pulls, fenced := len(stalled.lines(t, pulledMsg)), stalled.fenced(t, "PullOpportunities")
		awsNextStep(t, c, aceID, "AWS: fourth edit")
		awsNextStep(t, c, aceID, "AWS: fifth edit")
		eventually(t, 3*time.Minute, "the retried pull (on the other worker) bringing AWS's fifth edit", func() bool {
			return sellMust(t, c.crm, id).Fields["nextStep"] == "AWS: fifth edit"
		})
		hold.let()
		resumed := stalled.resumed(t, c, "PullOpportunities", pulledMsg, pulls, fenced)
		if resumed != nil && resumed["records"] != 1.0 {
			t.Fatalf("%s's first pull after the release did not write the stalled version: %v", stalled.name, resumed)
		}
		if got := sellMust(t, c.crm, id).Fields["nextStep"]; got != "AWS: fifth edit" {
			t.Fatalf("the stalled pull wrote AWS's older version over the newer one: the CRM's nextStep is %q, want %q (the pull's counts %v)",
				got, "AWS: fifth edit", resumed)
		}
		if sum := c.syncNow(t); !sum.OK() {
			t.Fatalf("the cycle after the stalled pull resumed: %v", sum.Errors)
		}
		r := sellMust(t, c.crm, id)
		if r.Fields["nextStep"] != "AWS: fifth edit" || aceNextStep(t, c, aceID) != "AWS: fifth edit" {
			t.Errorf("after the stalled pull: the CRM's nextStep %q, ACE's %q; want AWS's fifth edit on both", r.Fields["nextStep"], aceNextStep(t, c, aceID))
		}
		if n, m := len(c.opportunities(t)), len(c.crm.all(t)); n != 1 || m != 1 {
			t.Errorf("ACE holds %d opportunities, the CRM %d; want 1 each", n, m)
		}
		t.Logf("%s: the resumed pull's counts %v; Selling API calls %v", c.connector, resumed, callsSince(before))
	})
}

// Two workers alive through several cycles, with the sales team's creates and AWS's edits
// landing while cycles run, on each connector: every opportunity once on each side, every
// CRM record linked and accepted, AWS's latest next step in the CRM.
func TestSellingTwoWorkersInterleavedCycles(t *testing.T) {
	eachSellConnector(t, "selltwocyc", func(t *testing.T, c *sellCustomer) {
		seeded := map[string]bool{}
		for i := range 2 {
			id, _ := c.seed(t, fmt.Sprintf("Seeded %d", i))
			seeded[id] = true
		}
		a := startWorkerProcess(t, c.taskQueue)
		b := startWorkerProcess(t, c.taskQueue)
		defer a.stop(t)
		defer b.stop(t)
		c.enroll(t, c.apiConfig())

		const rounds = 4
		last := map[string]string{} // AWS's last next step per opportunity
		created := map[string]string{}
		for round := range rounds {
			rec := sellOpportunity(t, "", fmt.Sprintf("Worker Corp %d", round))
			rec["status"] = "Draft" // not submitted: fewer writes, and the partner may edit it
			pid := fmt.Sprintf("CRM-CYC-%d", round)
			created[c.crm.create(t, pid, rec)] = fmt.Sprintf("Worker Corp %d", round)
			for _, o := range c.opportunities(t) {
				id := aws.ToString(o.Id)
				last[id] = fmt.Sprintf("AWS: round %d", round)
				awsNextStep(t, c, id, last[id])
			}
			// The next round's changes land while this cycle runs.
			if err := c.sync().RequestSync(context.Background(), c.Name, customersync.EnvBeta); err != nil {
				t.Fatal(err)
			}
		}

		done := func() (bool, string) {
			recs, opps := c.crm.all(t), c.opportunities(t)
			if len(recs) != len(seeded)+rounds || len(opps) != len(seeded)+rounds {
				return false, fmt.Sprintf("the CRM holds %d opportunities, ACE %d; want %d each", len(recs), len(opps), len(seeded)+rounds)
			}
			byPartner := map[string]string{}
			for _, o := range opps {
				if p := aws.ToString(o.PartnerOpportunityIdentifier); p != "" {
					if byPartner[p] != "" {
						return false, fmt.Sprintf("CRM record %s has two opportunities in ACE: %s and %s", p, byPartner[p], aws.ToString(o.Id))
					}
					byPartner[p] = aws.ToString(o.Id)
				}
			}
			for _, r := range recs {
				switch {
				case r.ACEID == "":
					return false, fmt.Sprintf("%s has no ACE id", r)
				case created[r.CRMID] != "" && (byPartner[r.CRMID] != r.ACEID || !syncedStatus(r.Status)):
					return false, fmt.Sprintf("%s: ACE's opportunity for it is %q", r, byPartner[r.CRMID])
				case created[r.CRMID] == "" && !seeded[r.ACEID]:
					return false, fmt.Sprintf("%s is neither a seeded opportunity nor a CRM create", r)
				case last[r.ACEID] != "" && r.Fields["nextStep"] != last[r.ACEID]:
					return false, fmt.Sprintf("%s: nextStep %q, AWS's last %q", r, r.Fields["nextStep"], last[r.ACEID])
				}
			}
			for pid, company := range created {
				if o := c.opportunity(t, byPartner[pid]); o.Customer == nil || o.Customer.Account == nil || aws.ToString(o.Customer.Account.CompanyName) != company {
					return false, fmt.Sprintf("ACE's opportunity for %s does not carry the CRM's company %q", pid, company)
				}
			}
			for id, want := range last {
				if got := aceNextStep(t, c, id); got != want {
					return false, fmt.Sprintf("ACE's %s has next step %q, want AWS's last %q", id, got, want)
				}
			}
			return true, ""
		}
		var why string
		eventually(t, 4*time.Minute, "every opportunity once on each side with its latest values", func() bool {
			ok, reason := done()
			if !ok {
				why = reason
				if sum := c.syncNow(t); len(sum.Errors) > 0 {
					t.Logf("cycle: %v (waiting: %s)", sum.Errors, why)
				}
			}
			return ok
		})
		// Settled: one more cycle changes nothing and sends nothing.
		if sum := c.syncNow(t); !sum.OK() || sum.Counts.Sent != 0 || sum.Counts.Inserted != 0 {
			t.Errorf("the cycle after: %+v %v, want nothing sent or inserted", sum.Counts, sum.Errors)
		}
		if ok, reason := done(); !ok {
			t.Errorf("after one more cycle: %s", reason)
		}
		activitiesOf := func(w *workerProcess) int {
			return len(sellWorker{workerProcess: w}.lines(t, pulledMsg)) + len(sellWorker{workerProcess: w}.lines(t, pushedMsg))
		}
		t.Logf("%s: pulls and pushes run by the two workers: %d and %d (last wait: %s)", c.connector, activitiesOf(a), activitiesOf(b), why)
	})
}
