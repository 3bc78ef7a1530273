package integration

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/worker"

	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/workflows"
)

// rewriteBeforeDelete is an S3 transport that, before the first DELETE of key goes out,
// has ACE rewrite the file with a newer version: the race between OppSync's GET and its
// DELETE.
type rewriteBeforeDelete struct {
	next    http.RoundTripper
	key     string
	rewrite func()
	done    atomic.Bool
}

func (r *rewriteBeforeDelete) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodDelete && strings.HasSuffix(req.URL.Path, "/"+r.key) && r.done.CompareAndSwap(false, true) {
		r.rewrite()
	}
	return r.next.RoundTrip(req)
}

// A file ACE rewrites between OppSync's GET and its DELETE is not deleted: the DELETE
// carries If-Match with the ETag read, the new version stays, and the next cycle syncs it.
// Before, the unseen version was deleted and its data lost.
func TestDeleteNeverRemovesAnUnseenVersion(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "ifmatch")
	const key = "opportunity-outbound/rewritten.json"
	modified := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	tr := &rewriteBeforeDelete{next: http.DefaultTransport, key: key, rewrite: func() {
		c.putAsACE(t, key, opportunityFile(t, []string{"O0000001"}, modified.Add(time.Hour), "Committed"))
	}}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	acts := activities.New(activities.AWSOptions{Base: cfg, S3PathStyle: true, HTTPClient: &http.Client{Transport: tr}}, zerolog.New(io.Discard))
	w := worker.New(env.temporal, c.taskQueue, workflows.WorkerOptions())
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(); _ = acts.Close() })
	c.enroll(t, c.config())

	c.putAsACE(t, key, opportunityFile(t, []string{"O0000001"}, modified, "Prospect"))
	c.syncNow(t)
	if !tr.done.Load() {
		t.Fatal("the file was never deleted: the test interrupted nothing")
	}
	if keys := c.keys(t, "opportunity-outbound/"); len(keys) != 1 {
		t.Fatalf("outbound holds %v after the race: the rewritten version was deleted unseen", keys)
	}
	s := c.syncNow(t)
	recs := c.records(t, "opportunity")
	if s.Counts.Updated != 1 || len(recs) != 1 || recs[0].Stage != "Committed" {
		t.Fatalf("next cycle %+v, CRM %+v: want the rewritten version synced", s.Counts, recs)
	}
	if keys := c.keys(t, "opportunity-outbound/"); len(keys) != 0 {
		t.Fatalf("outbound holds %v, want the synced file deleted", keys)
	}
}
