package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/oppsync/oppsync/ace"
)

// Environment variables of the memory benchmark.
const (
	// envRSSLimit is the worker RSS bound in MiB (default 1024, the Kubernetes manifest's
	// memory limit): a peak above it fails the benchmark.
	envRSSLimit = "OPPSYNC_BENCH_RSS_LIMIT_MB"
	// envMemFiles is the number of large files in the backlog (default 200).
	envMemFiles = "OPPSYNC_BENCH_MEM_FILES"
	// envMemRecordKB is the size of one record of the large files in KiB (default 64).
	envMemRecordKB = "OPPSYNC_BENCH_MEM_RECORD_KB"
)

const (
	defaultRSSLimitMB = 1024
	defaultMemFiles   = 200
	// defaultMemRecordKB is the default size of one record of the large files: AWS's sample
	// opportunity with a long project description and next-step history. Real records are
	// smaller (a few KiB), but the benchmark is about bytes in flight: 160 records of 64 KiB
	// make a 10 MiB file whose 32,000 records the CRM takes in minutes, where 2,500 records
	// of 4 KiB per file would make it an hour-long CRM benchmark.
	defaultMemRecordKB = 64
	// memFileBytes is the size the large files are built to: just under ACE's (and
	// OppSync's) largest outbound file.
	memFileBytes = ace.MaxOutboundFileBytes - 64<<10
	// rssSampleEvery is how often VmRSS is sampled during the cycle (VmHWM is read too).
	rssSampleEvery = 50 * time.Millisecond
)

// memoryResult is what the memory benchmark measured.
type memoryResult struct {
	files, records int
	fileBytes      int   // size of each file
	baseRSS        int64 // worker RSS before the cycle
	peakRSS        int64 // max of VmHWM and the sampled VmRSS
	elapsed        time.Duration
	limitMB        int
	cpu            cpuUse
	failedCycles   int      // cycles that left files with an error for the next one
	errors         []string // their first errors
}

// maxMemoryCycles bounds the cycles the memory benchmark runs to drain its backlog.
const maxMemoryCycles = 5

// BenchmarkMemory syncs a backlog of OPPSYNC_BENCH_MEM_FILES files of almost 10 MiB each
// (ACE's largest outbound file as OppSync accepts it) through the worker binary, enrolled
// and triggered with the starter binary (`sync-now --wait` until the backlog is drained),
// samples the worker's resident memory during the
// cycle and fails when its peak (VmHWM) exceeds OPPSYNC_BENCH_RSS_LIMIT_MB. Run it alone
// with `make bench-memory`.
func BenchmarkMemory(b *testing.B) {
	files := positiveEnv(b, envMemFiles, defaultMemFiles)
	limitMB := positiveEnv(b, envRSSLimit, defaultRSSLimitMB)
	stack := startStack(b)
	cli := newStarter(b, stack.Env())
	taskQueue := "oppsync-memory-" + stack.run
	w := startWorkerProcess(b, stack.Env(), taskQueue)
	c := enrollCLI(b, stack, cli, "memory", taskQueue, time.Hour)
	perFile, fileBytes := putLargeBacklog(b, stack, c.bucket, files)
	b.Logf("backlog: %d files of %.1f MiB (%d records each)", files, float64(fileBytes)/(1<<20), perFile)

	res := memoryResult{files: files, records: files * perFile, fileBytes: fileBytes, limitMB: limitMB, baseRSS: w.rss(b)}
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(rssSampleEvery)
		defer tick.Stop()
		for {
			if kb, err := readStatusKB(w.cmd.Process.Pid, "VmRSS:"); err == nil && kb<<10 > peak.Load() {
				peak.Store(kb << 10)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	cpu := stack.startCPU(w)
	b.ResetTimer()
	// A cycle may leave files with an error (a timeout, a busy CRM) for the next one: run
	// cycles until the backlog is drained, as an operator would, and report the errors.
	start := time.Now()
	var synced, syncedRecords int
	for cycle := 1; synced < files; cycle++ {
		if cycle > maxMemoryCycles {
			b.Fatalf("%d of %d large files synced after %d cycles; errors: %s", synced, files, maxMemoryCycles, strings.Join(res.errors, "; "))
		}
		before := queryStatus(b, stack, c.wfID).State.Cycles
		_, stderr, err := cli.runMayFail("sync-now", "--customer", c.name, "--env", "beta", "--wait")
		st := queryStatus(b, stack, c.wfID)
		if st.State.Cycles <= before || st.State.LastCycle == nil {
			b.Fatalf("starter sync-now --wait: %v: %s", err, stderr)
		}
		sum := st.State.LastCycle
		synced, syncedRecords = synced+sum.Counts.Files, syncedRecords+sum.Counts.Records
		if !sum.OK() {
			res.failedCycles++
			res.errors = append(res.errors, fmt.Sprintf("cycle %d: %d errors, first: %.200s", cycle, len(sum.Errors), sum.Errors[0]))
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	res.cpu = cpu.stop()
	close(stop)
	<-sampled
	res.elapsed = elapsed
	res.peakRSS = max(peak.Load(), w.hwm(b))
	if syncedRecords != files*perFile {
		b.Errorf("the large backlog synced %d records, want %d", syncedRecords, files*perFile)
	}

	fmt.Printf("\nMemory: %d files × %.1f MiB (%d records, %.1f GiB) synced by the worker binary in %s (%.0f records/s)\n",
		files, float64(fileBytes)/(1<<20), res.records, float64(files*fileBytes)/(1<<30), elapsed.Round(time.Millisecond),
		float64(res.records)/elapsed.Seconds())
	fmt.Printf("  worker RSS: %.0f MB before the cycle, peak %.0f MB (VmHWM, and VmRSS sampled every %s); bound %d MB (%s)\n",
		mb(res.baseRSS), mb(res.peakRSS), rssSampleEvery, limitMB, envRSSLimit)
	fmt.Printf("  CPU during the cycle (%s wall): %s\n", res.cpu.wall.Round(time.Millisecond), res.cpu)
	for _, e := range res.errors {
		fmt.Printf("  a cycle left files for the next: %s\n", e)
	}
	b.ReportMetric(mb(res.peakRSS), "worker_peak_rss_MB")
	b.ReportMetric(float64(res.records)/elapsed.Seconds(), "records/s")
	summary.memory = append(summary.memory, res)
	if res.peakRSS > int64(limitMB)<<20 {
		b.Errorf("worker peak RSS %.0f MB syncing %d files of %.1f MiB, over the %d MB bound (%s)",
			mb(res.peakRSS), files, float64(fileBytes)/(1<<20), limitMB, envRSSLimit)
	}
}

// putLargeBacklog writes files opportunity files of almost memFileBytes each into bucket as
// ACE does, and returns the records per file and the size of each file.
func putLargeBacklog(b *testing.B, s *benchStack, bucket string, files int) (perFile, size int) {
	b.Helper()
	tmpl := largeRecordTemplate(b, positiveEnv(b, envMemRecordKB, defaultMemRecordKB)<<10)
	const head, tail = `{"version":"2.0","spmsId":"12345","opportunities":[`, `]}`
	perFile = (memFileBytes - len(head) - len(tail)) / (len(tmpl) + 1)
	now := time.Now()
	modified := now.UTC().Format("2006-01-02T15:04:05.000Z")
	var sizes atomic.Int64
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(4)
	for f := range files {
		g.Go(func() error {
			var body bytes.Buffer
			body.Grow(memFileBytes)
			body.WriteString(head)
			for i := range perFile {
				if i > 0 {
					body.WriteByte(',')
				}
				id := fmt.Sprintf("O%04d%06d", f, i)
				rec := bytes.ReplaceAll(tmpl, []byte("__ACE_ID__"), []byte(id))
				rec = bytes.ReplaceAll(rec, []byte("__MODIFIED__"), []byte(modified))
				body.Write(rec)
			}
			body.WriteString(tail)
			if body.Len() > ace.MaxOutboundFileBytes {
				return fmt.Errorf("large file %d is %d bytes, over ACE's %d", f, body.Len(), ace.MaxOutboundFileBytes)
			}
			sizes.Store(int64(body.Len()))
			key := fmt.Sprintf("%s%s-large-%05d.json", ace.FolderOpportunityOutbound, now.UTC().Format("2006-01-02T15-04-05"), f)
			return s.PutAsACE(ctx, bucket, key, body.Bytes())
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return perFile, int(sizes.Load())
}

// largeRecordTemplate is AWS's sample outbound opportunity with its project description and
// next-step history made long, about size bytes in all, with __ACE_ID__ and __MODIFIED__ to
// fill in.
func largeRecordTemplate(b *testing.B, size int) []byte {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "ace", "testdata", "samples", "opportunity-outbound.json"))
	if err != nil {
		b.Fatal(err)
	}
	var file struct {
		Opportunities []map[string]any `json:"opportunities"`
	}
	if err := json.Unmarshal(raw, &file); err != nil || len(file.Opportunities) == 0 {
		b.Fatalf("AWS's sample outbound opportunity: %v", err)
	}
	rec := file.Opportunities[0]
	rec["apnCrmUniqueIdentifier"] = "__ACE_ID__"
	rec["partnerCrmUniqueIdentifier"] = "P-__ACE_ID__"
	rec["lastModifiedDate"] = "__MODIFIED__"
	base, _ := json.Marshal(rec)
	pad := max(0, size-len(base))
	fill := func(s string, n int) string { return strings.Repeat(s, n/len(s)+1)[:n] }
	rec["projectDescription"] = fill("Migration of the customer's analytics platform to AWS. ", pad/2)
	rec["nextStepHistory"] = fill("2026-01-01: call with the customer's architects. ", pad-pad/2)
	out, err := json.Marshal(rec)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
