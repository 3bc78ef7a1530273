package integration

// The Partner Central Selling API transport end to end: customers enrolled with
// Transport api (no bucket), the worker BINARY, the local stack's Selling API contract
// server (devstack/sellingcontract, reached through AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING
// and calling as the customer role's account), and each CRM connector (the embedded SQLite
// CRM, and the Salesforce and HubSpot contract servers of connectors_test.go). AWS's side
// (referrals, approvals, AWS's edits, quotas) is played with the contract server's Go
// methods; what ACE holds is read back with the sellingapi client, as the partner.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/apimapping"
	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/mapping"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack/sellingcontract"
	"github.com/oppsync/oppsync/sellingapi"
)

// sellCatalog is the catalog of the tests' customers: they are beta customers (Sandbox).
const sellCatalog = "Sandbox"

// sellRecord is one CRM opportunity as the tests read it, whatever the connector: ACE's
// field names, values as text.
type sellRecord struct {
	CRMID  string // the CRM's own id (the partner id)
	ACEID  string
	Status string // the sync status
	Errors string // the sync errors, joined
	Fields map[string]string
}

func (r sellRecord) String() string {
	return fmt.Sprintf("%s/%s %s %q", r.CRMID, r.ACEID, r.Status, r.Errors)
}

// sellCRM is a customer's CRM as the sales team uses it and the tests read it.
type sellCRM interface {
	url() string
	// create makes an opportunity (ACE's field names) as a sales rep would and returns its
	// CRM id; partnerID is the id to give it where the CRM lets the caller choose (SQLite).
	create(t *testing.T, partnerID string, rec map[string]any) string
	// edit changes fields (ACE's names, text values) of the record with the CRM id or ACE id.
	edit(t *testing.T, id string, fields map[string]string)
	// all returns every opportunity.
	all(t *testing.T) []sellRecord
}

// one returns the record whose CRM id or ACE id is id.
func sellOne(t *testing.T, c sellCRM, id string) (sellRecord, bool) {
	t.Helper()
	for _, r := range c.all(t) {
		if r.CRMID == id || r.ACEID == id {
			return r, true
		}
	}
	return sellRecord{}, false
}

func sellMust(t *testing.T, c sellCRM, id string) sellRecord {
	t.Helper()
	r, ok := sellOne(t, c, id)
	if !ok {
		t.Fatalf("no opportunity %s in the CRM; it holds %v", id, c.all(t))
	}
	return r
}

// sellConnector is one CRM under test.
type sellConnector struct {
	name  string
	start func(t *testing.T, c *customer) sellCRM
}

var sellConnectors = []sellConnector{
	{"sqlite", func(t *testing.T, c *customer) sellCRM { return &sqliteSell{c: c} }},
	{"salesforce", func(t *testing.T, c *customer) sellCRM { return newFakeSell(startSalesforce(t)) }},
	{"hubspot", func(t *testing.T, c *customer) sellCRM { return newFakeSell(startHubSpot(t)) }},
}

// --- SQLite ---

type sqliteSell struct{ c *customer }

func (s *sqliteSell) url() string { return s.c.crmURL }

func (s *sqliteSell) create(t *testing.T, partnerID string, rec map[string]any) string {
	t.Helper()
	rec["partnerCrmUniqueIdentifier"] = partnerID
	body, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.salesTeam(t).Create(context.Background(), ace.ObjectOpportunity, partnerID, body); err != nil {
		t.Fatal(err)
	}
	return partnerID
}

func (s *sqliteSell) edit(t *testing.T, id string, fields map[string]string) {
	t.Helper()
	body, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.salesTeam(t).Edit(context.Background(), ace.ObjectOpportunity, id, body); err != nil {
		t.Fatal(err)
	}
}

