package bench

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// Targets of the outbound benchmark on the 2-core development machine, 200 files × 10
// records (issue 9). They are reported as met or missed; a miss fails the benchmark only
// with OPPSYNC_BENCH_STRICT=true, because they are the goals of the batch workflow rather
// than promises of every commit. The hard bounds below always fail it.
const (
	targetLoopbackSpeedup = 1.5 // OppSync ÷ the sequential loop, S3 on loopback
	targetLatencySpeedup  = 15  // the same with 20 ms each way in front of S3
	targetEventsPerFile   = 0.5 // history events a backlog adds per file
	targetIdleActions     = 2   // Temporal Cloud actions of an idle cycle, inbound on
	targetIdleEvents      = 8   // history events of an idle cycle, inbound on
)

// Hard bounds: these fail the benchmark whatever OPPSYNC_BENCH_STRICT says.
const (
	// maxIdleS3Requests is one LIST per outbound folder: an idle customer costs ACE's
	// bucket (and us) nothing else.
	maxIdleS3Requests = 2
)

// envStrict makes a missed target fail the benchmark.
const envStrict = "OPPSYNC_BENCH_STRICT"

// scenario is one network setting between the worker (or the loop) and S3.
type scenario struct {
	name    string
	latency time.Duration // added by Toxiproxy to each direction
}

var scenarios = []scenario{
	{name: "loopback"},
	{name: "latency20ms", latency: 20 * time.Millisecond},
}

// row is one scenario's results.
type row struct {
	scenario           scenario
	oppsync            oppsyncResult
	baseline           baselineResult
	idle, idleInbound  *idleCost // measured on loopback only
	files, records     int
	workerRSS, peakRSS int64
}

func (r row) speedup() float64 { return r.oppsync.recordsPerSec() / r.baseline.recordsPerSec() }

func (r row) target() float64 {
	if r.scenario.latency > 0 {
		return targetLatencySpeedup
	}
	return targetLoopbackSpeedup
}

// BenchmarkOutbound is the headline benchmark: FILES outbound files of RECORDS records
// each, synced by the real worker binary (S3 → assumed role → worker → Temporal → CRM),
// with the customer enrolled and the cycle triggered by the real starter binary exactly as
// an operator does (`starter enroll`, `starter sync-now --wait`), side by side with the
// sequential loop of AWS's sample reader on the same stack, on loopback and with 20 ms of
// latency each way in front of S3. On loopback it also measures what an idle cycle costs,
// with and without the inbound direction. ns/op is the `sync-now --wait` of the backlog.
func BenchmarkOutbound(b *testing.B) {
	files, records := sizes(b)
	stack := startStack(b)
	cli := newStarter(b, stack.Env())
	var rows []row
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			b.StopTimer()
			counter := newS3Counter(b, stack.s3Endpoint(b, sc.latency))
			taskQueue := fmt.Sprintf("oppsync-bench-%s-%s", sc.name, stack.run)
			w := startWorkerProcess(b, stack.Env(), taskQueue, "AWS_ENDPOINT_URL_S3="+counter.URL)
			r := row{scenario: sc, files: files, records: records}
			r.oppsync = runBinary(b, stack, cli, w, taskQueue, counter, sc.name, files, records, func(on bool) {
				if on {
					b.ResetTimer()
					b.StartTimer()
				} else {
					b.StopTimer()
				}
			})
			r.workerRSS, r.peakRSS = w.rss(b), w.hwm(b)
			r.baseline = runBaseline(b, stack, sc.name+"-base", counter, files, records)
			if sc.latency == 0 {
				idle := measureIdle(b, stack, cli, taskQueue, counter, "idle-out", 4)
				in := measureIdle(b, stack, cli, taskQueue, counter, "idle-in", 4, "--spms-id", "12345")
				r.idle, r.idleInbound = &idle, &in
			}
			rows = append(rows, r)
			report(b, r)
		})
	}
	printOutbound(rows)
	summary.outbound = append(summary.outbound, rows...)
}

// report reports a scenario's metrics and fails the benchmark on a hard bound, or on a
// missed target under OPPSYNC_BENCH_STRICT=true.
func report(b *testing.B, r row) {
	b.Helper()
	o := r.oppsync
	b.ReportMetric(o.recordsPerSec(), "oppsync_records/s")
	b.ReportMetric(r.baseline.recordsPerSec(), "baseline_records/s")
	b.ReportMetric(r.speedup(), "speedup")
	b.ReportMetric(o.eventsPerFile(), "events/file")
	b.ReportMetric(float64(o.s3Idle.total()), "s3_req/idle_cycle")
	if r.idleInbound != nil {
		b.ReportMetric(float64(r.idleInbound.maxActions), "actions/idle_cycle_inbound")
		b.ReportMetric(float64(r.idleInbound.maxEvents), "events/idle_cycle_inbound")
	}
	if n := o.s3Idle.total(); n > maxIdleS3Requests {
		b.Errorf("%s: an idle cycle sent %d S3 requests (%s), want at most %d", r.scenario.name, n, o.s3Idle, maxIdleS3Requests)
	}
	for _, idle := range []*idleCost{r.idle, r.idleInbound} {
		if idle != nil && idle.s3PerCycle > maxIdleS3Requests {
			b.Errorf("%s: a timer-driven idle cycle (inbound %v) sent %.1f S3 requests, want at most %d",
				r.scenario.name, idle.inbound, idle.s3PerCycle, maxIdleS3Requests)
		}
	}
	if os.Getenv(envStrict) != "true" {
		return
	}
	for _, miss := range r.misses() {
		b.Errorf("%s: target missed: %s", r.scenario.name, miss)
	}
}

