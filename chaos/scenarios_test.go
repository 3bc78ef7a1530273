//go:build chaos && linux

package chaos

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/hubspot/hscontract"
	"github.com/oppsync/oppsync/crm/mapping"
)

// knownBroken lists the scenarios expected to break an invariant until the named fix lands.
// Their failures are logged as KNOWN BROKEN instead of failing `make chaos`; delete an entry
// once its fix is merged (the scenario then logs that it held every invariant).
var knownBroken = map[string]string{}

// The scenarios run one after another on one local stack, each with its own customer,
// bucket, CRM and workers. Every scenario ends with the same checks (scenario.check).
func TestChaos(t *testing.T) {
	if env.skip != "" {
		t.Skip(env.skip)
	}
	for _, sc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"kill-worker-after-upload", killAfterUpload},
		{"kill-worker-after-crm-write", killAfterCRMWrite},
		{"kill-worker-during-results-pass", killDuringResults},
		{"kill-worker-mid-batch-outbound", killMidBatch},
		{"kill-temporal-server", killTemporal},
		{"s3-reset-peer", func(t *testing.T) { s3Toxic(t, "rp", "reset_peer", toxiproxy.Attributes{"timeout": 0}, 8*time.Second) }},
		{"s3-timeout", func(t *testing.T) { s3Toxic(t, "to", "timeout", toxiproxy.Attributes{"timeout": 2000}, 8*time.Second) }},
		{"s3-latency", func(t *testing.T) {
			s3Toxic(t, "la", "latency", toxiproxy.Attributes{"latency": 300, "jitter": 100}, 0)
		}},
		{"crm-reset-peer", func(t *testing.T) {
			crmToxic(t, "crp", "reset_peer", toxiproxy.Attributes{"timeout": 0}, 6*time.Second)
		}},
		{"crm-timeout", func(t *testing.T) {
			crmToxic(t, "cto", "timeout", toxiproxy.Attributes{"timeout": 2000}, 6*time.Second)
		}},
		{"crm-latency", func(t *testing.T) {
			crmToxic(t, "cla", "latency", toxiproxy.Attributes{"latency": 300, "jitter": 100}, 0)
		}},
		{"two-workers-one-killed", twoWorkersOneKilled},
	} {
		t.Run(sc.name, sc.run)
	}
}

func addToxic(t *testing.T, p *toxiproxy.Proxy, name, kind, stream string, attrs toxiproxy.Attributes) {
	t.Helper()
	if _, err := p.AddToxic(name, kind, stream, 1, attrs); err != nil {
		t.Fatalf("add toxic %s (%s) to %s: %v", name, kind, p.Name, err)
	}
}

func removeToxic(t *testing.T, p *toxiproxy.Proxy, name string) {
	t.Helper()
	if err := p.RemoveToxic(name); err != nil {
		t.Fatalf("remove toxic %s from %s: %v", name, p.Name, err)
	}
}

// Kill -9 after the upload of an inbound file and before its records are marked sent in
// the CRM: every S3 response is held back 2 s, so the file is in the bucket while the
// worker still waits for S3's answer.
func killAfterUpload(t *testing.T) {
	s := newScenario(t, "chaos-k-upload")
	p := s.proxyS3()
	s.createInCRM("U", 6)
	w := s.startWorker()
	addToxic(t, p, "slow", "latency", "downstream", toxiproxy.Attributes{"latency": 2000})
	s.enroll(s.config())
	eventually(t, 2*time.Minute, "an inbound file uploaded", func() bool { return len(s.keys(ace.FolderOpportunityInbound)) > 0 })
	s.kill(w)
	t.Logf("kill landed with %d inbound files in the bucket and %d of %d records marked sent in the CRM",
		len(s.keys(ace.FolderOpportunityInbound)), s.statusCount(crm.SyncSent), len(s.partners))
	removeToxic(t, p, "slow")
	s.startSim()
	s.startWorker()
	s.putOutbound("U", 20, 2, 5)
	s.settle(3 * time.Minute)
	s.check("kill after upload")
}

