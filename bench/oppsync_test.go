package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/customersync"
)

// oppsyncResult is what one run of OppSync on a backlog measured.
type oppsyncResult struct {
	runner  string        // e.g. "worker binary"
	elapsed time.Duration // `starter sync-now --wait` from exec to exit (or the update, in-process)
	cycle   time.Duration // the cycle itself, as its summary reports it
	files   int
	records int
	// events are the history events the backlog cycle added (sync-now through its end).
	events int
	// activities are the activities the cycle scheduled, by type.
	activities map[string]int
	actions    actionCount
	s3Backlog  s3Requests // S3 requests of the backlog cycle
	s3Idle     s3Requests // S3 requests of a sync-now cycle on the emptied bucket after it
	timing     historyTiming
	cpu        cpuUse // CPU time of each process during the backlog cycle
}

func (r oppsyncResult) recordsPerSec() float64 { return float64(r.records) / r.elapsed.Seconds() }
func (r oppsyncResult) eventsPerFile() float64 { return float64(r.events) / float64(r.files) }

// customerEnv is a customer enrolled through the starter binary, on a worker's task queue.
type customerEnv struct {
	name, wfID string
	bucket     string
	crmPath    string
}

// enrollCLI sets up a new ACE customer on the stack and enrolls it with `starter enroll`
// onto taskQueue, with its own SQLite CRM, then waits for its first cycle (which checks the
// access chain on an empty bucket). extra are more enroll flags (e.g. --spms-id).
func enrollCLI(b *testing.B, s *benchStack, cli *starterCLI, kind, taskQueue string, poll time.Duration, extra ...string) customerEnv {
	b.Helper()
	cust, err := s.NewCustomer(context.Background(), s.name(kind))
	if err != nil {
		b.Fatal(err)
	}
	dir := s.crmDir
	if dir == "" {
		dir = b.TempDir()
	}
	c := customerEnv{name: cust.Name, wfID: customersync.WorkflowID(cust.Name, customersync.EnvBeta), bucket: cust.Bucket,
		crmPath: filepath.Join(dir, cust.Name+"-crm.db")}
	args := []string{"enroll", "--customer", cust.Name, "--env", "beta", "--role-arn", cust.RoleARN,
		"--external-id", cust.ExternalID, "--bucket", cust.Bucket, "--region", s.Region,
		"--kms-key-arn", cust.KMSKeyARN, "--crm", "sqlite://" + c.crmPath, "--poll-interval", poll.String(),
		"--task-queue", taskQueue}
	cli.run(b, append(args, extra...)...)
	b.Cleanup(func() { _ = s.temporal.TerminateWorkflow(context.Background(), c.wfID, "", "benchmark over") })
	awaitFirstCycle(b, s, c.wfID)
	return c
}

// syncNowCLI runs `starter sync-now --wait` and returns how long it took and the summary
// of the cycle it waited for (from the status query: the CLI prints text).
func syncNowCLI(b *testing.B, s *benchStack, cli *starterCLI, c customerEnv) (time.Duration, customersync.CycleSummary) {
	b.Helper()
	start := time.Now()
	cli.run(b, "sync-now", "--customer", c.name, "--env", "beta", "--wait")
	elapsed := time.Since(start)
	st := queryStatus(b, s, c.wfID)
	if st.State.LastCycle == nil {
		b.Fatalf("%s: no cycle summary after sync-now --wait", c.wfID)
	}
	return elapsed, *st.State.LastCycle
}

// runBinary syncs a backlog of files×records through the worker binary w (reaching S3
// through counter), with the customer enrolled and the cycle triggered by the starter
// binary, and measures it. timer is called with true just before `sync-now --wait` and
// with false just after it, so that the caller times that span alone.
func runBinary(b *testing.B, s *benchStack, cli *starterCLI, w *workerProcess, taskQueue string, counter *s3Counter,
	kind string, files, records int, timer func(on bool)) oppsyncResult {
	b.Helper()
	c := enrollCLI(b, s, cli, kind, taskQueue, time.Hour) // cycles run on sync-now only
	putBacklog(b, s, c.bucket, files, records)

	before := len(fetchHistory(b, s.temporal, c.wfID))
	s3Before := counter.snapshot(c.bucket)
	cpu := s.startCPU(w)
	timer(true)
	elapsed, sum := syncNowCLI(b, s, cli, c)
	timer(false)
	res := oppsyncResult{runner: "worker binary", elapsed: elapsed, cycle: sum.FinishedAt.Sub(sum.StartedAt),
		s3Backlog: counter.snapshot(c.bucket).since(s3Before), cpu: cpu.stop()}
	checkBacklog(b, sum, files, records)
	res.files, res.records = sum.Counts.Files, sum.Counts.Records
	span := fetchHistory(b, s.temporal, c.wfID)[before:]
	res.events, res.activities, res.actions, res.timing = len(span), activityTypes(span), countActions(span), timeline(span)

	s3Before = counter.snapshot(c.bucket)
	_, idle := syncNowCLI(b, s, cli, c)
	res.s3Idle = counter.snapshot(c.bucket).since(s3Before)
	if !idle.OK() || idle.Counts.Files != 0 {
		b.Fatalf("idle cycle after the backlog synced %d files, errors %v; want 0 files, no errors", idle.Counts.Files, idle.Errors)
	}
	return res
}