// misses lists the targets the row misses.
func (r row) misses() []string {
	var out []string
	if s := r.speedup(); s < r.target() {
		out = append(out, fmt.Sprintf("%.2fx the sequential loop, want at least %gx", s, r.target()))
	}
	if e := r.oppsync.eventsPerFile(); e > targetEventsPerFile {
		out = append(out, fmt.Sprintf("%.2f history events per file, want at most %g", e, targetEventsPerFile))
	}
	if in := r.idleInbound; in != nil {
		if in.maxActions > targetIdleActions {
			out = append(out, fmt.Sprintf("an idle cycle with inbound on costs %d actions (%s), want at most %d", in.maxActions, in.actions, targetIdleActions))
		}
		if in.maxEvents > targetIdleEvents {
			out = append(out, fmt.Sprintf("an idle cycle with inbound on adds %d history events, want at most %d", in.maxEvents, targetIdleEvents))
		}
	}
	return out
}

// printOutbound prints every scenario's figures and where OppSync's time went.
func printOutbound(rows []row) {
	if len(rows) == 0 {
		return
	}
	var out strings.Builder
	files, records := rows[0].files, rows[0].records
	fmt.Fprintf(&out, "\nOutbound sync of %d files × %d records (%d records): worker binary, enrolled and triggered with the starter binary\n",
		files, records, files*records)
	fmt.Fprintf(&out, "%-12s %-16s %9s %9s %10s %8s %11s  %s\n",
		"scenario", "runner", "time", "cycle", "records/s", "speedup", "events/file", "S3 requests")
	for _, r := range rows {
		o := r.oppsync
		fmt.Fprintf(&out, "%-12s %-16s %9s %9s %10.0f %7.2fx %11.2f  %s\n",
			r.scenario.name, o.runner, o.elapsed.Round(time.Millisecond), o.cycle.Round(time.Millisecond),
			o.recordsPerSec(), r.speedup(), o.eventsPerFile(), o.s3Backlog)
		fmt.Fprintf(&out, "%-12s %-16s %9s %9s %10.0f %7.2fx %11s  %s\n",
			r.scenario.name, "sequential loop", r.baseline.elapsed.Round(time.Millisecond), "-",
			r.baseline.recordsPerSec(), 1.0, "-", r.baseline.requests)
	}
	fmt.Fprintf(&out, "\nThe backlog cycle in the workflow history (any activity type):\n")
	for _, r := range rows {
		o, t := r.oppsync, r.oppsync.timing
		fmt.Fprintf(&out, "  %-12s activities %s; %d events; mean queue wait %s, mean run %s (longest %s); %d workflow tasks, mean %s, %s in all; actions %d (%s)\n",
			r.scenario.name, typesText(o.activities), o.events, t.scheduleStart.Round(10*time.Microsecond),
			t.startClose.Round(10*time.Microsecond), t.longest.Round(time.Millisecond), t.workflowTasks,
			t.wftLatency.Round(10*time.Microsecond), t.wftBusy.Round(time.Millisecond), o.actions.total(), o.actions)
		fmt.Fprintf(&out, "  %-12s CPU during the cycle (%s wall, 2 cores): %s; worker RSS %.0f MB (peak %.0f MB)\n",
			"", o.cpu.wall.Round(time.Millisecond), o.cpu, mb(r.workerRSS), mb(r.peakRSS))
		fmt.Fprintf(&out, "  %-12s CPU during the sequential loop (%s wall): %s\n",
			"", r.baseline.cpu.wall.Round(time.Millisecond), r.baseline.cpu)
		fmt.Fprintf(&out, "  %-12s S3 requests of a sync-now cycle on the emptied bucket: %s\n", "", o.s3Idle)
	}
	for _, r := range rows {
		for _, idle := range []*idleCost{r.idle, r.idleInbound} {
			if idle == nil {
				continue
			}
			fmt.Fprintf(&out, "\nIdle customer, timer-driven cycles (inbound %s), %d cycles: at most %d history events and %d Temporal actions a cycle (%s); %.1f S3 requests a cycle\n",
				map[bool]string{true: "on, --spms-id", false: "off"}[idle.inbound], idle.cycles, idle.maxEvents, idle.maxActions, idle.actions, idle.s3PerCycle)
		}
	}
	for _, r := range rows {
		for _, miss := range r.misses() {
			fmt.Fprintf(&out, "TARGET MISSED (%s): %s\n", r.scenario.name, miss)
		}
	}
	fmt.Print(out.String())
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }
