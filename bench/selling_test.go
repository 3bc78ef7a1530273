package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"golang.org/x/time/rate"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/apimapping"
	"github.com/oppsync/oppsync/crm"
	crmsqlite "github.com/oppsync/oppsync/crm/sqlite"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack"
	"github.com/oppsync/oppsync/sellingapi"
)

// Environment variables that size BenchmarkSellingAPI (the Makefile's API_RECORDS and
// API_CREATES).
const (
	// envAPIRecords is how many opportunities AWS's side holds for the ACE → CRM run.
	envAPIRecords = "OPPSYNC_BENCH_API_RECORDS"
	// envAPICreates is how many opportunities the sales team creates in the CRM for the
	// CRM → ACE run.
	envAPICreates = "OPPSYNC_BENCH_API_CREATES"
)

// Default sizes, as in the Makefile: at AWS's published quotas the ACE → CRM run takes
// about 20 s (two reads per opportunity at 10 reads/s) and the CRM → ACE run 2 to 4
// minutes (five writes per create of the benchmark's record at 1 write/s, and the refused
// ones).
const (
	defaultAPIRecords = 100
	defaultAPICreates = 25
)

// AWS's published quotas of the Selling API per partner account, per 24 hours (rolling),
// from docs.aws.amazon.com/partner-central/latest/selling-api/quotas.html (the per-second
// ones are sellingapi.DefaultReadsPerSecond and DefaultWritesPerSecond).
const (
	dailyReads  = 100_000
	dailyWrites = 10_000
)

// apiQuotas is one setting of the partner account's quotas, on the contract server and in
// the worker's own limiter alike.
type apiQuotas struct {
	name          string
	reads, writes float64 // per second
}

func (q apiQuotas) published() bool {
	return q.reads == sellingapi.DefaultReadsPerSecond && q.writes == sellingapi.DefaultWritesPerSecond
}

var apiQuotaSettings = []apiQuotas{
	{name: "published", reads: sellingapi.DefaultReadsPerSecond, writes: sellingapi.DefaultWritesPerSecond},
	{name: "lifted", reads: 1000, writes: 1000},
}

// Directions of the Selling API benchmark.
const (
	dirPull = "ACE → CRM"
	dirPush = "CRM → ACE"
)

// apiResult is one timed direction at one quota setting.
type apiResult struct {
	quotas    apiQuotas
	direction string
	records   int
	elapsed   time.Duration // from the first `sync-now --wait` until the last record was in
	cycles    int           // `sync-now --wait` calls it took
	calls     apiCalls      // Selling API calls of the timed span, by operation, refused ones included
	throttled apiCalls      // of those, the calls the server refused with ThrottlingException
	// after are the calls of the next `sync-now --wait`: an idle cycle after ACE → CRM;
	// after CRM → ACE, the cycle whose pull reads back the opportunities just created.
	after apiCalls
}

func (r apiResult) recordsPerSec() float64 { return float64(r.records) / r.elapsed.Seconds() }

// perRecord is the reads and writes per record of the timed span that did work (calls
// less those refused with ThrottlingException).
func (r apiResult) perRecord() (reads, writes float64) {
	return float64(r.calls.reads()-r.throttled.reads()) / float64(r.records), float64(r.calls.writes()-r.throttled.writes()) / float64(r.records)
}

// bound is the records per second the published quotas allow at the calls per record the
// run needed (refused calls left out): the ceiling the implementation would reach if every
// token of the partner account went to a call that works.
func (r apiResult) bound() float64 {
	reads, writes := r.perRecord()
	b := math.Inf(1)
	if reads > 0 {
		b = sellingapi.DefaultReadsPerSecond / reads
	}
	if writes > 0 {
		b = min(b, sellingapi.DefaultWritesPerSecond/writes)
	}
	return b
}

