package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/customersync"
)

// Environment variables that size the scale benchmark (the Makefile's CUSTOMERS).
const (
	envCustomers = "OPPSYNC_BENCH_CUSTOMERS"
	// envPoll is the customers' poll interval (a Go duration, default 30s).
	envPoll = "OPPSYNC_BENCH_POLL"
	// envWorkerArgs are extra flags for the worker process, e.g. "--workflow-cache-size=200".
	envWorkerArgs = "OPPSYNC_BENCH_WORKER_ARGS"
	// envSettle is how long the customers cycle before the measurements (default 3 polls).
	envSettle = "OPPSYNC_BENCH_SETTLE"
)

// Targets of the scale benchmark: up to 10,000 idle customers on one worker of a 2-core
// machine (issue 9); they are checked from 1,000 customers up.
const (
	defaultCustomers = 1000
	defaultPoll      = 30 * time.Second
	targetLateP99    = 5 * time.Second
	targetRSSBytes   = 1 << 30
	// enrollParallelism is how many enrollments are in flight at once, as a script enrolling
	// a customer list with a few parallel `starter enroll` calls would do.
	enrollParallelism = 32
	// historySample is how many customers' histories the punctuality is measured on.
	historySample = 100
)

// BenchmarkScale enrolls CUSTOMERS idle customers (empty buckets) with a short poll
// interval onto one worker process (the real binary, built for the run) and measures
// what an idle fleet costs: the enrollment rate, the worker's memory (VmRSS) in total and
// per customer, its CPU while the customers poll, and how punctual their cycles are (how
// late each cycle starts after its timer was due, from the histories of a sample).
func BenchmarkScale(b *testing.B) {
	k := positiveEnv(b, envCustomers, defaultCustomers)
	poll := durationEnv(b, envPoll, defaultPoll)
	settle := durationEnv(b, envSettle, 3*poll)
	if poll < customersync.MinPollInterval {
		b.Fatalf("%s=%s: at least %s", envPoll, poll, customersync.MinPollInterval)
	}
	stack := startStack(b)
	ctx := context.Background()

	// The worker process encrypts payloads with the stack's key: so must this client.
	payloads, err := codec.NewFromEnv(ctx)
	if err != nil {
		b.Fatal(err)
	}
	copts := client.Options{HostPort: stack.TemporalAddress, Namespace: stack.Namespace, Logger: quietLogger{}}
	codec.Apply(&copts, payloads)
	c, err := client.Dial(copts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)

	cust, err := stack.NewCustomer(ctx, stack.name("scale"))
	if err != nil {
		b.Fatal(err)
	}
	taskQueue := "oppsync-scale-" + stack.run
	wk := startWorkerProcess(b, stack.Env(), taskQueue)
	serverPID := stack.temporalServerPID()
	time.Sleep(2 * time.Second) // let the worker start its pollers before the baseline
	baseRSS := wk.rss(b)

	// Enroll.
	b.ResetTimer()
	crmURL := "sqlite://" + filepath.Join(b.TempDir(), "crm.db") // shared: idle cycles never write it
	ids := make([]string, k)
	for i := range ids {
		ids[i] = customersync.WorkflowID(fmt.Sprintf("scale-%s-%d", stack.run, i), customersync.EnvBeta)
	}
	began := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, enrollParallelism)
	for range enrollParallelism {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < k; i = int(next.Add(1) - 1) {
				name, _, _ := customersync.ParseWorkflowID(ids[i])
				cfg := customersync.CustomerConfig{
					Customer: name, Env: customersync.EnvBeta, RoleARN: cust.RoleARN, ExternalID: cust.ExternalID,
					Bucket: cust.Bucket, Region: stack.Region, KMSKeyARN: cust.KMSKeyARN, CRM: crmURL,
					PollInterval: poll,
				}.WithDefaults()
				if err := enrollScale(ctx, c, taskQueue, cfg); err != nil {
					errs <- fmt.Errorf("enroll customer %d of %d: %w", i+1, k, err)
					return
				}
			}
		})
	}
	wg.Wait()
	enrolled := time.Now()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	enrollRate := float64(k) / enrolled.Sub(began).Seconds()
	b.Logf("enrolled %d customers in %s (%.0f/s); letting them cycle for %s", k, enrolled.Sub(began).Round(time.Millisecond), enrollRate, settle)

	// Let every customer run a few cycles, then measure CPU over a window, then memory.
	time.Sleep(settle)
	cpu0, srv0, t0 := wk.cpu(b), procCPU(serverPID), time.Now()
	time.Sleep(2 * poll) // every customer runs about two cycles in the window
	cpu1, srv1, t1 := wk.cpu(b), procCPU(serverPID), time.Now()
	cpuPct := 100 * (cpu1 - cpu0).Seconds() / t1.Sub(t0).Seconds()
	srvPct := 100 * (srv1 - srv0).Seconds() / t1.Sub(t0).Seconds()
	rss, hwm := wk.rss(b), wk.hwm(b)
	scraped := wk.scrape(b)

	// Punctuality, from the histories of a sample spread over the fleet.
	sample := min(historySample, k)
	var late, fireDelay []time.Duration
	cycles := 0
	for j := range sample {
		id := ids[j*k/sample]
		l, f, n := cycleLateness(b, c, id, enrolled)
		late, fireDelay, cycles = append(late, l...), append(fireDelay, f...), cycles+n
	}
	st := queryStatus(b, stack, ids[k-1])
	if st.Health != customersync.HealthHealthy || st.State.LastCycle == nil || !st.State.LastCycle.OK() {
		b.Fatalf("%s: health %s, last cycle %+v: want healthy cycles", ids[k-1], st.Health, st.State.LastCycle)
	}

	r := scaleResult{
		customers: k, poll: poll, enrollRate: enrollRate, enrollTime: enrolled.Sub(began),
		baseRSS: baseRSS, rss: rss, hwm: hwm, cpuPct: cpuPct, serverPct: srvPct,
		cyclesSampled: cycles, sampled: sample,
		lateP50: percentile(late, 50), lateP99: percentile(late, 99), lateMax: percentile(late, 100),
		fireP50: percentile(fireDelay, 50), fireP99: percentile(fireDelay, 99),
		heapInuse: scraped["go_memstats_heap_inuse_bytes"], goroutines: scraped["go_goroutines"],
		stickyCache: scraped["temporal_sticky_cache_size"], workerArgs: os.Getenv(envWorkerArgs),
	}
	r.print()
	summary.scale = append(summary.scale, r)
	b.ReportMetric(r.enrollRate, "enroll_customers/s")
	b.ReportMetric(float64(r.rss)/(1<<20), "worker_rss_MB")
	b.ReportMetric(float64(r.rss-r.baseRSS)/float64(k)/1024, "worker_rss_KB/customer")
	b.ReportMetric(r.cpuPct, "worker_cpu_%core")
	b.ReportMetric(r.serverPct, "temporal_cpu_%core")
	b.ReportMetric(r.lateP50.Seconds(), "late_p50_s")
	b.ReportMetric(r.lateP99.Seconds(), "late_p99_s")
	if k >= defaultCustomers {
		if r.lateP99 > targetLateP99 {
			b.Errorf("p99 cycle lateness %s with %d customers, want under %s", r.lateP99, k, targetLateP99)
		}
		if r.rss > targetRSSBytes {
			b.Errorf("worker RSS %d MB with %d customers, want under %d MB", r.rss>>20, k, targetRSSBytes>>20)
		}
	}
}

