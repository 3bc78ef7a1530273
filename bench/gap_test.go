package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack"
	"github.com/oppsync/oppsync/workflows"
)

// gapVariant is one way of running the same backlog, to tell where the time of the worker
// binary goes compared with the in-process worker the benchmark used to run.
type gapVariant struct {
	name string
	// inProcess runs the worker in the benchmark's process (worker.New with the workflow
	// package's worker options, logs discarded), as `make bench` did before issue 9.
	inProcess bool
	// encryption turns payload encryption on (the worker binary's and starter's default).
	encryption bool
	// workerArgs and workerEnv are extra flags and environment of the worker binary.
	workerArgs, workerEnv []string
	// viaStarter triggers the cycle with `starter sync-now --wait` rather than the Go
	// client's sync-now-wait update from this process.
	viaStarter bool
	// stack is the stack it runs on: stackWAL (the default), stackDefaults or stackTmpfs.
	stack string
}

// Stacks the variants run on.
const (
	stackWAL      = "wal"      // devstack as it is: the dev server's database in WAL mode
	stackDefaults = "defaults" // the dev server on SQLite's default journal (devstack before issue 9)
	stackTmpfs    = "tmpfs"    // the same on tmpfs (/dev/shm), as b.TempDir() where /tmp is a tmpfs
)

var gapVariants = []gapVariant{
	{name: "in-process, no encryption, client update", inProcess: true},
	{name: "binary, no encryption, client update", workerEnv: []string{codec.EnvEncryption + "=off"}},
	{name: "binary, encryption, client update", encryption: true},
	{name: "binary, encryption, --log-level warn, client update", encryption: true, workerArgs: []string{"--log-level", "warn"}},
	{name: "binary + starter sync-now --wait (headline)", encryption: true, viaStarter: true},
	{name: "binary + starter, dev server on SQLite's default journal", encryption: true, viaStarter: true, stack: stackDefaults},
	{name: "in-process (the old bench), SQLite's default journal", inProcess: true, stack: stackDefaults},
	{name: "in-process (the old bench), default journal, on tmpfs", inProcess: true, stack: stackTmpfs},
	{name: "binary + starter, default journal, on tmpfs", encryption: true, viaStarter: true, stack: stackTmpfs},
}

// gapResult is one variant's measurement.
type gapResult struct {
	variant gapVariant
	oppsync oppsyncResult
	load    string // the machine's load average after the run
}

