package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/rules/rulestest"
	"github.com/oppsync/oppsync/acesim"
	crmsqlite "github.com/oppsync/oppsync/crm/sqlite"
	"github.com/oppsync/oppsync/customersync"
)

// envInbound sizes the inbound benchmark (CRM records changed before the timed cycle).
const envInbound = "OPPSYNC_BENCH_INBOUND"

// BenchmarkInbound measures the CRM → ACE direction through the worker and starter
// binaries: N records created in the CRM are validated, written as inbound files (one
// record per file, as AWS recommends, and 10 per file) and marked sent, in one cycle; then
// ACE's simulator answers, a cycle reads the results, and an idle cycle must cost at most 2
// S3 requests. Loopback and 20 ms latency.
func BenchmarkInbound(b *testing.B) {
	n := positiveEnv(b, envInbound, 200)
	stack := startStack(b)
	cli := newStarter(b, stack.Env())
	type result struct {
		scenario              string
		perFile               int
		elapsed               time.Duration
		s3Send, s3Idle, files int64
	}
	var rows []result
	for _, sc := range scenarios {
		for _, perFile := range []int{1, 10} {
			name := fmt.Sprintf("%s/%d-per-file", sc.name, perFile)
			b.Run(name, func(b *testing.B) {
				b.StopTimer()
				ctx := context.Background()
				counter := newS3Counter(b, stack.s3Endpoint(b, sc.latency))
				taskQueue := fmt.Sprintf("oppsync-bench-in-%s-%d-%s", sc.name, perFile, stack.run)
				startWorkerProcess(b, stack.Env(), taskQueue, "AWS_ENDPOINT_URL_S3="+counter.URL)
				c := enrollCLI(b, stack, cli, fmt.Sprintf("in-%s-%d", sc.name, perFile), taskQueue, time.Hour,
					"--spms-id", "12345", "--records-per-file", fmt.Sprint(perFile),
					"--result-poll-interval", customersync.MinPollInterval.String())
				dbPath := c.crmPath

				store, err := crmsqlite.Open(ctx, dbPath)
				if err != nil {
					b.Fatal(err)
				}
				defer store.Close()
				tmpl := validOpportunity(b)
				for i := range n {
					tmpl["partnerCrmUniqueIdentifier"] = fmt.Sprintf("CRM-%05d", i)
					rec, _ := json.Marshal(tmpl)
					if _, err := store.Create(ctx, ace.ObjectOpportunity, fmt.Sprintf("CRM-%05d", i), rec); err != nil {
						b.Fatal(err)
					}
				}

				before := counter.snapshot(c.bucket)
				b.StartTimer()
				elapsed, sum := syncNowCLI(b, stack, cli, c)
				b.StopTimer()
				if !sum.OK() || sum.Counts.Sent != n {
					b.Fatalf("inbound cycle sent %d of %d records, errors %v", sum.Counts.Sent, n, sum.Errors)
				}
				r := result{scenario: sc.name, perFile: perFile, elapsed: elapsed, s3Send: int64(counter.snapshot(c.bucket).since(before).total()),
					files: int64((n + perFile - 1) / perFile)}

				// ACE answers; a cycle reads the results; then nothing is pending.
				sim := acesim.New(stack.Stack.RootS3(ctx), c.bucket, acesim.Options{})
				for {
					st, err := sim.ProcessOnce(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if st.Files == 0 {
						break
					}
				}
				if _, s := syncNowCLI(b, stack, cli, c); s.Counts.Accepted != n {
					b.Fatalf("results cycle: %d of %d records accepted, errors %v", s.Counts.Accepted, n, s.Errors)
				}
				before = counter.snapshot(c.bucket)
				if _, s := syncNowCLI(b, stack, cli, c); !s.OK() {
					b.Fatalf("idle cycle failed: %v", s.Errors)
				}
				r.s3Idle = int64(counter.snapshot(c.bucket).since(before).total())
				if r.s3Idle > 2 {
					b.Errorf("idle cycle with nothing awaiting a result made %d S3 requests, want ≤ 2", r.s3Idle)
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
				b.ReportMetric(float64(r.s3Idle), "s3_req/idle_cycle")
				rows = append(rows, r)
			})
		}
	}
	fmt.Printf("\nInbound: %d CRM records created → validated → uploaded → marked sent, in one cycle\n", n)
	fmt.Printf("%-12s %9s %10s %10s %8s %10s %9s\n", "scenario", "per file", "time", "records/s", "files", "s3 (send)", "idle_s3")
	for _, r := range rows {
		fmt.Printf("%-12s %9d %10s %10.0f %8d %10d %9d\n", r.scenario, r.perFile, r.elapsed.Round(time.Millisecond),
			float64(n)/r.elapsed.Seconds(), r.files, r.s3Send, r.s3Idle)
	}
}

// validOpportunity is a partner-created opportunity that passes ACE's rules.
func validOpportunity(b *testing.B) map[string]any {
	b.Helper()
	rec, err := rulestest.Opportunity("", nil, "partnerCrmUniqueIdentifier")
	if err != nil {
		b.Fatal(err)
	}
	return rec
}
