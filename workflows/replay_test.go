package workflows

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/oppsync/oppsync/customersync"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayRecordedHistories replays histories recorded from real runs of CustomerSync on
// the local stack (testdata/histories, made by the integration tests with
// OPPSYNC_RECORD_HISTORY_DIR). A change that makes the workflow non-deterministic for
// workflows already running fails here, before it reaches a cluster.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/histories")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replaying %s: %v", f, err)
			}
		})
	}
}

// TestReplayDetectsNonDeterminism proves the replay test can fail: a history whose first
// command no longer matches the workflow code is rejected.
func TestReplayDetectsNonDeterminism(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "histories", "tag-ack.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in customersync.SyncInput) error {
		// A changed workflow: it sleeps before its first activity.
		return workflow.Sleep(ctx, 1)
	}, workflow.RegisterOptions{Name: customersync.WorkflowName})
	path := filepath.Join(t.TempDir(), "h.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, path); err == nil {
		t.Fatal("a non-deterministic change replayed without error")
	}
}

// The recorded histories cover both outbound paths: runs started before versionBatches
// (one SyncFile activity per file) and after (Poll and SyncBatch), so a change to either
// that breaks running workflows fails TestReplayRecordedHistories.
func TestRecordedHistoriesCoverBothOutboundPaths(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var perFile, batched int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case bytes.Contains(b, []byte(`"SyncBatch"`)):
			batched++
		case bytes.Contains(b, []byte(`"SyncFile"`)):
			perFile++
		}
	}
	if perFile == 0 || batched == 0 {
		t.Fatalf("%d histories of the per-file path and %d of the batched path; want both", perFile, batched)
	}
}

// The recorded histories cover both sides of every change id the workflow has: runs that
// decided the change (a version marker) and runs recorded before it (none), so that both
// paths of each GetVersion are replayed.
func TestRecordedHistoriesCoverEveryChange(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	with := map[string]int{}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, ev := range h.Events {
			m := ev.GetMarkerRecordedEventAttributes()
			if m == nil || m.MarkerName != "Version" {
				continue
			}
			var id string
			if err := converter.GetDefaultDataConverter().FromPayloads(m.Details["change-id"], &id); err != nil {
				t.Fatalf("%s: version marker: %v", f, err)
			}
			with[id]++
		}
	}
	for _, id := range []string{versionOperatorAttributes, versionBatches, versionDurableInbound, versionCycleSnapshot} {
		if with[id] == 0 || with[id] == len(files) {
			t.Errorf("change %s is decided in %d of the %d recorded histories; want some with it and some without", id, with[id], len(files))
		}
	}
}
