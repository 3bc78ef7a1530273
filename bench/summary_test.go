package bench

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// summary collects the headline figures of every benchmark that ran in this process, for
// the one markdown table TestMain prints at the end (`make bench`), ready for the README.
var summary struct {
	outbound []row
	memory   []memoryResult
	scale    []scaleResult
	selling  []apiResult
}

func TestMain(m *testing.M) {
	code := m.Run()
	if t := summaryTable(); t != "" {
		fmt.Print(t)
	}
	if binaries.dir != "" {
		_ = os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// summaryTable renders the summary as a markdown table, or "" when no benchmark ran.
func summaryTable() string {
	if len(summary.outbound)+len(summary.memory)+len(summary.scale)+len(summary.selling) == 0 {
		return ""
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\n## Benchmark summary (%d cores; worker and starter binaries; %s)\n\n", runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	out.WriteString("| measure | result | target | |\n|---|---|---|---|\n")
	line := func(measure, result, target string, met *bool) {
		mark := ""
		if met != nil {
			mark = map[bool]string{true: "met", false: "**missed**"}[*met]
		}
		fmt.Fprintf(&out, "| %s | %s | %s | %s |\n", measure, result, target, mark)
	}
	is := func(ok bool) *bool { return &ok }
	for _, r := range summary.outbound {
		o := r.oppsync
		what := map[bool]string{true: "S3 on loopback", false: fmt.Sprintf("%d ms each way in front of S3", r.scenario.latency.Milliseconds())}[r.scenario.latency == 0]
		line(fmt.Sprintf("Outbound %d files × %d records, %s", r.files, r.records, what),
			fmt.Sprintf("%.2f s (%.0f records/s) vs %.2f s (%.0f records/s) for the sequential loop: **%.2f×**",
				o.elapsed.Seconds(), o.recordsPerSec(), r.baseline.elapsed.Seconds(), r.baseline.recordsPerSec(), r.speedup()),
			fmt.Sprintf("≥ %g×", r.target()), is(r.speedup() >= r.target()))
		if r.scenario.latency == 0 {
			line("History events per file (backlog cycle)", fmt.Sprintf("%.2f (%d events; activities %s)", o.eventsPerFile(), o.events, typesText(o.activities)),
				fmt.Sprintf("≤ %g", targetEventsPerFile), is(o.eventsPerFile() <= targetEventsPerFile))
			line("Temporal actions of the backlog cycle", fmt.Sprintf("%d (%s)", o.actions.total(), o.actions), "", nil)
			line(fmt.Sprintf("S3 requests for the backlog of %d files", r.files), o.s3Backlog.String(), "", nil)
			line("S3 requests of an idle cycle", o.s3Idle.String(), fmt.Sprintf("≤ %d", maxIdleS3Requests), is(o.s3Idle.total() <= maxIdleS3Requests))
			line("Worker RSS after the backlog", fmt.Sprintf("%.0f MB (peak %.0f MB)", mb(r.workerRSS), mb(r.peakRSS)), "", nil)
		}
		if in := r.idleInbound; in != nil {
			line("Idle cycle, inbound on (`--spms-id`): Temporal actions", fmt.Sprintf("%d (%s)", in.maxActions, in.actions),
				fmt.Sprintf("≤ %d", targetIdleActions), is(in.maxActions <= targetIdleActions))
			line("Idle cycle, inbound on: history events", fmt.Sprint(in.maxEvents), fmt.Sprintf("≤ %d", targetIdleEvents), is(in.maxEvents <= targetIdleEvents))
		}
		if idle := r.idle; idle != nil {
			line("Idle cycle, outbound only: actions / history events", fmt.Sprintf("%d (%s) / %d", idle.maxActions, idle.actions, idle.maxEvents), "", nil)
		}
	}
	for _, m := range summary.memory {
		line(fmt.Sprintf("Worker peak RSS (VmHWM), backlog of %d files × %.1f MiB (%d records)", m.files, float64(m.fileBytes)/(1<<20), m.records),
			fmt.Sprintf("%.0f MB (%.0f s, %.0f records/s%s)", mb(m.peakRSS), m.elapsed.Seconds(), float64(m.records)/m.elapsed.Seconds(),
				map[bool]string{true: fmt.Sprintf("; %d cycle(s) left files with errors for the next, see the output above", m.failedCycles), false: ""}[m.failedCycles > 0]),
			fmt.Sprintf("≤ %d MB", m.limitMB), is(m.peakRSS <= int64(m.limitMB)<<20))
	}
	for _, s := range summary.scale {
		big := s.customers >= defaultCustomers
		var rssOK, lateOK *bool
		if big {
			rssOK, lateOK = is(s.rss <= targetRSSBytes), is(s.lateP99 <= targetLateP99)
		}
		line(fmt.Sprintf("Scale: %d idle customers on one worker (poll %s): worker RSS", s.customers, s.poll),
			fmt.Sprintf("%.0f MB (%.1f KB per customer)", mb(s.rss), float64(s.rss-s.baseRSS)/float64(s.customers)/1024),
			fmt.Sprintf("< %d MB", targetRSSBytes>>20), rssOK)
		line("Scale: CPU while idle-polling", fmt.Sprintf("worker %.0f%%, Temporal dev server %.0f%% of one core", s.cpuPct, s.serverPct), "", nil)
		line("Scale: cycle start lateness p50 / p99", fmt.Sprintf("%s / %s (timer fired late p99 %s)", s.lateP50.Round(time.Millisecond),
			s.lateP99.Round(time.Millisecond), s.fireP99.Round(time.Millisecond)), fmt.Sprintf("p99 < %s", targetLateP99), lateOK)
	}
	for _, r := range summary.selling {
		result := fmt.Sprintf("%.2f records/s (%d records in %.1f s)", r.recordsPerSec(), r.records, r.elapsed.Seconds())
		if r.quotas.published() {
			result += fmt.Sprintf("; quota bound %.2f/s at these calls: **%.0f%%** of it", r.bound(), 100*r.recordsPerSec()/r.bound())
		}
		line(fmt.Sprintf("Selling API %s, %s quotas (%g reads/s, %g writes/s)", r.direction, r.quotas.name, r.quotas.reads, r.quotas.writes), result, "", nil)
		line(fmt.Sprintf("Selling API %s: calls per 1,000 records", r.direction), r.calls.perThousand(r.records, r.throttled), "", nil)
		if r.quotas.published() {
			line(fmt.Sprintf("Selling API %s: records a day at the daily quotas (100,000 reads, 10,000 writes)", r.direction), fmt.Sprintf("%.0f", r.perDay()), "", nil)
		}
	}
	return out.String()
}