// perDay is the records a day the published daily quotas allow at the calls per record of
// the run; for CRM → ACE the reads of the next cycle, which reads the creates back, count
// too.
func (r apiResult) perDay() float64 {
	reads, writes := r.perRecord()
	if r.direction == dirPush {
		reads += float64(r.after.reads()) / float64(r.records)
	}
	d := math.Inf(1)
	if reads > 0 {
		d = dailyReads / reads
	}
	if writes > 0 {
		d = min(d, dailyWrites/writes)
	}
	return d
}

// apiCalls counts Selling API calls by operation (the contract server's Calls, refused
// ones included).
type apiCalls map[string]int

func callsSince(now, before map[string]int) apiCalls {
	out := apiCalls{}
	for op, n := range now {
		if d := n - before[op]; d > 0 {
			out[op] = d
		}
	}
	return out
}

func (c apiCalls) count(access sellingapi.Access) int {
	n := 0
	for op, k := range c {
		if sellingapi.OperationAccess(op) == access {
			n += k
		}
	}
	return n
}

func (c apiCalls) reads() int  { return c.count(sellingapi.AccessRead) }
func (c apiCalls) writes() int { return c.count(sellingapi.AccessWrite) }

// String is e.g. "GetAwsOpportunitySummary 100, GetOpportunity 100, ListOpportunities 1".
func (c apiCalls) String() string {
	if len(c) == 0 {
		return "none"
	}
	ops := make([]string, 0, len(c))
	for op := range c {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s %d", op, c[op])
	}
	return strings.Join(parts, ", ")
}

// perThousand is the calls per 1,000 records by operation, those refused with
// ThrottlingException (in throttled) beside them, e.g. "GetOpportunity 1000, CreateOpportunity
// 1000 (+250 throttled)".
func (c apiCalls) perThousand(records int, throttled apiCalls) string {
	ops := make([]string, 0, len(c))
	for op := range c {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	parts := make([]string, len(ops))
	per := func(n int) float64 { return 1000 * float64(n) / float64(records) }
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s %.0f", op, per(c[op]-throttled[op]))
		if t := throttled[op]; t > 0 {
			parts[i] += fmt.Sprintf(" (+%.0f throttled)", per(t))
		}
	}
	return strings.Join(parts, ", ")
}

// BenchmarkSellingAPI measures the Partner Central Selling API transport through the
// worker and starter binaries against the local stack's contract server, once at AWS's
// published quotas (10 reads and 1 write a second per partner account, on the server and
// in the worker's limiter) and once with both lifted to 1,000 a second, which shows the
// implementation's own cost:
//
//   - ACE → CRM: API_RECORDS opportunities on AWS's side (created, submitted and approved
//     in the partner's Sandbox catalog, as Partner Central holds them), a customer enrolled
//     with `starter enroll --transport api`, and `starter sync-now --wait` until all are in
//     its SQLite CRM;
//   - CRM → ACE: API_CREATES opportunities created in the CRM as the sales team does, a
//     customer enrolled with --spms-id (inbound on), and `sync-now --wait` until every one
//     was created on the contract server and marked accepted in the CRM.
//
// Each direction reports records/s, the API calls per 1,000 records by operation (from the
// contract server's call counts), and the bound the published quotas put on it at those
// calls per record. ns/op is the two timed spans together; the figures are printed and
// reported as metrics.
func BenchmarkSellingAPI(b *testing.B) {
	pulls := positiveEnv(b, envAPIRecords, defaultAPIRecords)
	creates := positiveEnv(b, envAPICreates, defaultAPICreates)
	stack := startStack(b)
	cli := newStarter(b, stack.Env())
	var results []apiResult
	for _, q := range apiQuotaSettings {
		b.Run(q.name+"-quotas", func(b *testing.B) {
			b.StopTimer()
			stack.SellingAPI.SetQuotas(rate.Limit(q.reads), rate.Limit(q.writes))
			b.Cleanup(func() {
				stack.SellingAPI.SetQuotas(sellingapi.DefaultReadsPerSecond, sellingapi.DefaultWritesPerSecond)
			})
			taskQueue := fmt.Sprintf("oppsync-bench-api-%s-%s", q.name, stack.run)
			var flags []string
			if !q.published() {
				flags = []string{"--selling-reads-per-second", fmt.Sprint(q.reads), "--selling-writes-per-second", fmt.Sprint(q.writes)}
			}
			counter := newThrottleCounter(b, stack.SellingAPIEndpoint)
			startWorkerProcessArgs(b, stack.Env(), taskQueue, flags, "AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING="+counter.URL)
			pull := runAPIPull(b, stack, cli, counter, taskQueue, q, pulls)
			push := runAPIPush(b, stack, cli, counter, taskQueue, q, creates)
			for _, r := range []apiResult{pull, push} {
				b.ReportMetric(r.recordsPerSec(), strings.ReplaceAll(strings.ToLower(r.direction), " → ", "_to_")+"_records/s")
			}
			results = append(results, pull, push)
		})
	}
	printSellingAPI(results)
	summary.selling = append(summary.selling, results...)
}

