package hubspot

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

// BenchmarkHubSpotUpsert upserts files of opportunities into the contract server with
// batching on (100 records a batch call), with OAuth so token calls are counted, and the
// rate limiter off so the figure is the connector's own cost. It reports records/s and
// HubSpot API calls per 1,000 records (reads, writes and token refreshes).
//
//	insert:    new records: 1 batch/read + 1 batch/upsert per 100
//	update:    newer versions of stored records: the same
//	unchanged: the same file again: 1 batch/read per 100, nothing written
func BenchmarkHubSpotUpsert(b *testing.B) {
	for _, size := range []int{1000, 10} {
		for _, kind := range []string{"insert", "update", "unchanged"} {
			b.Run(fmt.Sprintf("%s/records-per-file=%d", kind, size), func(b *testing.B) {
				benchUpsert(b, kind, size)
			})
		}
	}
}

func benchUpsert(b *testing.B, kind string, perFile int) {
	srv := newFake(b)
	srv.AddOAuthClient("cid", "csecret", "refresh-1")
	b.Setenv("HS_BENCH_SECRET", "csecret")
	b.Setenv("HS_BENCH_REFRESH", "refresh-1")
	u, _ := url.Parse(srv.URL)
	s, _ := openRaw(b, "hubspot://"+u.Host+"?insecure_http=1&rate_limit=0&client_id=cid&client_secret_env=HS_BENCH_SECRET&refresh_token_env=HS_BENCH_REFRESH")

	const total = 1000
	files := func(iter int, h int) [][]ace.Record {
		var out [][]ace.Record
		for f := 0; f < total/perFile; f++ {
			var recs []ace.Record
			for i := range perFile {
				recs = append(recs, opp(fmt.Sprintf("O%d-%d-%d", iter, f, i), "", lm(h), "Co", "Qualified"))
			}
			out = append(out, recs)
		}
		return out
	}
	var records int
	var calls int64
	var elapsed time.Duration
	for i := 0; b.Loop(); i++ {
		var batch [][]ace.Record
		switch kind {
		case "insert":
			batch = files(i, 1)
		default:
			batch = files(0, 1)
			if i == 0 {
				for _, f := range batch {
					if _, err := s.Upsert(ctx, src, f); err != nil {
						b.Fatal(err)
					}
				}
			}
			if kind == "update" {
				batch = files(0, i+2)
			}
		}
		before := s.Calls()
		start := time.Now()
		var res crm.UpsertResult
		for _, f := range batch {
			r, err := s.Upsert(ctx, src, f)
			if err != nil {
				b.Fatal(err)
			}
			res = res.Add(r)
		}
		elapsed += time.Since(start)
		calls += s.Calls() - before
		records += res.Total()
		if res.Total() != total {
			b.Fatalf("upserted %d records, want %d", res.Total(), total)
		}
	}
	b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(calls)/float64(records)*1000, "calls/1000records")
}