// Kill -9 after the CRM write of a SendChanges (some records marked sent) and before the
// activity's result reaches history: 12 records, one file each, 8 uploads at a time, every
// S3 response held back 1.5 s, so later uploads are in flight when the first are marked.
func killAfterCRMWrite(t *testing.T) {
	s := newScenario(t, "chaos-k-crmwrite")
	p := s.proxyS3()
	s.createInCRM("C", 12)
	w := s.startWorker()
	addToxic(t, p, "slow", "latency", "downstream", toxiproxy.Attributes{"latency": 1500})
	s.enroll(s.config())
	eventually(t, 2*time.Minute, "a record marked sent in the CRM", func() bool { return s.statusCount(crm.SyncSent) > 0 })
	s.kill(w)
	st, _ := s.status()
	t.Logf("kill landed with %d of %d records marked sent in the CRM, %d files pending in the workflow",
		s.statusCount(crm.SyncSent), len(s.partners), len(st.State.Pending))
	removeToxic(t, p, "slow")
	s.startSim()
	s.startWorker()
	s.putOutbound("C", 20, 2, 5)
	s.settle(100 * time.Second)
	s.check("kill after CRM write")
}

// Kill -9 in the middle of the results pass: ACE answers all 8 files at once, every S3
// response is held back 1.5 s, and the worker dies once some results are written to the
// CRM while others are still in the results folder.
func killDuringResults(t *testing.T) {
	s := newScenario(t, "chaos-k-results")
	p := s.proxyS3()
	s.createInCRM("R", 8)
	w := s.startWorker()
	s.enroll(s.config())
	eventually(t, 2*time.Minute, "every record sent and awaiting its result", func() bool {
		st, err := s.status()
		return err == nil && len(st.State.Pending) == len(s.partners) && s.statusCount(crm.SyncSent) == len(s.partners)
	})
	addToxic(t, p, "slow", "latency", "downstream", toxiproxy.Attributes{"latency": 1500})
	if _, err := s.sim.ProcessOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	results := func() int {
		n := 0
		for k := range s.keys(ace.FolderOpportunityResults) {
			if !contains(decoys, k) {
				n++
			}
		}
		return n
	}
	eventually(t, 3*time.Minute, "some results written to the CRM, others still to read", func() bool {
		return s.statusCount(crm.SyncAccepted) > 0 && results() > 1
	})
	s.kill(w)
	t.Logf("kill landed with %d of %d answers written to the CRM and %d results left in the folder",
		s.statusCount(crm.SyncAccepted), len(s.partners), results())
	removeToxic(t, p, "slow")
	s.startSim()
	s.startWorker()
	s.putOutbound("R", 20, 2, 5)
	s.settle(100 * time.Second)
	s.check("kill during results pass")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Kill -9 of the worker three times in the middle of outbound batches (701 files in batches
// of up to 256), with CRM changes to send as well.
func killMidBatch(t *testing.T) {
	s := newScenario(t, "chaos-k-batch")
	s.putOutbound("B", 600, 2, 100)
	s.createInCRM("B", 4)
	s.startSim()
	w := s.startWorker()
	s.enroll(s.config())
	for i := range 3 {
		started := false
		eventually(t, 2*time.Minute, "a batch started (or every file synced)", func() bool {
			started = w.logHas(`"message":"batch started"`)
			return started || len(s.keys(ace.FolderOpportunityOutbound)) == 0
		})
		if !started {
			break
		}
		time.Sleep(time.Duration(300+400*i) * time.Millisecond) // into the batch: ~1-2 s for 256 files here
		left := len(s.keys(ace.FolderOpportunityOutbound))
		s.kill(w)
		t.Logf("kill %d: %d outbound files left", s.kills, left)
		w = s.startWorker()
	}
	if s.kills == 0 {
		t.Fatal("no kill landed in a batch: the scenario proved nothing")
	}
	s.settle(5 * time.Minute)
	s.check("kill mid-batch outbound")
}

// Kill -9 of the Temporal dev server in the middle of an outbound batch, and a restart on
// the same port and database after a 3 s outage.
func killTemporal(t *testing.T) {
	s := newScenario(t, "chaos-k-temporal")
	s.putOutbound("T", 300, 2, 50)
	s.createInCRM("T", 4)
	s.startSim()
	w := s.startWorker()
	s.enroll(s.config())
	eventually(t, 2*time.Minute, "a batch started", func() bool { return w.logHas(`"message":"batch started"`) })
	env.stack.KillTemporal()
	s.kills++
	left := len(s.keys(ace.FolderOpportunityOutbound))
	time.Sleep(3 * time.Second) // the outage
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := env.stack.RestartTemporal(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Temporal killed with %d outbound files left, restarted on its database", left)
	s.settle(5 * time.Minute)
	s.check("kill Temporal server")
}

// A Toxiproxy toxic on the workers' connections to S3: for window (then removed), or for
// the whole scenario when window is 0.
func s3Toxic(t *testing.T, tag, kind string, attrs toxiproxy.Attributes, window time.Duration) {
	s := newScenario(t, "chaos-s3-"+tag)
	p := s.proxyS3()
	s.putOutbound(tag, 40, 2, 10)
	s.createInCRM(tag, 4)
	s.startSim()
	s.startWorker()
	addToxic(t, p, kind, kind, "upstream", attrs)
	s.enroll(s.config())
	if window > 0 {
		time.Sleep(window) // the fault lasts this long; nothing is asserted on time
		removeToxic(t, p, kind)
	}
	s.settle(4 * time.Minute)
	s.check("S3 " + kind)
}

// A Toxiproxy toxic between the worker and a HubSpot contract server (the CRM), for window
// or for the whole scenario; outbound sync only (the contract servers' inbound side needs
// records made through the mapping, covered by integration/connectors_test.go).
func crmToxic(t *testing.T, tag, kind string, attrs toxiproxy.Attributes, window time.Duration) {
	s := newScenario(t, "chaos-crm-"+tag)
	srv := hscontract.New()
	t.Cleanup(srv.Close)
	srv.Unique("deals", "ace_opportunity_id")
	srv.Unique("contacts", "ace_lead_id")
	srv.Enumeration("deals", "dealstage", "appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
		"decisionmakerboughtin", "contractsent", "closedwon", "closedlost")
	const token = "pat-na1-chaos-test"
	srv.AddToken(token, false)
	t.Setenv("OPPSYNC_CHAOS_HS_TOKEN", token) // the worker processes inherit it
	mappingFile := filepath.Join(t.TempDir(), "hubspot-mapping.yaml")
	if err := os.WriteFile(mappingFile, mapping.DefaultYAML("hubspot"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	listen, p, err := env.stack.Proxy(context.Background(), "hubspot", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Delete() })
	s.crmURL = fmt.Sprintf("hubspot://%s?insecure_http=1&token_env=OPPSYNC_CHAOS_HS_TOKEN&search_lag=0s&mapping=%s",
		listen, url.QueryEscape(mappingFile))
	s.putOutbound(tag, 40, 2, 10)
	s.startWorker()
	addToxic(t, p, kind, kind, "upstream", attrs)
	cfg := s.config()
	cfg.SpmsID = "" // outbound only
	s.enroll(cfg)
	if window > 0 {
		time.Sleep(window) // the fault lasts this long; nothing is asserted on time
		t.Logf("%s: %d of %d records reached HubSpot during the %s fault", kind, len(srv.Records("deals")), len(s.newest), window)
		removeToxic(t, p, kind)
	}
	s.settle(4 * time.Minute)
	s.check("CRM " + kind)
}

// Two workers on the customer's task queue; the one that starts a batch first is killed -9
// in it, the other finishes everything.
func twoWorkersOneKilled(t *testing.T) {
	s := newScenario(t, "chaos-two-workers")
	s.putOutbound("W", 500, 2, 80)
	s.createInCRM("W", 6)
	s.startSim()
	a, b := s.startWorker(), s.startWorker()
	s.enroll(s.config())
	var victim *workerProcess
	eventually(t, 2*time.Minute, "a batch started on either worker", func() bool {
		for _, w := range []*workerProcess{a, b} {
			if w.logHas(`"message":"batch started"`) {
				victim = w
				return true
			}
		}
		return false
	})
	time.Sleep(500 * time.Millisecond)
	s.kill(victim)
	s.settle(5 * time.Minute)
	s.check("two workers, one killed")
}