func (s *sqliteSell) all(t *testing.T) []sellRecord {
	t.Helper()
	var out []sellRecord
	for _, r := range s.c.records(t, string(ace.ObjectOpportunity)) {
		var f map[string]json.RawMessage
		_ = json.Unmarshal(r.Fields, &f)
		out = append(out, sellRecord{CRMID: r.PartnerID, ACEID: r.ACEID, Status: string(r.SyncStatus),
			Errors: strings.Join(r.SyncErrors, "; "), Fields: textFields(f)})
	}
	return out
}

// textFields spells JSON values as text: strings as they are, anything else as JSON.
func textFields(f map[string]json.RawMessage) map[string]string {
	out := make(map[string]string, len(f))
	for k, v := range f {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else if string(v) != "null" {
			out[k] = string(v)
		}
	}
	return out
}

// --- Salesforce and HubSpot (contract servers) ---

type fakeSell struct {
	fake fakeCRM
	m    *mapping.Mapping
	om   *mapping.ObjectMapping
}

func newFakeSell(f fakeCRM) *fakeSell {
	m := f.mapping()
	return &fakeSell{fake: f, m: m, om: m.Objects[ace.ObjectOpportunity]}
}

func (s *fakeSell) url() string { return s.fake.url() }

func (s *fakeSell) create(t *testing.T, _ string, rec map[string]any) string {
	t.Helper()
	delete(rec, "partnerCrmUniqueIdentifier") // the CRM's own id
	body, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := ace.Fields(body)
	if err != nil {
		t.Fatal(err)
	}
	crmFields, err := s.m.ToCRM(ace.ObjectOpportunity, fields)
	if err != nil {
		t.Fatal(err)
	}
	delete(crmFields, s.om.Raw)
	delete(crmFields, s.om.ExternalID)
	delete(crmFields, s.om.ACELastModified)
	out := map[string]string{}
	for k, v := range crmFields {
		switch x := v.(type) {
		case nil:
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = strconv.FormatBool(x)
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return s.fake.createAsPerson(t, ace.ObjectOpportunity, out)
}

func (s *fakeSell) edit(t *testing.T, id string, fields map[string]string) {
	t.Helper()
	if r, ok := sellOne(t, s, id); ok {
		id = r.CRMID
	}
	out := map[string]string{}
	for k, v := range fields {
		out[crmField(t, s.m, ace.ObjectOpportunity, k)] = v
	}
	s.fake.editAsPerson(t, ace.ObjectOpportunity, id, out)
}

func (s *fakeSell) all(t *testing.T) []sellRecord {
	t.Helper()
	var out []sellRecord
	for id, r := range s.fake.all(ace.ObjectOpportunity) {
		// ACE's whole record (the raw field) under the mapped fields' current values.
		var raw map[string]json.RawMessage
		_ = json.Unmarshal([]byte(r[s.om.Raw]), &raw)
		fields := textFields(raw)
		for _, f := range s.om.Fields {
			if v, ok := r[f.CRM]; ok && v != "" && len(f.Values) == 0 {
				fields[f.ACE] = v
			}
		}
		out = append(out, sellRecord{CRMID: id, ACEID: r[s.om.ExternalID], Status: r[s.om.Sync.Status], Errors: r[s.om.Sync.Errors], Fields: fields})
	}
	return out
}

// --- the customer and ACE ---

// sellCustomer is a test's customer on the API transport and its CRM.
type sellCustomer struct {
	*customer
	crm       sellCRM
	account   string // the partner account: the role's
	connector string // the CRM connector's name (sellConnectors)
}

var sellRoleAccount = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role/`)

// newSellCustomer sets up a customer (its CRM on the connector) without enrolling it.
func newSellCustomer(t *testing.T, name string, cn sellConnector) *sellCustomer {
	t.Helper()
	c := newCustomer(t, name)
	s := &sellCustomer{customer: c, account: sellRoleAccount.FindStringSubmatch(c.RoleARN)[1], connector: cn.name}
	s.crm = cn.start(t, c)
	c.crmURL = s.crm.url()
	return s
}

// eachSellConnector runs a test once per CRM connector, as a subtest named after it, with a
// customer (prefix-connector) set up on it and not enrolled.
func eachSellConnector(t *testing.T, prefix string, run func(t *testing.T, c *sellCustomer)) {
	t.Helper()
	requireStack(t)
	for _, cn := range sellConnectors {
		t.Run(cn.name, func(t *testing.T) {
			requireStack(t)
			run(t, newSellCustomer(t, prefix+"-"+cn.name, cn))
		})
	}
}

// apiConfig is the customer on the Selling API, inbound on.
func (c *sellCustomer) apiConfig() customersync.CustomerConfig {
	cfg := c.inboundConfig()
	cfg.Transport, cfg.Bucket, cfg.KMSKeyARN = customersync.TransportAPI, "", ""
	return cfg
}

// api is a Selling API client with the customer role's credentials: the partner's view.
func (c *sellCustomer) api() *sellingapi.Client {
	return sellingapi.New(aws.Config{Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")},
		sellingapi.WithEndpoint(env.stack.SellingAPIEndpoint))
}

// opportunities lists what ACE holds in the customer's catalog.
func (c *sellCustomer) opportunities(t *testing.T) []sellingapi.OpportunitySummary {
	t.Helper()
	var out []sellingapi.OpportunitySummary
	in := &sellingapi.ListOpportunitiesInput{Catalog: aws.String(sellCatalog)}
	for {
		page, err := c.api().ListOpportunities(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.OpportunitySummaries...)
		if page.NextToken == nil {
			return out
		}
		in.NextToken = page.NextToken
	}
}

// opportunity reads one opportunity as ACE holds it.
func (c *sellCustomer) opportunity(t *testing.T, id string) *sellingapi.GetOpportunityOutput {
	t.Helper()
	o, err := c.api().GetOpportunity(context.Background(), &sellingapi.GetOpportunityInput{Catalog: aws.String(sellCatalog), Identifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// sellOpportunity is a valid partner opportunity as the sales team enters it (ACE's names).
func sellOpportunity(t *testing.T, partnerID, company string) map[string]any {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal(validOpportunity(t, partnerID), &rec); err != nil {
		t.Fatal(err)
	}
	rec["stage"] = "Prospect"
	rec["customerCompanyName"] = company
	return rec
}

// seed creates an opportunity in ACE as the partner's own system would (CreateOpportunity
// with the role's credentials) and returns its id and its S3 JSON record.
func (c *sellCustomer) seed(t *testing.T, company string) (string, map[string]any) {
	t.Helper()
	rec := sellOpportunity(t, "", company)
	delete(rec, "partnerCrmUniqueIdentifier")
	body, _ := apimapping.ToAPI(rec)
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var in sellingapi.CreateOpportunityInput
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	in.Catalog, in.ClientToken = aws.String(sellCatalog), aws.String("seed-"+c.Name+"-"+company)
	in.PartnerOpportunityIdentifier = nil
	out, err := c.api().CreateOpportunity(context.Background(), &in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Id), rec
}

// approveIfSubmitted is AWS approving an opportunity the push submitted, so that the
// partner may edit it again (the API refuses edits while AWS reviews).
func (c *sellCustomer) approveIfSubmitted(t *testing.T, id string) {
	t.Helper()
	if o := c.opportunity(t, id); o.LifeCycle != nil && (o.LifeCycle.ReviewStatus == "Submitted" || o.LifeCycle.ReviewStatus == "In review") {
		if err := env.stack.SellingAPI.ApproveOpportunity(c.account, sellCatalog, id); err != nil {
			t.Fatal(err)
		}
	}
}

// createPausedBeforeWriteBack enrolls c on the API with a worker that pauses each push
// after its API calls and before the CRM write-back, creates an opportunity in the CRM as
// the sales team would, and waits until the push has paused: the worker (to kill) and the
// record's CRM id.
func (c *sellCustomer) createPausedBeforeWriteBack(t *testing.T, partnerID, company string) (*workerProcess, string) {
	t.Helper()
	paused := t.TempDir()
	w := startWorkerProcessWith(t, c.taskQueue, []string{activities.PauseBeforeWriteBackEnv + "=" + paused})
	c.enroll(t, c.apiConfig())
	id := c.crm.create(t, partnerID, sellOpportunity(t, partnerID, company))
	if err := c.sync().RequestSync(context.Background(), c.Name, customersync.EnvBeta); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the push paused after its API calls, before the CRM write-back", func() bool {
		entries, _ := os.ReadDir(paused)
		return len(entries) > 0
	})
	return w, id
}

// awsEditedOpportunity enrolls c (a worker must be running on its queue), creates an
// opportunity in the CRM, has it accepted and approved, and has AWS edit its next step;
// it fails unless each step reaches the CRM record, and returns its CRM id and ACE id.
func (c *sellCustomer) awsEditedOpportunity(t *testing.T) (id, aceID string) {
	t.Helper()
	c.enroll(t, c.apiConfig())
	id = c.crm.create(t, "CRM-EDIT", sellOpportunity(t, "CRM-EDIT", "Edit Corp"))
	if sum := c.syncNow(t); !sum.OK() || sum.Counts.Accepted != 1 {
		t.Fatalf("cycle after the CRM's create: %+v %v; record %v", sum.Counts, sum.Errors, c.crm.all(t))
	}
	aceID = sellMust(t, c.crm, id).ACEID
	if !strings.HasPrefix(aceID, "O") {
		t.Fatalf("the CRM record's ACE id is %q", aceID)
	}
	c.approveIfSubmitted(t, aceID)
	if sum := c.syncNow(t); !sum.OK() {
		t.Fatalf("cycle after AWS's approval: %v", sum.Errors)
	}
	// AWS edits the next step: the next cycle brings it.
	if err := env.stack.SellingAPI.UpdateOpportunityAsAWS(c.account, sellCatalog, aceID,
		map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS: review scheduled"}}); err != nil {
		t.Fatal(err)
	}
	if sum := c.syncNow(t); !sum.OK() || sum.Counts.Updated != 1 {
		t.Fatalf("cycle after AWS's edit: %+v %v, want 1 updated", sum.Counts, sum.Errors)
	}
	if got := sellMust(t, c.crm, id).Fields["nextStep"]; got != "AWS: review scheduled" {
		t.Fatalf("the CRM's nextStep is %q, want AWS's edit", got)
	}
	return id, aceID
}

// callsSince is the contract server's call counts since before.
func callsSince(before map[string]int) map[string]int {
	out := map[string]int{}
	for op, n := range env.stack.SellingAPI.Calls() {
		if d := n - before[op]; d > 0 {
			out[op] = d
		}
	}
	return out
}

// --- tests ---

// A partner opportunity created in the CRM reaches ACE once although the worker binary is
// killed (SIGKILL) twice: after CreateOpportunity and before any CRM write-back, then
// after the record was marked sent (with its ACE id) and before it was marked accepted.
// Each retry's CreateOpportunity carries the same ClientToken: the contract server answers
// the first opportunity again. ACE holds one opportunity, the CRM record its id.
func TestSellingCreateReachesACEOnceAcrossKills(t *testing.T) {
	eachSellConnector(t, "sellkill", func(t *testing.T, c *sellCustomer) {
		afterSent := t.TempDir()
		before := env.stack.SellingAPI.Calls()
		first, id := c.createPausedBeforeWriteBack(t, "CRM-KILL", "Kill Corp")
		if r := sellMust(t, c.crm, id); r.ACEID != "" {
			t.Fatalf("the CRM record has ACE id %q before the write-back", r.ACEID)
		}
		if n := len(c.opportunities(t)); n != 1 {
			t.Fatalf("ACE holds %d opportunities after the first CreateOpportunity, want 1", n)
		}
		first.kill(t)

		// The retry (after the heartbeat timeout) on a second worker, killed once the
		// record is marked sent.
		t.Setenv(activities.PauseAfterSentEnv, afterSent)
		second := startWorkerProcess(t, c.taskQueue)
		if err := os.Unsetenv(activities.PauseAfterSentEnv); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Minute, "the retried push paused after marking the record sent", func() bool {
			entries, _ := os.ReadDir(afterSent)
			return len(entries) > 0
		})
		r := sellMust(t, c.crm, id)
		if r.ACEID == "" || r.Status != string(crm.SyncSent) {
			t.Fatalf("in the second window the CRM record is %s, want sent with its ACE id", r)
		}
		second.kill(t)

		third := startWorkerProcess(t, c.taskQueue)
		defer third.stop(t)
		eventually(t, 2*time.Minute, "the record accepted with its ACE id", func() bool {
			r = sellMust(t, c.crm, id)
			return r.ACEID != "" && r.Status == string(crm.SyncAccepted)
		})
		opps := c.opportunities(t)
		if len(opps) != 1 {
			t.Fatalf("ACE holds %d opportunities for one CRM create, want 1: %v", len(opps), opps)
		}
		if got := aws.ToString(opps[0].Id); got != r.ACEID {
			t.Errorf("ACE's opportunity is %s, the CRM record's ACE id %s", got, r.ACEID)
		}
		if got := aws.ToString(opps[0].PartnerOpportunityIdentifier); got != id {
			t.Errorf("ACE's opportunity has partner id %q, want the CRM's %s", got, id)
		}
		calls := callsSince(before)
		if n := calls["CreateOpportunity"]; n < 2 || n > 3 {
			t.Errorf("CreateOpportunity called %d times, want 2 or 3 (the killed attempts, one ClientToken)", n)
		}
		if n := len(c.crm.all(t)); n != 1 {
			t.Errorf("the CRM holds %d opportunities, want 1", n)
		}
		// A later cycle sends nothing more.
		if sum := c.syncNow(t); !sum.OK() || sum.Counts.Sent != 0 {
			t.Errorf("the cycle after: %+v %v, want nothing sent", sum.Counts, sum.Errors)
		}
		t.Logf("%s: Selling API calls for one create across two kills: %v", c.connector, callsSince(before))
	})
}

// The worker is killed (SIGKILL) after its API calls for a CRM create (CreateOpportunity,
// the associations, the submission) and before any CRM write-back; AWS approves the
// opportunity and the sales team edits the record before the retry. The edit changes the
// create's body, yet ACE gets no second opportunity: the ClientToken is the record's, the
// API refuses the second body, and the retry adopts the first opportunity by partner id.
// Partner Central changed it since it was created, so nothing tells the sales team's edit
// from AWS's: the record is linked and rejected with a conflict, AWS's value kept, and the
// sales team's next edit goes to the opportunity.
func TestSellingCreateOnceWhenEditedBeforeTheRetry(t *testing.T) {
	eachSellConnector(t, "selledited", func(t *testing.T, c *sellCustomer) {
		first, id := c.createPausedBeforeWriteBack(t, "CRM-EDITED", "Edited Corp")
		first.kill(t)
		opps := c.opportunities(t)
		if len(opps) != 1 {
			t.Fatalf("ACE holds %d opportunities after the first CreateOpportunity, want 1", len(opps))
		}
		oppID := aws.ToString(opps[0].Id)
		c.approveIfSubmitted(t, oppID)
		awsNext := nextSteps(c.opportunity(t, oppID))
		c.crm.edit(t, id, map[string]string{"nextStep": "Partner: edited before the retry"})

		before := env.stack.SellingAPI.Calls()
		second := startWorkerProcess(t, c.taskQueue)
		defer second.stop(t)
		var r sellRecord
		sellEventually(t, 2*time.Minute, "the record linked and rejected with a conflict", func() (bool, string) {
			r = sellMust(t, c.crm, id)
			return r.ACEID != "" && r.Status == string(crm.SyncRejected), fmt.Sprintf("CRM record %s; %d opportunities in ACE", r, len(c.opportunities(t)))
		})
		if opps = c.opportunities(t); len(opps) != 1 {
			t.Fatalf("ACE holds %d opportunities for one CRM record, want 1: %v", len(opps), opps)
		}
		if r.ACEID != oppID {
			t.Errorf("the CRM record is linked to %s, want the unfinished attempt's %s", r.ACEID, oppID)
		}
		if !strings.Contains(r.Errors, "conflict:") || !strings.Contains(r.Errors, "nextStep") || !strings.Contains(r.Errors, oppID) {
			t.Errorf("the record's errors %q, want a conflict naming nextStep and %s", r.Errors, oppID)
		}
		if got := nextSteps(c.opportunity(t, oppID)); got != awsNext {
			t.Errorf("ACE's next step is %q, want AWS's %q kept", got, awsNext)
		}
		if n := callsSince(before)["UpdateOpportunity"]; n != 0 {
			t.Errorf("%d UpdateOpportunity calls, want none on the conflict", n)
		}

		// The sales team's next edit goes to the linked opportunity.
		if sum := c.syncNow(t); !sum.OK() {
			t.Fatalf("the cycle after the conflict: %v", sum.Errors)
		}
		c.crm.edit(t, id, map[string]string{"nextStep": "Partner: edited after the conflict"})
		if sum := c.syncNow(t); !sum.OK() || sum.Counts.Accepted != 1 {
			t.Fatalf("the cycle after the next edit: %+v %v; record %s", sum.Counts, sum.Errors, sellMust(t, c.crm, id))
		}
		if got := nextSteps(c.opportunity(t, oppID)); got != "Partner: edited after the conflict" {
			t.Errorf("ACE's next step is %q, want the edit after the conflict", got)
		}
		if n, m := len(c.opportunities(t)), len(c.crm.all(t)); n != 1 || m != 1 {
			t.Errorf("ACE holds %d opportunities, the CRM %d; want 1 each", n, m)
		}
	})
}

// AWS's edit (UpdateOpportunityAsAWS) of an opportunity the CRM created reaches the CRM
// record, in place.
func TestSellingAWSEditReachesCRM(t *testing.T) {
	eachSellConnector(t, "sellawsedit", func(t *testing.T, c *sellCustomer) {
		w := startWorkerProcess(t, c.taskQueue)
		defer w.stop(t)
		c.awsEditedOpportunity(t)

		if n, m := len(c.opportunities(t)), len(c.crm.all(t)); n != 1 || m != 1 {
			t.Errorf("ACE holds %d opportunities, the CRM %d; want 1 each", n, m)
		}
	})
}

// An AWS referral (CreateReferral: an engagement invitation) arrives in the CRM masked;
// the sales team accepts it in the CRM (SQLite: `starter crm edit --set
// partnerAcceptanceStatus=Accepted`); OppSync accepts the invitation and the accepted
// opportunity arrives unmasked on the same record.
func TestSellingReferralAcceptedFromCRM(t *testing.T) {
	eachSellConnector(t, "sellref", func(t *testing.T, c *sellCustomer) {
		w := startWorkerProcess(t, c.taskQueue)
		defer w.stop(t)
		c.enroll(t, c.apiConfig())

		rec := sellOpportunity(t, "", "Referred Corp")
		delete(rec, "partnerCrmUniqueIdentifier")
		rec["customerEmail"] = "ann@referred.example"
		opp, _, _ := apimapping.ToAPIOutputs(rec)
		delete(opp, "OpportunityTeam")
		before := env.stack.SellingAPI.Calls()
		inv, err := env.stack.SellingAPI.CreateReferral(sellingcontract.Referral{AccountID: c.account, Catalog: sellCatalog, Opportunity: opp})
		if err != nil {
			t.Fatal(err)
		}
		if sum := c.syncNow(t); !sum.OK() || sum.Counts.Inserted != 1 {
			t.Fatalf("cycle after the referral: %+v %v, want it inserted", sum.Counts, sum.Errors)
		}
		r := sellMust(t, c.crm, inv)
		if r.Fields["customerEmail"] != ace.MaskedValue || r.Fields["opportunityOwnership"] != "AWS Referral" {
			t.Fatalf("the referral in the CRM: customerEmail %q, ownership %q; want masked, AWS Referral", r.Fields["customerEmail"], r.Fields["opportunityOwnership"])
		}

		if c.connector == "sqlite" {
			if out, err := run(t, "starter", "crm", "edit", "--crm", c.crmURL, "--object", "opportunity", "--id", inv,
				"--set", "partnerAcceptanceStatus=Accepted"); err != nil {
				t.Fatalf("starter crm edit: %v\n%s", err, out)
			}
		} else {
			c.crm.edit(t, inv, map[string]string{"partnerAcceptanceStatus": "Accepted"})
		}
		eventually(t, 2*time.Minute, "the accepted referral unmasked in the CRM", func() bool {
			c.syncNow(t)
			r = sellMust(t, c.crm, inv)
			return r.Fields["customerEmail"] == "ann@referred.example"
		})
		if r.Fields["partnerAcceptanceStatus"] != "Accepted" || r.Status == string(crm.SyncRejected) || r.Status == string(crm.SyncInvalid) {
			t.Errorf("the accepted referral: acceptance %q, sync %s", r.Fields["partnerAcceptanceStatus"], r)
		}
		if n := len(c.crm.all(t)); n != 1 {
			t.Errorf("the CRM holds %d opportunities, want 1 (the referral's record, now the opportunity): %v", n, c.crm.all(t))
		}
		opps := c.opportunities(t)
		if len(opps) != 1 {
			t.Fatalf("ACE holds %d opportunities, want the accepted one", len(opps))
		}
		calls := callsSince(before)
		if n := calls["StartEngagementByAcceptingInvitationTask"]; n != 1 {
			t.Errorf("StartEngagementByAcceptingInvitationTask called %d times, want 1", n)
		}
		t.Logf("%s: Selling API calls for a referral pulled, accepted and pulled unmasked: %v", c.connector, calls)
	})
}

// A customer moves from S3 to the API and back (`starter configure --transport`): its S3
// records carry apnCrmUniqueIdentifier = the API opportunity's Id, so the CRM keeps one
// record per opportunity throughout, and ACE (the contract server) gets one create, the CRM's
// new opportunity; AWS's edit made while on the API arrives; back on S3, ACE's export of every
// opportunity lands on the same records.
func TestSellingMigrationNoDuplicates(t *testing.T) {
	eachSellConnector(t, "sellmove", func(t *testing.T, c *sellCustomer) {
		w := startWorkerProcess(t, c.taskQueue)
		defer w.stop(t)

		// Two opportunities in ACE, and ACE's S3 export of them.
		idA, recA := c.seed(t, "Alpha Corp")
		idB, recB := c.seed(t, "Beta Corp")
		old := "2020-01-01T00:00:00.000Z"
		recA["apnCrmUniqueIdentifier"], recA["lastModifiedDate"] = idA, old
		recB["apnCrmUniqueIdentifier"], recB["lastModifiedDate"] = idB, old
		file, _ := json.Marshal(map[string]any{"version": "2.0", "spmsId": "12345", "opportunities": []any{recA, recB}})
		c.putAsACE(t, ace.FolderOpportunityOutbound+"export-1.json", file)
		cfg := c.inboundConfig()
		c.enroll(t, cfg)
		if n := len(c.crm.all(t)); n != 2 {
			if sum := c.syncNow(t); !sum.OK() {
				t.Fatalf("S3 cycle: %v", sum.Errors)
			}
		}
		if recs := c.crm.all(t); len(recs) != 2 {
			t.Fatalf("the CRM after the S3 sync: %v, want 2", recs)
		}
		before := env.stack.SellingAPI.Calls()

		if out, err := run(t, "starter", "configure", "--customer", c.Name, "--env", "beta", "--transport", "api"); err != nil {
			t.Fatalf("configure --transport api: %v\n%s", err, out)
		}
		if sum := c.syncNow(t); !sum.OK() {
			t.Fatalf("first API cycle: %v", sum.Errors)
		}
		if recs := c.crm.all(t); len(recs) != 2 {
			t.Fatalf("the CRM after the first API cycle: %v, want the same 2", recs)
		}

		// On the API: the sales team creates one, AWS edits one.
		newID := c.crm.create(t, "CRM-MOVE", sellOpportunity(t, "CRM-MOVE", "Gamma Corp"))
		if err := env.stack.SellingAPI.UpdateOpportunityAsAWS(c.account, sellCatalog, idA,
			map[string]any{"LifeCycle": map[string]any{"NextSteps": "AWS: moved to the API"}}); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Minute, "the CRM's create in ACE and AWS's edit in the CRM", func() bool {
			c.syncNow(t)
			r, ok := sellOne(t, c.crm, newID)
			a, _ := sellOne(t, c.crm, idA)
			return ok && r.ACEID != "" && r.Status == string(crm.SyncAccepted) && a.Fields["nextStep"] == "AWS: moved to the API"
		})
		created := sellMust(t, c.crm, newID).ACEID
		if n := len(c.opportunities(t)); n != 3 {
			t.Errorf("ACE holds %d opportunities on the API, want 3", n)
		}
		if n := callsSince(before)["CreateOpportunity"]; n != 1 {
			t.Errorf("CreateOpportunity called %d times on the API, want 1 (the CRM's new one)", n)
		}
		if recs := c.crm.all(t); len(recs) != 3 {
			t.Fatalf("the CRM on the API: %v, want 3", recs)
		}

		// Back to S3: ACE's next export carries all three, under their API ids.
		if out, err := run(t, "starter", "configure", "--customer", c.Name, "--env", "beta", "--transport", "s3"); err != nil {
			t.Fatalf("configure --transport s3: %v\n%s", err, out)
		}
		now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		recA["lastModifiedDate"], recA["nextStep"] = now, "AWS: moved to the API"
		recB["lastModifiedDate"] = now
		recC := sellOpportunity(t, newID, "Gamma Corp")
		recC["apnCrmUniqueIdentifier"], recC["lastModifiedDate"] = created, now
		file, _ = json.Marshal(map[string]any{"version": "2.0", "spmsId": "12345", "opportunities": []any{recA, recB, recC}})
		c.putAsACE(t, ace.FolderOpportunityOutbound+"export-2.json", file)
		if sum := c.syncNow(t); !sum.OK() || sum.Counts.Inserted != 0 {
			t.Fatalf("S3 cycle after switching back: %+v %v, want nothing inserted", sum.Counts, sum.Errors)
		}
		recs := c.crm.all(t)
		if len(recs) != 3 {
			t.Errorf("the CRM holds %d opportunities after S3 → API → S3, want 3: %v", len(recs), recs)
		}
		seen := map[string]int{}
		for _, r := range recs {
			seen[r.ACEID]++
		}
		for _, id := range []string{idA, idB, created} {
			if seen[id] != 1 {
				t.Errorf("ACE id %s on %d CRM records, want 1", id, seen[id])
			}
		}
		if n := len(c.opportunities(t)); n != 3 {
			t.Errorf("ACE holds %d opportunities, want 3", n)
		}
		t.Logf("%s: Selling API calls while on the API (2 migrated, 1 created, 1 AWS edit): %v", c.connector, callsSince(before))
	})
}