func checkBacklog(b *testing.B, sum customersync.CycleSummary, files, records int) {
	b.Helper()
	if !sum.OK() {
		b.Fatalf("backlog cycle failed: %v", sum.Errors)
	}
	if sum.Counts.Files != files || sum.Counts.Records != files*records {
		b.Fatalf("backlog cycle synced %d files, %d records; want %d files, %d records",
			sum.Counts.Files, sum.Counts.Records, files, files*records)
	}
}

// idleCost is what an idle customer's timer-driven cycle costs.
type idleCost struct {
	inbound bool
	cycles  int // cycles measured
	// maxEvents and maxActions are the dearest cycle's; actions its breakdown.
	maxEvents, maxActions int
	actions               actionCount
	s3PerCycle            float64
}

// measureIdle enrolls an idle customer (empty bucket, empty CRM) with the shortest poll
// interval, lets it run n timer-driven cycles after its first, and reads their cost from
// its history. extra are more enroll flags (--spms-id turns the inbound direction on).
func measureIdle(b *testing.B, s *benchStack, cli *starterCLI, taskQueue string, counter *s3Counter, kind string, n int, extra ...string) idleCost {
	b.Helper()
	c := enrollCLI(b, s, cli, kind, taskQueue, customersync.MinPollInterval, extra...)
	first := queryStatus(b, s, c.wfID).State.Cycles
	s3Before := counter.snapshot(c.bucket)
	deadline := time.Now().Add(time.Duration(n+2) * 2 * customersync.MinPollInterval)
	var cycles int
	for {
		st := queryStatus(b, s, c.wfID)
		if lc := st.State.LastCycle; lc != nil && !lc.OK() {
			b.Fatalf("%s: idle cycle failed: %v", c.wfID, lc.Errors)
		}
		if cycles = st.State.Cycles - first; cycles >= n && st.Phase == customersync.PhaseWaiting {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d idle cycles in %s, want %d", c.wfID, cycles, time.Duration(n+2)*2*customersync.MinPollInterval, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cost := idleCost{inbound: len(extra) > 0,
		s3PerCycle: float64(counter.snapshot(c.bucket).since(s3Before).total()) / float64(cycles)}
	for _, cy := range idleCycles(fetchHistory(b, s.temporal, c.wfID)) {
		cost.cycles++
		if cy.events > cost.maxEvents {
			cost.maxEvents = cy.events
		}
		if t := cy.actions.total(); t > cost.maxActions {
			cost.maxActions, cost.actions = t, cy.actions
		}
	}
	if cost.cycles == 0 {
		b.Fatalf("%s: no timer-driven cycle found in the history", c.wfID)
	}
	return cost
}

// awaitFirstCycle waits for the cycle every enrollment runs at once (on an empty bucket).
func awaitFirstCycle(b *testing.B, s *benchStack, wfID string) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st := queryStatus(b, s, wfID)
		if st.State.Cycles >= 1 && st.Phase == customersync.PhaseWaiting {
			if c := st.State.LastCycle; c != nil && !c.OK() {
				b.Fatalf("%s: first cycle failed: %v", wfID, c.Errors)
			}
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: first cycle not done after a minute (phase %s, cycles %d)", wfID, st.Phase, st.State.Cycles)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func queryStatus(b *testing.B, s *benchStack, wfID string) customersync.Status {
	b.Helper()
	customer, env, _ := customersync.ParseWorkflowID(wfID)
	st, err := customersync.NewClient(s.temporal, "").Status(context.Background(), customer, env)
	if err != nil {
		b.Fatalf("query %s: %v", wfID, err)
	}
	return st
}

// cpuUse is the CPU time each process of the run spent in a span, and the span's length.
type cpuUse struct {
	wall  time.Duration
	procs []procCPUUse
}

type procCPUUse struct {
	name string
	cpu  time.Duration
}

// String is e.g. "temporal 1.2s, worker 0.8s, ... of 2 cores × 3.1s".
func (c cpuUse) String() string {
	var parts []string
	for _, p := range c.procs {
		parts = append(parts, fmt.Sprintf("%s %.2fs", p.name, p.cpu.Seconds()))
	}
	return strings.Join(parts, ", ")
}

type cpuMeter struct {
	start time.Time
	pids  []int
	names []string
	base  []time.Duration
}

// startCPU starts measuring the CPU time of the stack's servers, the worker process (if
// any) and this process (the sequential loop, the S3 counting proxy, an in-process worker).
func (s *benchStack) startCPU(w *workerProcess) *cpuMeter {
	m := &cpuMeter{start: time.Now()}
	add := func(name string, pid int) {
		if pid > 0 {
			m.names, m.pids = append(m.names, name), append(m.pids, pid)
		}
	}
	add("temporal", s.temporalServerPID())
	add("versitygw", findProcess("versitygw", "posix", strings.TrimPrefix(s.S3Endpoint, "http://")))
	add("toxiproxy", findProcess("-port", s.ToxiproxyURL[strings.LastIndex(s.ToxiproxyURL, ":")+1:]))
	if w != nil {
		add("worker", w.cmd.Process.Pid)
	}
	add("bench", os.Getpid())
	for _, pid := range m.pids {
		m.base = append(m.base, procCPU(pid))
	}
	return m
}

func (m *cpuMeter) stop() cpuUse {
	u := cpuUse{wall: time.Since(m.start)}
	for i, pid := range m.pids {
		u.procs = append(u.procs, procCPUUse{name: m.names[i], cpu: procCPU(pid) - m.base[i]})
	}
	return u
}