type scaleResult struct {
	customers                 int
	poll                      time.Duration
	enrollRate                float64
	enrollTime                time.Duration
	baseRSS, rss, hwm         int64
	cpuPct, serverPct         float64
	cyclesSampled, sampled    int
	lateP50, lateP99, lateMax time.Duration
	fireP50, fireP99          time.Duration
	heapInuse, goroutines     float64
	stickyCache               float64
	workerArgs                string
}

func (r scaleResult) print() {
	var out strings.Builder
	fmt.Fprintf(&out, "\nScale: %d idle customers, poll interval %s, one worker process (%s)\n", r.customers, r.poll, strings.TrimSpace("flags: "+r.workerArgs))
	row := func(what, value string) { fmt.Fprintf(&out, "  %-44s %s\n", what, value) }
	row("enrollment", fmt.Sprintf("%.0f customers/s (%s for %d, %d in parallel)", r.enrollRate, r.enrollTime.Round(time.Millisecond), r.customers, enrollParallelism))
	row("worker RSS (VmRSS) after enrollment + cycles", fmt.Sprintf("%.1f MB (peak %.1f MB; %.1f MB before enrolling)", mb(r.rss), mb(r.hwm), mb(r.baseRSS)))
	row("worker RSS per customer", fmt.Sprintf("%.1f KB", float64(r.rss-r.baseRSS)/float64(r.customers)/1024))
	row("worker Go heap in use / goroutines", fmt.Sprintf("%.1f MB / %.0f", r.heapInuse/(1<<20), r.goroutines))
	row("workflows in the sticky cache", fmt.Sprintf("%.0f", r.stickyCache))
	row("worker CPU while customers idle-poll", fmt.Sprintf("%.1f%% of one core (%.0f cycles/s fleet-wide)", r.cpuPct, float64(r.customers)/r.poll.Seconds()))
	row("Temporal dev server CPU meanwhile", fmt.Sprintf("%.1f%% of one core", r.serverPct))
	row("cycle start lateness p50 / p99 / max", fmt.Sprintf("%s / %s / %s (%d cycles of %d customers)", r.lateP50.Round(time.Millisecond), r.lateP99.Round(time.Millisecond), r.lateMax.Round(time.Millisecond), r.cyclesSampled, r.sampled))
	row("  of which timer fired late p50 / p99", fmt.Sprintf("%s / %s (server side)", r.fireP50.Round(time.Millisecond), r.fireP99.Round(time.Millisecond)))
	fmt.Fprintf(&out, "  targets: p99 lateness < %s, RSS < %d MB\n", targetLateP99, targetRSSBytes>>20)
	fmt.Print(out.String())
}