// runAPIPull times ACE → CRM: opportunities seeded on AWS's side, pulled into a new API
// customer's CRM.
func runAPIPull(b *testing.B, s *benchStack, cli *starterCLI, counter *throttleCounter, taskQueue string, q apiQuotas, n int) apiResult {
	b.Helper()
	ctx := context.Background()
	c, cust := enrollAPI(b, s, cli, "api-pull-"+q.name[:3], taskQueue)
	seedAWSOpportunities(b, s, cust, q, n)
	store := openCRM(b, c.crmPath)

	before, throttledBefore := s.SellingAPI.Calls(), counter.snapshot()
	res := apiResult{quotas: q, direction: dirPull, records: n}
	b.StartTimer()
	start := time.Now()
	for {
		res.cycles++
		_, sum := syncNowCLI(b, s, cli, c)
		if !sum.OK() || sum.Counts.Quarantined > 0 {
			b.Fatalf("%s: ACE → CRM cycle %d: errors %v, %d records quarantined", c.name, res.cycles, sum.Errors, sum.Counts.Quarantined)
		}
		recs, err := store.List(ctx, ace.ObjectOpportunity)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) >= n {
			break
		}
		if res.cycles > n/50+3 { // a pull reads up to 100 opportunities; the workflow runs the next at once

			b.Fatalf("%s: the CRM holds %d of %d opportunities after %d cycles", c.name, len(recs), n, res.cycles)
		}
	}
	res.elapsed = time.Since(start)
	b.StopTimer()
	res.calls, res.throttled = callsSince(s.SellingAPI.Calls(), before), callsSince(counter.snapshot(), throttledBefore)

	before = s.SellingAPI.Calls()
	if _, sum := syncNowCLI(b, s, cli, c); !sum.OK() || sum.Counts.Inserted+sum.Counts.Updated > 0 {
		b.Fatalf("%s: the cycle after the pull: errors %v, %d inserted, %d updated; want an idle cycle", c.name, sum.Errors, sum.Counts.Inserted, sum.Counts.Updated)
	}
	res.after = callsSince(s.SellingAPI.Calls(), before)
	return res
}

