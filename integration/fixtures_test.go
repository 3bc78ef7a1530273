package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
)

func aceObject(s string) ace.Object { return ace.Object(s) }

// sample reads one of AWS's sample files.
func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "ace", "testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// opportunityFile builds an outbound opportunity file (payload 2.0) with one record per id,
// each last modified at modified and in the given stage.
func opportunityFile(t testing.TB, ids []string, modified time.Time, stage string) []byte {
	t.Helper()
	recs := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		recs = append(recs, map[string]any{
			"apnCrmUniqueIdentifier":     id,
			"partnerCrmUniqueIdentifier": "P-" + id,
			"customerCompanyName":        "Company " + id,
			"stage":                      stage,
			"status":                     "Approved",
			"lastModifiedDate":           modified.UTC().Format("2006-01-02T15:04:05.000Z"),
			"expectedMonthlyAwsRevenue":  100.0,
			"someFieldACEAddsLater":      "kept",
		})
	}
	b, err := json.Marshal(map[string]any{"version": "2.0", "spmsId": "12345", "opportunities": recs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ids(prefix string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%07d", prefix, from+i)
	}
	return out
}