// enrollScale enrolls a customer as `starter enroll` does.
func enrollScale(ctx context.Context, c client.Client, taskQueue string, cfg customersync.CustomerConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err := customersync.NewClient(c, taskQueue).Enroll(ctx, cfg)
	return err
}

// cycleLateness reads a workflow's history and returns, for every poll timer due after
// since, how late the cycle it started began (from the timer's due time, its start plus its
// duration, to the completion of the first workflow task after the timer fired, which
// issues the cycle's first command: the timer firing, the workflow task's wait in the queue
// and its run on the worker, including a local activity it runs), and how late the timer
// itself fired. It looks at event types only, not at activity names.
func cycleLateness(b *testing.B, c client.Client, wfID string, since time.Time) (late, fire []time.Duration, cycles int) {
	b.Helper()
	iter := c.GetWorkflowHistory(context.Background(), wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	due := map[int64]time.Time{}
	var pending time.Time // due time of the last fired timer whose cycle has not started
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			b.Fatalf("read history of %s: %v", wfID, err)
		}
		at := e.GetEventTime().AsTime()
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			due[e.GetEventId()] = at.Add(e.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration())
		case enumspb.EVENT_TYPE_TIMER_FIRED:
			d := due[e.GetTimerFiredEventAttributes().GetStartedEventId()]
			if d.After(since) {
				fire = append(fire, at.Sub(d))
				pending = d
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			if !pending.IsZero() {
				late = append(late, at.Sub(pending))
				pending = time.Time{}
				cycles++
			}
		}
	}
	return late, fire, cycles
}

// percentile returns the p-th percentile (nearest rank) of ds; 0 when empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func positiveEnv(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func durationEnv(b *testing.B, name string, def time.Duration) time.Duration {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration such as 30s", name, v)
	}
	return d
}
