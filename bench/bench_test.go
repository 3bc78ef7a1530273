package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/workflows"
)

// Targets the benchmark checks.
const (
	// maxEventsPerFile bounds history growth: a backlog must not push a customer's
	// workflow into continue-as-new after a few hundred files.
	maxEventsPerFile = 12
	// maxIdleS3Requests is one LIST per outbound folder: an idle customer costs ACE's
	// bucket (and us) nothing else.
	maxIdleS3Requests = 2
	// targetSpeedup is what OppSync should achieve over the sequential loop with latency.
	targetSpeedup = 3
)

// scenario is one network setting between the worker (or the loop) and S3.
type scenario struct {
	name    string
	latency time.Duration // added by Toxiproxy to each direction
}

var scenarios = []scenario{
	{name: "loopback"},
	{name: "latency20ms", latency: 20 * time.Millisecond},
}

// concurrencies are the FileConcurrency values OppSync runs with; the first is the default
// and the one the headline metrics (and ns/op) report.
var concurrencies = []int{workflows.DefaultFileConcurrency, 16}

// row is one line of the printed table.
type row struct {
	scenario string
	oppsync  []oppsyncResult
	baseline baselineResult
}

// BenchmarkOutbound syncs FILES outbound files of RECORDS records each through the whole
// stack (S3 → assumed role → in-process worker → Temporal → CRM) and compares OppSync with
// the sequential loop of AWS's sample reader, on loopback and with 20 ms of latency each way
// on S3. ns/op is the duration of OppSync's backlog cycle at the default concurrency.
func BenchmarkOutbound(b *testing.B) {
	files, records := sizes(b)
	stack := startStack(b)
	var rows []row
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			b.StopTimer()
			endpoint := stack.s3Endpoint(b, sc.latency)
			r := row{scenario: sc.name}
			for i, conc := range concurrencies {
				kind := fmt.Sprintf("%s-c%d", sc.name, conc)
				res := runOppSync(b, stack, kind, endpoint, conc, files, records, func(timing bool) {
					if i != 0 {
						return
					}
					if timing {
						b.ResetTimer()
						b.StartTimer()
					} else {
						b.StopTimer()
					}
				})
				r.oppsync = append(r.oppsync, res)
			}
			r.baseline = runBaseline(b, stack, sc.name+"-base", endpoint, files, records)
			rows = append(rows, r)
			report(b, r, files)
		})
	}
	printTable(rows, files, records)
}

// report reports a scenario's metrics and fails the benchmark when a bound is exceeded.
func report(b *testing.B, r row, files int) {
	b.Helper()
	def := r.oppsync[0]
	b.ReportMetric(def.recordsPerSec(), "oppsync_records/s")
	b.ReportMetric(def.filesPerSec(), "oppsync_files/s")
	b.ReportMetric(r.baseline.recordsPerSec(), "baseline_records/s")
	b.ReportMetric(def.recordsPerSec()/r.baseline.recordsPerSec(), "speedup")
	for _, o := range r.oppsync[1:] {
		b.ReportMetric(o.recordsPerSec(), fmt.Sprintf("oppsync_c%d_records/s", o.concurrency))
		b.ReportMetric(o.recordsPerSec()/r.baseline.recordsPerSec(), fmt.Sprintf("speedup_c%d", o.concurrency))
	}
	b.ReportMetric(float64(def.events)/float64(files), "events/file")
	b.ReportMetric(float64(def.s3Idle), "s3_req/idle_cycle")
	for _, o := range r.oppsync {
		if perFile := float64(o.events) / float64(files); perFile > maxEventsPerFile {
			b.Errorf("%s, concurrency %d: %.2f history events per file, want at most %d", r.scenario, o.concurrency, perFile, maxEventsPerFile)
		}
		if o.s3Idle > maxIdleS3Requests {
			b.Errorf("%s, concurrency %d: an idle cycle sent %d S3 requests, want at most %d", r.scenario, o.concurrency, o.s3Idle, maxIdleS3Requests)
		}
	}
}

// printTable prints every scenario's figures, with where OppSync's time went.
func printTable(rows []row, files, records int) {
	if len(rows) == 0 {
		return
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nOutbound sync of %d files × %d records (%d records)\n", files, records, files*records)
	fmt.Fprintf(&out, "%-12s %-16s %9s %10s %9s %8s %11s %9s %10s\n",
		"scenario", "runner", "time", "records/s", "files/s", "speedup", "events/file", "s3_req", "idle_s3")
	for _, r := range rows {
		base := r.baseline.recordsPerSec()
		for _, o := range r.oppsync {
			fmt.Fprintf(&out, "%-12s %-16s %9s %10.0f %9.1f %7.2fx %11.2f %9d %10d\n",
				r.scenario, fmt.Sprintf("oppsync c=%d", o.concurrency), o.elapsed.Round(time.Millisecond),
				o.recordsPerSec(), o.filesPerSec(), o.recordsPerSec()/base,
				float64(o.events)/float64(files), o.s3Backlog, o.s3Idle)
		}
		fmt.Fprintf(&out, "%-12s %-16s %9s %10.0f %9.1f %7.2fx %11s %9d %10s\n",
			r.scenario, "sequential loop", r.baseline.elapsed.Round(time.Millisecond),
			base, r.baseline.filesPerSec(), 1.0, "-", r.baseline.requests, "-")
	}
	fmt.Fprintf(&out, "\nWhere OppSync's backlog time goes (means over the cycle's SyncFile activities):\n")
	fmt.Fprintf(&out, "%-12s %-16s %12s %12s %12s %10s %12s %14s\n",
		"scenario", "runner", "queue wait", "activity", "slot refill", "WFTs", "WFT latency", "ideal time")
	for _, r := range rows {
		for _, o := range r.oppsync {
			t := o.timing
			// With every slot busy all the time, the cycle would take files × activity /
			// concurrency; the rest is spent refilling slots through workflow tasks.
			ideal := time.Duration(files) * t.startClose / time.Duration(o.concurrency)
			fmt.Fprintf(&out, "%-12s %-16s %12s %12s %12s %10d %12s %14s\n",
				r.scenario, fmt.Sprintf("oppsync c=%d", o.concurrency), t.scheduleStart.Round(10*time.Microsecond),
				t.startClose.Round(10*time.Microsecond), t.gap.Round(10*time.Microsecond), t.workflowTasks,
				t.wftLatency.Round(10*time.Microsecond), ideal.Round(time.Millisecond))
		}
	}
	for _, r := range rows {
		if r.scenario == "latency20ms" {
			if s := r.oppsync[0].recordsPerSec() / r.baseline.recordsPerSec(); s < targetSpeedup {
				fmt.Fprintf(&out, "\nTARGET MISSED: OppSync is %.2fx the sequential loop with 20 ms latency, want at least %dx\n", s, targetSpeedup)
			}
		}
	}
	fmt.Print(out.String())
}
