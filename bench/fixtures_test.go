package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/oppsync/oppsync/ace"
)

// opportunityFile builds an outbound opportunity file (payload 2.0) holding the records
// first..first+n-1, as ACE writes them.
func opportunityFile(first, n int, modified time.Time) ([]byte, error) {
	recs := make([]map[string]any, 0, n)
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("O%07d", i)
		recs = append(recs, map[string]any{
			"apnCrmUniqueIdentifier":     id,
			"partnerCrmUniqueIdentifier": "P-" + id,
			"customerCompanyName":        "Company " + id,
			"stage":                      "Prospect",
			"status":                     "Approved",
			"lastModifiedDate":           modified.UTC().Format("2006-01-02T15:04:05.000Z"),
			"expectedMonthlyAwsRevenue":  100.0,
		})
	}
	return json.Marshal(map[string]any{"version": "2.0", "spmsId": "12345", "opportunities": recs})
}

// putBacklog writes files outbound files of records records each into the customer's
// bucket as ACE does, before anything is timed.
func putBacklog(b *testing.B, s *benchStack, bucket string, files, records int) {
	b.Helper()
	now := time.Now()
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(16)
	for i := range files {
		g.Go(func() error {
			body, err := opportunityFile(i*records, records, now)
			if err != nil {
				return err
			}
			key := fmt.Sprintf("%s%s-%05d.json", ace.FolderOpportunityOutbound, now.UTC().Format("2006-01-02T15-04-05"), i)
			return s.PutAsACE(ctx, bucket, key, body)
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}