// BenchmarkOutboundGap runs the outbound backlog (FILES × RECORDS, S3 on loopback) in each
// gapVariant, one after the other on one stack, so that the difference between the old
// in-process benchmark and the binaries operators run shows up step by step. It is not
// part of the headline: run it with `make bench-gap`.
func BenchmarkOutboundGap(b *testing.B) {
	files, records := sizes(b)
	stacks := map[string]*benchStack{
		stackWAL:      startStack(b),
		stackDefaults: startStack(b, func(o *devstack.Options) { o.TemporalPragmas = []string{} }),
	}
	if shm, err := os.MkdirTemp("/dev/shm", "oppsync-bench-"); err == nil {
		b.Cleanup(func() { _ = os.RemoveAll(shm) })
		stacks[stackTmpfs] = startStack(b, func(o *devstack.Options) { o.Dir, o.TemporalPragmas = shm+"/stack", []string{} })
		stacks[stackTmpfs].crmDir = shm
		b.Logf("tmpfs stack in %s (%s)", shm, fsType(shm))
	} else {
		b.Logf("no tmpfs at /dev/shm (%v): the tmpfs variants are left out", err)
	}
	plains := map[string]client.Client{}
	for k, stack := range stacks {
		plain, err := client.Dial(client.Options{HostPort: stack.TemporalAddress, Namespace: stack.Namespace, Logger: quietLogger{}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(plain.Close)
		plains[k] = plain
	}
	rounds := positiveEnv(b, envRounds, 3)
	var results []gapResult
	for round := range rounds {
		for i, v := range gapVariants {
			if v.stack == "" {
				v.stack = stackWAL
			}
			if stacks[v.stack] != nil {
				gapRun(b, stacks[v.stack], plains[v.stack], round, i, v, files, records, &results)
			}
		}
	}
	printGap(results, files, records, rounds)
}

// envRounds is how many times BenchmarkOutboundGap runs each variant (interleaved, so that
// a burst of load on the machine hits all variants alike); it reports the fastest round.
const envRounds = "OPPSYNC_BENCH_ROUNDS"

func gapRun(b *testing.B, stack *benchStack, plain client.Client, round, i int, v gapVariant, files, records int, results *[]gapResult) {
	{
		b.Run(fmt.Sprintf("v%d/round%d", i+1, round+1), func(b *testing.B) {
			b.StopTimer()
			s := *stack
			// The AWS SDK reads AWS_ENDPOINT_URL_* when it makes a client: an in-process
			// worker must see this stack's endpoints in the process environment.
			for _, kv := range stack.Env() {
				k, v, _ := strings.Cut(kv, "=")
				b.Setenv(k, v)
			}
			env := stack.Env()
			if !v.encryption {
				s.temporal = plain
				env = append(env, codec.EnvEncryption+"=off")
			}
			cli := newStarter(b, env)
			counter := newS3Counter(b, stack.S3Endpoint)
			taskQueue := fmt.Sprintf("oppsync-gap-%d-%d-%s", i+1, round+1, stack.run)
			var w *workerProcess
			if v.inProcess {
				startInProcessWorker(b, &s, taskQueue, counter.URL)
			} else {
				extra := append([]string{"AWS_ENDPOINT_URL_S3=" + counter.URL}, v.workerEnv...)
				w = startWorkerProcessArgs(b, env, taskQueue, v.workerArgs, extra...)
			}
			c := enrollCLI(b, &s, cli, fmt.Sprintf("gap%d-%d", i+1, round+1), taskQueue, time.Hour)
			putBacklog(b, &s, c.bucket, files, records)
			before := len(fetchHistory(b, s.temporal, c.wfID))
			s3Before := counter.snapshot(c.bucket)
			cpu := s.startCPU(w)
			b.StartTimer()
			var elapsed time.Duration
			var sum customersync.CycleSummary
			if v.viaStarter {
				elapsed, sum = syncNowCLI(b, &s, cli, c)
			} else {
				elapsed, sum = syncNowClient(b, s.temporal, c.wfID)
			}
			b.StopTimer()
			runner := "in-process"
			if !v.inProcess {
				runner = "worker binary"
			}
			res := oppsyncResult{runner: runner, elapsed: elapsed, cycle: sum.FinishedAt.Sub(sum.StartedAt),
				s3Backlog: counter.snapshot(c.bucket).since(s3Before), cpu: cpu.stop()}
			checkBacklog(b, sum, files, records)
			res.files, res.records = sum.Counts.Files, sum.Counts.Records
			span := fetchHistory(b, s.temporal, c.wfID)[before:]
			res.events, res.activities, res.actions, res.timing = len(span), activityTypes(span), countActions(span), timeline(span)
			b.ReportMetric(res.recordsPerSec(), "records/s")
			*results = append(*results, gapResult{variant: v, oppsync: res, load: loadAvg()})
		})
	}
}

// syncNowClient sends the sync-now-wait update from this process's client and returns how
// long it took and the cycle's summary.
func syncNowClient(b *testing.B, c client.Client, wfID string) (time.Duration, customersync.CycleSummary) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	customer, env, _ := customersync.ParseWorkflowID(wfID)
	sum, err := customersync.NewClient(c, "").SyncNow(ctx, customer, env)
	if err != nil {
		b.Fatalf("sync-now-wait on %s: %v", wfID, err)
	}
	return time.Since(start), sum
}

// startInProcessWorker runs the workflow and its activities in this process, on c, as the
// benchmark did before issue 9: the workflow package's worker options, logs discarded, S3
// at endpoint.
func startInProcessWorker(b *testing.B, s *benchStack, taskQueue, endpoint string) {
	b.Helper()
	acts := activities.New(activities.AWSOptions{Base: s.awsConfig(b), S3PathStyle: true, S3Endpoint: endpoint}, zerolog.New(io.Discard))
	w := worker.New(s.temporal, taskQueue, workflows.WorkerOptions())
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Stop(); _ = acts.Close() })
}

func printGap(results []gapResult, files, records, rounds int) {
	if len(results) == 0 {
		return
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nWhere the time goes: %d files × %d records, S3 on loopback; each variant %d times, interleaved; the fastest round of each\n",
		files, records, rounds)
	fmt.Fprintf(&out, "%-58s %9s %9s %9s %10s %10s %10s  %s\n", "variant", "fastest", "slowest", "cycle", "records/s", "mean act.", "WFT total", "CPU during the fastest cycle (2 cores)")
	for _, v := range gapVariants {
		var best, worst *gapResult
		for i := range results {
			r := &results[i]
			if r.variant.name != v.name {
				continue
			}
			if best == nil || r.oppsync.elapsed < best.oppsync.elapsed {
				best = r
			}
			if worst == nil || r.oppsync.elapsed > worst.oppsync.elapsed {
				worst = r
			}
		}
		if best == nil {
			continue
		}
		o := best.oppsync
		fmt.Fprintf(&out, "%-58s %9s %9s %9s %10.0f %10s %10s  %s (load %s)\n", v.name, o.elapsed.Round(time.Millisecond),
			worst.oppsync.elapsed.Round(time.Millisecond), o.cycle.Round(time.Millisecond), o.recordsPerSec(),
			o.timing.startClose.Round(100*time.Microsecond), o.timing.wftBusy.Round(time.Millisecond), o.cpu, best.load)
	}
	fmt.Print(out.String())
}

// loadAvg is the machine's 1-minute load average, from /proc/loadavg.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