// runAPIPush times CRM → ACE: opportunities the sales team creates in a new API customer's
// CRM, created in ACE.
func runAPIPush(b *testing.B, s *benchStack, cli *starterCLI, counter *throttleCounter, taskQueue string, q apiQuotas, n int) apiResult {
	b.Helper()
	ctx := context.Background()
	c, cust := enrollAPI(b, s, cli, "api-push-"+q.name[:3], taskQueue, "--spms-id", "12345")
	store := openCRM(b, c.crmPath)
	tmpl := validOpportunity(b)
	partnerIDs := make([]string, n)
	for i := range n {
		partnerIDs[i] = fmt.Sprintf("CRM-API-%05d", i)
		tmpl["partnerCrmUniqueIdentifier"] = partnerIDs[i]
		tmpl["partnerProjectTitle"] = fmt.Sprintf("Data warehouse migration %d", i)
		rec, _ := json.Marshal(tmpl)
		if _, err := store.Create(ctx, ace.ObjectOpportunity, partnerIDs[i], rec); err != nil {
			b.Fatal(err)
		}
	}

	before, throttledBefore := s.SellingAPI.Calls(), counter.snapshot()
	res := apiResult{quotas: q, direction: dirPush, records: n}
	b.StartTimer()
	start := time.Now()
	for {
		res.cycles++
		_, sum := syncNowCLI(b, s, cli, c)
		if !sum.OK() || sum.Counts.Invalid+sum.Counts.Rejected > 0 {
			b.Fatalf("%s: CRM → ACE cycle %d: errors %v, %d invalid, %d rejected (see the CRM's sync errors: %s)",
				c.name, res.cycles, sum.Errors, sum.Counts.Invalid, sum.Counts.Rejected, syncErrors(b, store))
		}
		recs, err := store.List(ctx, ace.ObjectOpportunity)
		if err != nil {
			b.Fatal(err)
		}
		done := 0
		for _, r := range recs {
			if r.SyncStatus == crm.SyncAccepted && r.ACEID != "" {
				done++
			}
		}
		if done >= n {
			break
		}
		if res.cycles > n+3 {
			b.Fatalf("%s: %d of %d CRM opportunities accepted after %d cycles", c.name, done, n, res.cycles)
		}
	}
	res.elapsed = time.Since(start)
	b.StopTimer()
	res.calls, res.throttled = callsSince(s.SellingAPI.Calls(), before), callsSince(counter.snapshot(), throttledBefore)
	if got := res.calls["CreateOpportunity"]; got < n {
		b.Fatalf("%s: %d CreateOpportunity calls for %d CRM opportunities", c.name, got, n)
	}

	before = s.SellingAPI.Calls()
	if _, sum := syncNowCLI(b, s, cli, c); !sum.OK() {
		b.Fatalf("%s: the cycle after the push: %v", c.name, sum.Errors)
	}
	res.after = callsSince(s.SellingAPI.Calls(), before)

	// ACE holds each CRM opportunity once (read after the timed span).
	api := partnerClient(s, cust)
	found := map[string]int{}
	in := &sellingapi.ListOpportunitiesInput{Catalog: aws.String(customersync.EnvBeta.Catalog())}
	for {
		page, err := api.ListOpportunities(ctx, in)
		if err != nil {
			b.Fatalf("%s: list the contract server's opportunities: %v", c.name, err)
		}
		for _, o := range page.OpportunitySummaries {
			found[aws.ToString(o.PartnerOpportunityIdentifier)]++
		}
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	for _, id := range partnerIDs {
		if found[id] != 1 {
			b.Fatalf("%s: the contract server holds %d opportunities for CRM record %s, want 1", c.name, found[id], id)
		}
	}
	return res
}

// enrollAPI sets up a customer (a role in its own partner account) and enrolls it on the
// Selling API transport with `starter enroll --transport api` onto taskQueue, with its own
// SQLite CRM and a poll interval of an hour (cycles run on sync-now), then waits for its
// first cycle. A worker without the transport fails the benchmark here, saying so.
func enrollAPI(b *testing.B, s *benchStack, cli *starterCLI, kind, taskQueue string, extra ...string) (customerEnv, *devstack.Customer) {
	b.Helper()
	cust, err := s.NewCustomer(context.Background(), s.name(kind))
	if err != nil {
		b.Fatal(err)
	}
	c := customerEnv{name: cust.Name, wfID: customersync.WorkflowID(cust.Name, customersync.EnvBeta),
		crmPath: filepath.Join(s.crmDir, cust.Name+"-crm.db")}
	args := []string{"enroll", "--customer", cust.Name, "--env", "beta", "--transport", "api", "--role-arn", cust.RoleARN,
		"--external-id", cust.ExternalID, "--crm", "sqlite://" + c.crmPath, "--poll-interval", time.Hour.String(),
		"--task-queue", taskQueue}
	cli.run(b, append(args, extra...)...)
	b.Cleanup(func() { _ = s.temporal.TerminateWorkflow(context.Background(), c.wfID, "", "benchmark over") })

	deadline := time.Now().Add(time.Minute)
	for {
		st := queryStatus(b, s, c.wfID)
		if st.State.Cycles >= 1 && st.Phase == customersync.PhaseWaiting {
			if types := activityTypes(fetchHistory(b, s.temporal, c.wfID)); types["PullOpportunities"] == 0 {
				var errs []string
				if st.State.LastCycle != nil {
					errs = st.State.LastCycle.Errors
				}
				b.Fatalf("%s: the first cycle of a customer enrolled with --transport api ran activities %s and no PullOpportunities: "+
					"the worker built from this checkout has no Selling API transport yet (branch apiwire); the cycle's errors: %v",
					c.wfID, typesText(types), errs)
			}
			if lc := st.State.LastCycle; lc != nil && !lc.OK() {
				b.Fatalf("%s: first cycle on the Selling API failed: %v", c.wfID, lc.Errors)
			}
			return c, cust
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: first cycle not done after a minute (phase %s, cycles %d)", c.wfID, st.Phase, st.State.Cycles)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var benchRoleAccount = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role/`)

// partnerClient is a Selling API client signing as the customer's role, i.e. calling as its
// partner account (the stack's contract server maps the fake STS's keys to the role's
// account).
func partnerClient(s *benchStack, cust *devstack.Customer) *sellingapi.Client {
	creds := credentials.NewStaticCredentialsProvider(cust.AccessKeyID, cust.SecretAccessKey, "")
	return sellingapi.New(aws.Config{Credentials: creds}, sellingapi.WithEndpoint(s.SellingAPIEndpoint),
		sellingapi.WithLimiter(sellingapi.NewLimiter(0, 0)))
}

// seedAWSOpportunities puts n opportunities into the customer's Sandbox catalog as Partner
// Central holds them when the partner's people created them there and AWS approved them:
// CreateOpportunity (ACE's sample record through the S3 ↔ API mapping, no CRM id), then
// StartEngagementFromOpportunityTask and AWS's approval, so that each has AWS's summary.
// The contract server's quotas are lifted while seeding and set back to q after, with full
// buckets.
func seedAWSOpportunities(b *testing.B, s *benchStack, cust *devstack.Customer, q apiQuotas, n int) {
	b.Helper()
	ctx := context.Background()
	s.SellingAPI.SetQuotas(rate.Inf, rate.Inf)
	defer s.SellingAPI.SetQuotas(rate.Limit(q.reads), rate.Limit(q.writes))
	m := benchRoleAccount.FindStringSubmatch(cust.RoleARN)
	if m == nil {
		b.Fatalf("role %s: no account in its ARN", cust.RoleARN)
	}
	account, catalog := m[1], customersync.EnvBeta.Catalog()
	api := partnerClient(s, cust)
	rec := validOpportunity(b)
	delete(rec, "partnerCrmUniqueIdentifier")
	rec["stage"] = "Prospect"
	for i := range n {
		rec["partnerProjectTitle"] = fmt.Sprintf("Data warehouse migration %d", i)
		body, issues := apimapping.ToAPI(rec)
		if len(issues) > 0 {
			b.Fatalf("ACE's sample opportunity does not map to the Selling API: %v", issues)
		}
		raw, err := json.Marshal(body)
		if err != nil {
			b.Fatal(err)
		}
		var in sellingapi.CreateOpportunityInput
		if err := json.Unmarshal(raw, &in); err != nil {
			b.Fatal(err)
		}
		in.Catalog, in.ClientToken = aws.String(catalog), aws.String(fmt.Sprintf("seed-%s-%d", cust.Name, i))
		out, err := api.CreateOpportunity(ctx, &in)
		if err != nil {
			b.Fatalf("seed opportunity %d on the contract server: %v", i, err)
		}
		id := aws.ToString(out.Id)
		if _, err := api.StartEngagementFromOpportunityTask(ctx, &sellingapi.StartEngagementFromOpportunityTaskInput{
			Catalog: aws.String(catalog), Identifier: aws.String(id), ClientToken: aws.String("submit-" + id),
			AwsSubmission: &sellingapi.AwsSubmission{InvolvementType: sellingapi.SalesInvolvementTypeCoSell, Visibility: sellingapi.VisibilityFull},
		}); err != nil {
			b.Fatalf("submit seeded opportunity %s: %v", id, err)
		}
		if err := s.SellingAPI.ApproveOpportunity(account, catalog, id); err != nil {
			b.Fatalf("approve seeded opportunity %s: %v", id, err)
		}
	}
}

func openCRM(b *testing.B, path string) *crmsqlite.Store {
	b.Helper()
	store, err := crmsqlite.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	return store
}

// syncErrors lists the CRM records' sync errors (field names and rules, no values), for a
// failure message.
func syncErrors(b *testing.B, store *crmsqlite.Store) string {
	b.Helper()
	recs, err := store.List(context.Background(), ace.ObjectOpportunity)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, r := range recs {
		if len(r.SyncErrors) > 0 && len(out) < 3 {
			out = append(out, fmt.Sprintf("%s %s: %s", r.PartnerID, r.SyncStatus, strings.Join(r.SyncErrors, "; ")))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, " | ")
}

// printSellingAPI prints each direction at each quota setting, the bound of the published
// quotas beside it, the calls per 1,000 records and what a day's quotas allow.
func printSellingAPI(results []apiResult) {
	if len(results) == 0 {
		return
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nSelling API transport (worker and starter binaries, contract server): records/s by direction and quota setting\n")
	fmt.Fprintf(&out, "%-10s %-10s %7s %9s %7s %10s %12s %8s  %s\n",
		"quotas", "direction", "records", "time", "cycles", "records/s", "quota bound", "of bound", "calls per 1,000 records")
	for _, r := range results {
		bound, share := "-", "-"
		if r.quotas.published() {
			bound, share = fmt.Sprintf("%.2f/s", r.bound()), fmt.Sprintf("%.0f%%", 100*r.recordsPerSec()/r.bound())
		}
		fmt.Fprintf(&out, "%-10s %-10s %7d %9s %7d %10.2f %12s %8s  %s\n",
			r.quotas.name, r.direction, r.records, r.elapsed.Round(time.Millisecond), r.cycles, r.recordsPerSec(), bound, share,
			r.calls.perThousand(r.records, r.throttled))
	}
	fmt.Fprintf(&out, "\nCalls of the timed spans, and of the next cycle:\n")
	for _, r := range results {
		reads, writes := r.perRecord()
		next := map[string]string{dirPull: "idle cycle after", dirPush: "next cycle (reads the creates back)"}[r.direction]
		fmt.Fprintf(&out, "  %-9s %-9s %.2f reads + %.2f writes per record (refused ones left out): %s; refused with ThrottlingException: %s; %s: %s\n",
			r.quotas.name, r.direction, reads, writes, r.calls, r.throttled, next, r.after)
	}
	for _, r := range results {
		if r.quotas.published() {
			reads, writes := r.perRecord()
			fmt.Fprintf(&out, "At the published daily quotas (%d reads, %d writes per 24 h), %s at %.2f reads + %.2f writes per record: %.0f records a day\n",
				dailyReads, dailyWrites, r.direction, reads, writes, r.perDay())
		}
	}
	fmt.Print(out.String())
}
