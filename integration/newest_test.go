package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
)

// The newest ACE data always wins, on every CRM, with two worker processes polling the
// customer's task queue and the older version's CRM write held back: before outbound
// batches, two files carrying one opportunity were written concurrently by two SyncFile
// activities (on different workers), each reading the stored lastModifiedDate and then
// writing, and the delayed older write landed over the newer one.
//
// Two layouts: both versions in one batch (merged: only the newest is written), and the
// older version in a later batch than the newer (batches of a customer run one at a time,
// and the connector's stale check refuses the older one).
func TestNewestWinsWithTwoWorkersAndASlowWrite(t *testing.T) {
	requireStack(t)
	type target struct {
		name string
		// start returns the CRM URL, the stored lastModifiedDate of an opportunity, and a
		// hook to hold back writes whose body contains a marker.
		start func(t *testing.T, c *customer) (url string, lastModified func(id string) string, delay func(marker string, d time.Duration))
	}
	targets := []target{{name: "sqlite", start: func(t *testing.T, c *customer) (string, func(string) string, func(string, time.Duration)) {
		return c.crmURL, func(id string) string {
			for _, r := range c.records(t, "opportunity") {
				if r.ACEID == id {
					return r.LastModified.UTC().Format("2006-01-02T15:04:05.000Z")
				}
			}
			return ""
		}, func(string, time.Duration) {} // embedded: the write is one transaction in the worker
	}}}
	for _, cn := range connectors {
		targets = append(targets, target{name: cn.name, start: func(t *testing.T, c *customer) (string, func(string) string, func(string, time.Duration)) {
			fake := cn.start(t)
			opp := fake.mapping().Objects[ace.ObjectOpportunity]
			lm := func(id string) string {
				return fake.find(ace.ObjectOpportunity, opp.ExternalID, id)[opp.ACELastModified]
			}
			delay := func(marker string, d time.Duration) { holdWrites(t, fake, marker, d) }
			return fake.url(), lm, delay
		}})
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			requireStack(t)
			c := newCustomer(t, "newest-"+tg.name)
			url, lastModified, delay := tg.start(t, c)
			c.crmURL = url
			// The older version's write is held back 1.5 s: long enough for the newer one to
			// land first if both were in flight at once.
			delay("Older Company", 1500*time.Millisecond)
			a, b := startWorkerProcess(t, c.taskQueue), startWorkerProcess(t, c.taskQueue)
			defer a.stop(t)
			defer b.stop(t)
			c.enroll(t, c.config())

			base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
			version := func(id string, modified time.Time, older bool) []byte {
				stage, name := "Qualified", "Newer Company"
				if older {
					stage, name = "Prospect", "Older Company"
				}
				return opportunityFileNamed(t, id, modified, stage, name)
			}
			for round := range 3 {
				newer := base.Add(time.Duration(round+1) * time.Hour)
				older := newer.Add(-30 * time.Minute)
				same := fmt.Sprintf("O%07d", 100+round)  // both versions in one batch
				split := fmt.Sprintf("O%07d", 200+round) // the older one in a later batch
				// Listing order is key order. Same batch: the newer version comes first.
				c.putAsACE(t, fmt.Sprintf("opportunity-outbound/r%d-a-000.json", round), version(same, newer, false))
				c.putAsACE(t, fmt.Sprintf("opportunity-outbound/r%d-a-001.json", round), version(same, older, true))
				// Split: the newer version first, then enough other files to fill the batch,
				// then the older version.
				c.putAsACE(t, fmt.Sprintf("opportunity-outbound/r%d-b-000.json", round), version(split, newer, false))
				for i := 1; i <= 260; i++ {
					c.putAsACE(t, fmt.Sprintf("opportunity-outbound/r%d-b-%03d.json", round, i),
						opportunityFile(t, []string{fmt.Sprintf("O%03d%04d", round, i)}, newer, "Prospect"))
				}
				c.putAsACE(t, fmt.Sprintf("opportunity-outbound/r%d-b-999.json", round), version(split, older, true))

				s := c.syncNow(t)
				if !s.OK() || s.Counts.Files != 264 {
					t.Fatalf("round %d: %+v, errors %v; want 264 files synced", round, s.Counts, s.Errors)
				}
				want := newer.Format("2006-01-02T15:04:05.000Z")
				for _, id := range []string{same, split} {
					if got := lastModified(id); got != want {
						t.Fatalf("round %d: %s holds lastModifiedDate %q in the CRM, want the newer %q", round, id, got, want)
					}
				}
			}
		})
	}
}

// opportunityFileNamed is opportunityFile for one record with its company name set.
func opportunityFileNamed(t *testing.T, id string, modified time.Time, stage, company string) []byte {
	t.Helper()
	b := opportunityFile(t, []string{id}, modified, stage)
	return bytes.Replace(b, []byte(`"Company `+id+`"`), []byte(`"`+company+`"`), 1)
}

// holdWrites makes the fake CRM hold back, by d, every write whose body contains marker.
func holdWrites(t *testing.T, fake fakeCRM, marker string, d time.Duration) {
	t.Helper()
	hold := func(method, _ string, body []byte) time.Duration {
		if method != http.MethodGet && bytes.Contains(body, []byte(marker)) {
			return d
		}
		return 0
	}
	switch f := fake.(type) {
	case *sfFake:
		f.srv.Delay = hold
	case *hsFake:
		f.srv.Delay = hold
	default:
		t.Fatalf("no way to hold back the writes of %T", fake)
	}
}
