package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/customersync"
)

// In tag mode the workflow state stays bounded however many files were ever tagged: with
// 50,000 tagged files the state carried across continue-as-new (and into every poll)
// holds at most one listing's worth of acknowledgements, and every file is synced once.
// Before tag marks, Acked held all 50,000 (about 4 MB of JSON: past Temporal's 2 MB
// payload limit, the workflow stopped).
func TestTagModeStateStaysBoundedWith50000TaggedFiles(t *testing.T) {
	const total = 50_000
	keys := make([]string, total)
	for i := range keys {
		keys[i] = fmt.Sprintf("opportunity-outbound/2026-11-%02dT%06d.json", 1+i%28, i) // not in key order
	}
	slices.Sort(keys)
	etag := func(key string) string { return `"` + key[len(key)-11:len(key)-5] + `"` }
	synced := map[string]int{}

	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	env.RegisterActivity(act)
	env.OnActivity(act.Check, anyCtx, anyArg).Return(customersync.CheckReport{}, nil)
	// The bucket: S3's listing in key order, after StartAfter, skipping acknowledged keys.
	env.OnActivity(act.Poll, anyCtx, anyArg).Return(func(_ context.Context, in customersync.PollInput) (customersync.PollResult, error) {
		var res customersync.PollResult
		after := in.List.StartAfter["opportunity-outbound/"]
		i, _ := slices.BinarySearch(keys, after)
		for ; i < len(keys); i++ {
			k := keys[i]
			if k <= after {
				continue
			}
			if in.List.Skip[k] == etag(k) {
				res.Last = map[string]string{"opportunity-outbound/": k}
				continue
			}
			if len(res.Objects) == in.List.MaxObjects {
				res.Truncated = true
				break
			}
			res.Objects = append(res.Objects, customersync.ObjectRef{Key: k, ETag: etag(k), Size: 100})
			res.Last = map[string]string{"opportunity-outbound/": k}
		}
		return res, nil
	})
	env.OnActivity(act.SyncBatch, anyCtx, anyArg).Return(func(_ context.Context, in customersync.SyncBatchInput) (customersync.SyncBatchResult, error) {
		res := customersync.SyncBatchResult{Files: len(in.Objects)}
		for _, o := range in.Objects {
			synced[o.Key]++
			res.Tagged = append(res.Tagged, o)
		}
		return res, nil
	})

	cfg := validConfig()
	cfg.AckMode = customersync.AckTag
	cfg.PollInterval = time.Minute
	env.ExecuteWorkflow(CustomerSync, customersync.SyncInput{Config: cfg, CyclesPerRun: total/customersync.DefaultMaxFilesPerList + 5})

	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	if len(synced) != total {
		t.Fatalf("%d of %d files synced", len(synced), total)
	}
	for k, n := range synced {
		if n != 1 {
			t.Fatalf("%s synced %d times", k, n)
		}
	}
	var next customersync.SyncInput
	if err := converterFor(t).FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if n := len(next.State.Acked); n > customersync.DefaultMaxFilesPerList {
		t.Errorf("state carries %d tag acknowledgements, want at most %d", n, customersync.DefaultMaxFilesPerList)
	}
	if got := next.State.TagMarks["opportunity-outbound/"]; got != keys[total-1] {
		t.Errorf("tag mark %q, want the last key %q", got, keys[total-1])
	}
	p, err := converter.GetDefaultDataConverter().ToPayload(next)
	if err != nil {
		t.Fatal(err)
	}
	if size := len(p.GetData()); size > 64<<10 {
		t.Errorf("continue-as-new input is %d bytes, want under 64 KiB", size)
	}
}
