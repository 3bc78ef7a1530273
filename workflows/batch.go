package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/customersync"
)

// versionBatches is the change that replaced per-file SyncFile activities by one Poll
// (a local activity) per cycle and one SyncBatch activity per batch of files, run one at
// a time. Runs that started before it keep the per-file path until they continue as new.
const versionBatches = "outbound-batches"

// pollActivity is the registered name of Activities.Poll.
const pollActivity = "Poll"

// versionDurableInbound is the change that derives what awaits ACE's answer from the CRM's
// own records (status sent, crm.Inbound's Awaiting) besides the workflow's Pending list:
// the results pass runs whenever the poll finds an answer to a file either names, and the
// records the CRM holds as sent longer than ResultTimeout are marked unanswered. A worker
// killed between SendChanges' CRM write and its completion thus loses no answer. Only on
// the batched path (versionBatches); runs recorded before keep their commands.
const versionDurableInbound = "inbound-durable-awaiting"

// cycleBatched is the body of a cycle since versionBatches: one poll, the outbound files in
// batches one at a time, then the inbound direction's activities only when the poll found
// work for them. It reports whether the listing was truncated (more files wait).
func (w *customerSync) cycleBatched(ctx workflow.Context, cfg *customersync.CustomerConfig, t customersync.Target, sum *customersync.CycleSummary) bool {
	in := customersync.PollInput{List: customersync.ListInput{
		Target: t, Folders: outboundFolders, MaxObjects: customersync.DefaultMaxFilesPerList, Skip: w.skipSet(),
		Include: w.state.Redriven,
	}}
	if cfg.AckMode == customersync.AckTag {
		in.List.StartAfter = w.state.TagMarks
	}
	durable := false
	if cfg.SpmsID != "" {
		durable = workflow.GetVersion(ctx, versionDurableInbound, workflow.DefaultVersion, 1) >= 1
		in.Inbound = &customersync.PollInbound{
			CRM: cfg.CRM, After: w.state.Watermarks, Force: w.forceSend, Folders: resultsFolders(cfg),
			FromCRM: durable,
		}
		if durable {
			in.Inbound.ResultTimeout = cfg.ResultTimeout
		}
		for _, p := range w.state.Pending {
			in.Inbound.Pending = append(in.Inbound.Pending, p.Key)
		}
	}
	var poll customersync.PollResult
	// By name: a local activity given as a method value would run on act, the nil
	// *Activities used for method references; by name it runs the worker's registered one.
	err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, pollOptions), pollActivity, in).Get(ctx, &poll)
	if err != nil {
		sum.Errors = append(sum.Errors, errorText(err))
		w.onAccessError(ctx, cfg, err)
		return false
	}
	for _, key := range poll.Missing {
		delete(w.state.Acked, key)
		w.unquarantine(key)
	}
	w.state.Redriven = nil
	if len(poll.Objects) > 0 {
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("Cycle #%d: syncing %d files from bucket %s into the CRM.",
			sum.Number, len(poll.Objects), cfg.Bucket))
		w.syncBatches(ctx, cfg, t, poll.Objects, sum)
	}
	if cfg.AckMode == customersync.AckTag && sum.OK() {
		w.advanceTagMarks(poll.Last)
	}
	if cfg.SpmsID == "" || !sum.OK() {
		return poll.Truncated
	}
	if poll.InboundError != "" {
		err := temporal.NewApplicationError(poll.InboundError, poll.InboundErrorType)
		sum.Errors = append(sum.Errors, "poll CRM changes and ACE results: "+poll.InboundError)
		w.onAccessError(ctx, cfg, err)
		return poll.Truncated
	}
	if durable {
		w.state.AwaitingInCRM = poll.Awaiting
	}
	if poll.Changes {
		w.sendChanges(ctx, cfg, t, sum)
	}
	w.forceSend = false
	if poll.Results && (durable || len(w.state.Pending) > 0) {
		w.collectResults(ctx, cfg, t, sum, durable)
	}
	w.expireUnanswered(ctx, cfg, t, sum, durable && poll.Expired)
	return poll.Truncated
}

// syncBatches syncs the listed files in batches (activities.SplitBatches), one SyncBatch at
// a time, so that no two writes of one record race inside a customer. A failed batch ends
// the cycle's outbound part; the next cycle lists its files again.
func (w *customerSync) syncBatches(ctx workflow.Context, cfg *customersync.CustomerConfig, t customersync.Target, files []customersync.ObjectRef, sum *customersync.CycleSummary) {
	batches := activities.SplitBatches(files, activities.DefaultBatchFiles, activities.DefaultBatchBytes)
	for i, b := range batches {
		opts := syncBatchOptions
		opts.HeartbeatTimeout = cfg.BatchHeartbeat
		opts.Summary = fmt.Sprintf("sync %d files (batch %d of %d)", len(b), i+1, len(batches))
		var res customersync.SyncBatchResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), act.SyncBatch, customersync.SyncBatchInput{
			Target: t, CRM: cfg.CRM, Objects: b, Ack: cfg.AckMode, ReadConcurrency: cfg.ReadConcurrency,
		}).Get(ctx, &res)
		if err != nil {
			sum.Errors = append(sum.Errors, fmt.Sprintf("batch %d of %d (%d files from %s): %s", i+1, len(batches), len(b), b[0].Key, errorText(err)))
			w.onAccessError(ctx, cfg, err)
			return
		}
		w.recordBatch(ctx, cfg, b, res, sum)
	}
}

// recordBatch adds a batch's outcome to the cycle summary and the workflow state.
func (w *customerSync) recordBatch(ctx workflow.Context, cfg *customersync.CustomerConfig, batch []customersync.ObjectRef, res customersync.SyncBatchResult, sum *customersync.CycleSummary) {
	sum.Counts = sum.Counts.Add(customersync.Counts{
		Files: res.Files + len(res.Quarantined), Records: res.Records, Inserted: res.Inserted, Updated: res.Updated,
		Unchanged: res.Unchanged, Stale: res.Stale, Quarantined: len(res.Quarantined),
		Reread: res.Reread, Resumed: res.Resumed,
	})
	now := workflow.Now(ctx)
	for _, f := range batch {
		i := slices.IndexFunc(res.Quarantined, func(q customersync.BadFile) bool { return q.Key == f.Key })
		if i < 0 {
			w.unquarantine(f.Key)
			continue
		}
		q := res.Quarantined[i]
		w.quarantine(customersync.QuarantinedFile{Key: q.Key, ETag: f.ETag, Reason: q.Reason, At: now})
	}
	if cfg.AckMode == customersync.AckTag {
		for _, f := range res.Tagged {
			w.state.Acked[f.Key] = f.ETag
		}
	}
}

// advanceTagMarks moves each folder's tag mark up to the last key the poll went through,
// once every file up to it is handled (the cycle's outbound part succeeded), and forgets
// the tag acknowledgements the mark now covers.
func (w *customerSync) advanceTagMarks(last map[string]string) {
	for _, folder := range outboundFolders {
		key, ok := last[folder]
		if !ok || key <= w.state.TagMarks[folder] {
			continue
		}
		if w.state.TagMarks == nil {
			w.state.TagMarks = map[string]string{}
		}
		w.state.TagMarks[folder] = key
		// Deleting in any order gives the same map, so the map's random order is harmless.
		maps.DeleteFunc(w.state.Acked, func(acked, _ string) bool { return strings.HasPrefix(acked, folder) && acked <= key }) //workflowcheck:ignore
	}
}
