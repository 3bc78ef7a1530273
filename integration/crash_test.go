package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	crmsqlite "github.com/oppsync/oppsync/crm/sqlite"
	"github.com/oppsync/oppsync/customersync"
)

// workerProcess is the real worker binary running against the stack.
type workerProcess struct {
	cmd *exec.Cmd
	log string
}

func startWorkerProcess(t *testing.T, taskQueue string) *workerProcess {
	t.Helper()
	return startWorkerProcessWith(t, taskQueue, nil)
}

// startWorkerProcessWith is startWorkerProcess with extra environment variables (they
// override the stack's, e.g. the Selling API endpoint) and extra flags.
func startWorkerProcessWith(t *testing.T, taskQueue string, extraEnv []string, args ...string) *workerProcess {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "worker.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(env.binDir, "oppsync-worker"), append([]string{"--log-format", "json", "--task-queue", taskQueue}, args...)...)
	cmd.Env = append(append(os.Environ(), env.stack.Env()...), extraEnv...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerProcess{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			_ = w.cmd.Process.Kill()
			_ = w.cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("worker log:\n%s", tail(b, 4000))
		}
	})
	return w
}

// kill ends the worker abruptly, as a crash or an OOM kill would.
func (w *workerProcess) kill(t *testing.T) {
	t.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	_ = w.cmd.Wait()
}

// waitFor waits until the worker's log holds text, and reports whether it did in time.
func (w *workerProcess) waitFor(t *testing.T, text string, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(w.log); strings.Contains(string(b), text) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// stop ends the worker gracefully.
func (w *workerProcess) stop(t *testing.T) {
	t.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	if err := w.cmd.Wait(); err != nil {
		t.Errorf("worker did not stop cleanly on SIGTERM: %v", err)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// A worker killed with SIGKILL at random moments, ten times, while it syncs a backlog of
// 1,000 files, and restarted each time: every record is in the CRM once with its newest
// data, every file is acknowledged, and no retry writes twice (the change log holds one
// insert per record and one update per newer version). The files the restarts made it
// read again are reported.
func TestWorkerKilledMidBatchLosesAndDuplicatesNothing(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "crash")
	const files, perFile, updates = 1000, 5, 100
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	// Files 0-899 bring 4,500 records; files 900-999 bring newer versions of the records
	// of files 0-99, in later batches.
	for i := range files {
		key := fmt.Sprintf("opportunity-outbound/f%04d.json", i)
		if i < files-updates {
			c.putAsACE(t, key, opportunityFile(t, ids("O", i*perFile, perFile), base, "Prospect"))
		} else {
			c.putAsACE(t, key, opportunityFile(t, ids("O", (i-(files-updates))*perFile, perFile), base.Add(time.Hour), "Committed"))
		}
	}
	distinct := (files - updates) * perFile

	w := startWorkerProcess(t, c.taskQueue)
	cfg := c.config()
	cfg.BatchHeartbeat = 5 * time.Second // a batch on a killed worker resumes within 5 s
	c.start(t, cfg)                      // the first cycle starts at once
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	// Each kill lands at a random moment of a batch: after the worker (a fresh one since the
	// last kill, once Temporal gave it the batch after the heartbeat timeout) started it.
	// Every third kill first lets a batch finish, so the backlog moves on between kills
	// (a batch's progress before its acknowledgements is redone by its retry).
	kills := 0
	for kills < 10 {
		left := len(c.keys(t, "opportunity-outbound/"))
		if left == 0 {
			break
		}
		marker := `"message":"batch started"`
		if kills%3 == 2 {
			marker = `"message":"batch synced"`
		}
		// Up to the retry back-off's cap (2 min) plus the heartbeat timeout.
		if !w.waitFor(t, marker, 3*time.Minute) {
			break // no batch left to interrupt
		}
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		w.kill(t)
		kills++
		t.Logf("kill %d (after %s): %d files were left", kills, marker, left)
		w = startWorkerProcess(t, c.taskQueue)
	}
	if kills < 10 && len(c.keys(t, "opportunity-outbound/")) != 0 {
		t.Fatalf("only %d kills landed before the worker stopped taking batches", kills)
	}
	if kills < 6 {
		t.Fatalf("only %d kills landed before the backlog was synced; the test interrupted too little", kills)
	}
	defer w.stop(t)
	eventually(t, 5*time.Minute, "every file synced after the restarts", func() bool {
		return len(c.keys(t, "opportunity-outbound/")) == 0
	})
	// Wait for the cycle that acknowledged the last files to be recorded.
	// A worker just restarted may not poll yet: a query can fail until it does.
	eventually(t, 2*time.Minute, "the last cycle recorded", func() bool {
		st, err := c.sync().Status(context.Background(), c.Name, customersync.EnvBeta)
		if err != nil {
			return false
		}
		return st.Phase == "waiting" && st.State.LastCycle != nil && st.State.LastCycle.OK()
	})

	recs := c.records(t, "opportunity")
	if len(recs) != distinct {
		t.Fatalf("CRM holds %d opportunities, want %d", len(recs), distinct)
	}
	updated := map[string]bool{}
	for _, id := range ids("O", 0, updates*perFile) {
		updated[id] = true
	}
	for _, r := range recs {
		want, stage := base, "Prospect"
		if updated[r.ACEID] {
			want, stage = base.Add(time.Hour), "Committed"
		}
		if !r.LastModified.Equal(want) || r.Stage != stage {
			t.Fatalf("record %s holds %s at %s, want its newest version, %s at %s", r.ACEID, r.Stage, r.LastModified, stage, want)
		}
	}
	store, err := crmsqlite.Open(context.Background(), c.crmURL[len("sqlite://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	changes, err := store.ChangeLog(context.Background(), "opportunity", "")
	if err != nil {
		t.Fatal(err)
	}
	inserts := map[string]int{}
	var ups int
	for _, ch := range changes {
		switch ch.Action {
		case crmsqlite.ActionInsert:
			inserts[ch.ACEID]++
			if inserts[ch.ACEID] > 1 {
				t.Fatalf("record %s was inserted twice", ch.ACEID)
			}
		case crmsqlite.ActionUpdate:
			ups++
		}
	}
	if len(inserts) != distinct || ups != updates*perFile {
		t.Fatalf("change log: %d records inserted, %d updates; want %d and %d (a retry wrote twice, or a version was lost)",
			len(inserts), ups, distinct, updates*perFile)
	}
	tot := c.status(t).State.Totals
	t.Logf("1,000 files, %d kills: %d files re-read after a restart, %d skipped thanks to a heartbeat, %d records unchanged on re-apply",
		kills, tot.Reread, tot.Resumed, tot.Unchanged)
}
