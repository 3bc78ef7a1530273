package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	crmsqlite "github.com/oppsync/oppsync/crm/sqlite"
)

// workerProcess is the real worker binary running against the stack.
type workerProcess struct {
	cmd *exec.Cmd
	log string
}

func startWorkerProcess(t *testing.T, taskQueue string) *workerProcess {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "worker.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(env.binDir, "oppsync-worker"), "--log-format", "json", "--task-queue", taskQueue)
	cmd.Env = append(os.Environ(), env.stack.Env()...)
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

// A worker killed in the middle of a cycle and restarted loses no record and duplicates none.
func TestWorkerKilledMidCycleLosesAndDuplicatesNothing(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "crash")
	const files, perFile = 60, 20
	for i := range files {
		c.putAsACE(t, fmt.Sprintf("opportunity-outbound/f%03d.json", i),
			opportunityFile(t, ids("O", i*perFile, perFile), time.Now(), "Prospect"))
	}
	cfg := c.config()
	cfg.FileConcurrency = 1 // slow the cycle down so the kill lands in its middle
	first := startWorkerProcess(t, c.taskQueue)
	c.start(t, cfg) // the first cycle starts at once

	// Kill the worker once some, not all, files are synced.
	eventually(t, 2*time.Minute, "the first files synced", func() bool {
		return len(c.keys(t, "opportunity-outbound/")) < files-5
	})
	first.kill(t)
	if n := len(c.records(t, "opportunity")); n >= files*perFile {
		t.Fatalf("all %d records were synced before the kill; the test did not interrupt anything", n)
	}

	second := startWorkerProcess(t, c.taskQueue)
	defer second.stop(t)
	eventually(t, 3*time.Minute, "every file synced after the restart", func() bool {
		return len(c.keys(t, "opportunity-outbound/")) == 0 && len(c.recordsQuiet("opportunity")) == files*perFile
	})
	recs := c.records(t, "opportunity")
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.ACEID] {
			t.Fatalf("record %s is in the CRM twice", r.ACEID)
		}
		seen[r.ACEID] = true
	}
	for _, id := range ids("O", 0, files*perFile) {
		if !seen[id] {
			t.Fatalf("record %s was lost", id)
		}
	}
	// Each record was inserted exactly once: retried files changed nothing.
	store, err := crmsqlite.Open(context.Background(), c.crmURL[len("sqlite://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	changes, err := store.ChangeLog(context.Background(), "opportunity", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != files*perFile {
		t.Fatalf("change log has %d entries for %d records: a retry wrote twice", len(changes), files*perFile)
	}
}

// recordsQuiet is records without failing the test on a busy database (polling).
func (c *customer) recordsQuiet(object string) []struct{} {
	store, err := crmsqlite.Open(context.Background(), c.crmURL[len("sqlite://"):])
	if err != nil {
		return nil
	}
	defer store.Close()
	recs, err := store.List(context.Background(), aceObject(object))
	if err != nil {
		return nil
	}
	return make([]struct{}, len(recs))
}
