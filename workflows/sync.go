// Package workflows holds OppSync's Temporal workflows. CustomerSync is the one long-running
// workflow per customer and environment. Workflow code must stay deterministic: no I/O, no
// clocks but workflow.Now, no randomness but what is derived from history; replay tests in
// this package guard that.
package workflows

import (
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/activities"
)

// maxQuarantine bounds the quarantine list kept in workflow state (and so in history).
const maxQuarantine = 500

// maxAccessBackoff caps how long a failing customer waits between cycles (unless its poll
// interval is longer).
const maxAccessBackoff = time.Hour

// act is only used for method references; the worker registers the real *Activities.
var act *activities.Activities

// CustomerSync keeps one customer's ACE bucket (in one environment) in sync with its CRM:
// each cycle lists the outbound folders, syncs every new file into the CRM, acknowledges it,
// then waits for the poll interval (with jitter) or a sync-now. A failing cycle never fails
// the workflow: the error is recorded in the status and the next cycle backs off.
func CustomerSync(ctx workflow.Context, in SyncInput) error {
	w := &customerSync{cfg: in.Config.WithDefaults(), state: in.State}
	if err := w.cfg.Validate(); err != nil {
		return temporal.NewNonRetryableApplicationError("invalid configuration: "+err.Error(), "InvalidConfig", nil)
	}
	if w.state.Acked == nil {
		w.state.Acked = map[string]string{}
	}
	if err := w.registerHandlers(ctx); err != nil {
		return err
	}
	return w.run(ctx)
}

type customerSync struct {
	cfg         CustomerConfig
	state       SyncState
	phase       Phase
	nextCycleAt time.Time
	lastError   string
	// accessChecked is true once the role was assumed in this run and no cycle failed since.
	accessChecked bool
	// wake interrupts the wait between cycles (a new configuration).
	wake bool
}

func (w *customerSync) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryStatus, w.status, workflow.QueryHandlerOptions{
		Description: "The customer's sync state: phase, next cycle, last cycle, totals, quarantined files and last error.",
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateConfigure, w.configure, workflow.UpdateHandlerOptions{
		Validator:   w.validateConfig,
		Description: "Replace the customer's configuration (role, bucket, CRM, poll interval, ack mode, concurrency). Invalid values are rejected before they reach history.",
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSyncNow, w.syncNowAndWait, workflow.UpdateHandlerOptions{
		Description: "Start a sync cycle now and return its summary when it is done.",
	}); err != nil {
		return err
	}
	syncNow := workflow.GetSignalChannelWithOptions(ctx, SignalSyncNow, workflow.SignalChannelOptions{
		Description: "Start a sync cycle now instead of waiting for the poll interval.",
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		for syncNow.Receive(ctx, nil) {
			w.state.SyncRequested = true
		}
	})
	return nil
}

func (w *customerSync) status() (Status, error) {
	cfg := w.cfg
	cfg.ExternalID = ""
	return Status{
		Customer: cfg.Customer, Env: cfg.Env, Phase: w.phase, NextCycleAt: w.nextCycleAt,
		LastError: w.lastError, Config: cfg, State: w.state,
	}, nil
}

func (w *customerSync) validateConfig(ctx workflow.Context, cfg CustomerConfig) error {
	cfg = cfg.WithDefaults()
	if cfg.Customer != w.cfg.Customer || cfg.Env != w.cfg.Env {
		return fmt.Errorf("configuration for %s/%s sent to the workflow of %s/%s", cfg.Customer, cfg.Env, w.cfg.Customer, w.cfg.Env)
	}
	return cfg.Validate()
}

func (w *customerSync) configure(ctx workflow.Context, cfg CustomerConfig) (Status, error) {
	cfg = cfg.WithDefaults()
	if cfg.RoleARN != w.cfg.RoleARN || cfg.ExternalID != w.cfg.ExternalID || cfg.Region != w.cfg.Region {
		w.accessChecked = false
	}
	w.cfg = cfg
	w.wake = true
	workflow.GetLogger(ctx).Info("configuration updated")
	return w.status()
}

func (w *customerSync) syncNowAndWait(ctx workflow.Context) (CycleSummary, error) {
	// A cycle already running may have listed the bucket before this request: wait for the
	// one after it.
	target := w.state.Cycles + 1
	if w.phase == PhaseSyncing {
		target++
	}
	w.state.SyncRequested = true
	if err := workflow.Await(ctx, func() bool { return w.state.Cycles >= target }); err != nil {
		return CycleSummary{}, err
	}
	return *w.state.LastCycle, nil
}

func (w *customerSync) run(ctx workflow.Context) error {
	for {
		w.state.SyncRequested = false
		truncated := w.runCycle(ctx)

		if w.shouldContinueAsNew(ctx) {
			// Serve a sync-now that waits on a cycle before handing over; otherwise let
			// every handler finish so none is lost with this run.
			_ = workflow.Await(ctx, func() bool { return w.state.SyncRequested || workflow.AllHandlersFinished(ctx) })
			if !w.state.SyncRequested {
				return workflow.NewContinueAsNewError(ctx, CustomerSync, SyncInput{Config: w.cfg, State: w.state})
			}
			continue
		}
		if truncated && w.state.LastCycle.OK() {
			continue // a backlog: take the next slice right away
		}
		if err := w.wait(ctx); err != nil {
			return err
		}
	}
}

func (w *customerSync) shouldContinueAsNew(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > 20000
}

// wait sleeps until the next cycle is due, a sync-now arrives or the configuration changes.
func (w *customerSync) wait(ctx workflow.Context) error {
	d := w.nextDelay()
	w.phase = PhaseWaiting
	w.nextCycleAt = workflow.Now(ctx).Add(d)
	w.wake = false
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Waiting until %s for the next cycle (or a sync-now). %s",
		w.nextCycleAt.UTC().Format(time.RFC3339), w.lastOutcome()))
	_, err := workflow.AwaitWithTimeout(ctx, d, func() bool { return w.state.SyncRequested || w.wake })
	return err
}

// nextDelay is the poll interval with a ±10% jitter derived from the workflow ID and cycle
// number (deterministic on replay, yet spreading thousands of customers apart), or a capped
// exponential back-off after failed cycles.
func (w *customerSync) nextDelay() time.Duration {
	base := w.cfg.PollInterval
	if n := w.state.ConsecutiveFailures; n > 0 {
		limit := max(base, maxAccessBackoff)
		for i := 1; i < n && base < limit; i++ {
			base *= 2
		}
		base = min(base, limit)
	}
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s/%s/%d", w.cfg.Customer, w.cfg.Env, w.state.Cycles)
	spread := int64(base / 5)
	if spread <= 0 {
		return base
	}
	return base - base/10 + time.Duration(h.Sum64()%uint64(spread))
}

func (w *customerSync) lastOutcome() string {
	c := w.state.LastCycle
	switch {
	case c == nil:
		return ""
	case c.OK():
		return fmt.Sprintf("Last cycle #%d synced %d files, %d records.", c.Number, c.Counts.Files, c.Counts.Records)
	default:
		return fmt.Sprintf("Last cycle #%d failed (%d in a row): %s", c.Number, w.state.ConsecutiveFailures, c.Errors[0])
	}
}

func (w *customerSync) target() activities.Target {
	return activities.Target{
		Customer: w.cfg.Customer, Env: string(w.cfg.Env), RoleARN: w.cfg.RoleARN,
		ExternalID: w.cfg.ExternalID, Bucket: w.cfg.Bucket, Region: w.cfg.Region,
	}
}

// Activity options: every activity has a timeout and a retry policy; errors no retry can
// cure (bad files, access denied) are not retried.
var (
	accessOptions = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 3, NonRetryableErrorTypes: activities.NonRetryableErrors},
		Summary: "assume the customer's role",
	}
	listOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 5, NonRetryableErrorTypes: activities.NonRetryableErrors},
		Summary: "list outbound folders",
	}
	syncFileOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		// A worker killed mid-file is noticed within the heartbeat timeout, not the
		// start-to-close timeout, and the file is retried on another worker.
		HeartbeatTimeout: 20 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 2 * time.Minute, MaximumAttempts: 8, NonRetryableErrorTypes: activities.NonRetryableErrors},
	}
)

// runCycle runs one sync cycle and records its summary. It reports whether the listing was
// truncated (more files wait).
func (w *customerSync) runCycle(ctx workflow.Context) (truncated bool) {
	w.phase = PhaseSyncing
	w.nextCycleAt = time.Time{}
	sum := CycleSummary{Number: w.state.Cycles + 1, StartedAt: workflow.Now(ctx)}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Cycle #%d: listing %s and %s in bucket %s.",
		sum.Number, ace.FolderOpportunityOutbound, ace.FolderLeadOutbound, w.cfg.Bucket))
	defer func() { w.finishCycle(ctx, sum) }()

	t := w.target()
	if !w.accessChecked {
		actx := workflow.WithActivityOptions(ctx, accessOptions)
		if err := workflow.ExecuteActivity(actx, act.CheckAccess, t).Get(ctx, nil); err != nil {
			sum.Errors = append(sum.Errors, errorText(err))
			return false
		}
		w.accessChecked = true
	}

	var list activities.ListResult
	lctx := workflow.WithActivityOptions(ctx, listOptions)
	err := workflow.ExecuteActivity(lctx, act.ListOutbound, activities.ListInput{
		Target: t, Folders: []string{ace.FolderOpportunityOutbound, ace.FolderLeadOutbound},
		MaxObjects: DefaultMaxFilesPerList, Skip: w.skipSet(),
	}).Get(ctx, &list)
	if err != nil {
		sum.Errors = append(sum.Errors, errorText(err))
		return false
	}
	for _, key := range list.Missing {
		delete(w.state.Acked, key)
		w.unquarantine(key)
	}
	if len(list.Objects) > 0 {
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("Cycle #%d: syncing %d files from bucket %s into the CRM.",
			sum.Number, len(list.Objects), w.cfg.Bucket))
	}
	w.syncFiles(ctx, t, list.Objects, &sum)
	return list.Truncated
}

// syncFiles runs one SyncFile activity per file, at most FileConcurrency at a time.
func (w *customerSync) syncFiles(ctx workflow.Context, t activities.Target, files []activities.ObjectRef, sum *CycleSummary) {
	fctx := workflow.WithActivityOptions(ctx, syncFileOptions)
	sel := workflow.NewSelector(ctx)
	running := 0
	for i, f := range files {
		opts := syncFileOptions
		opts.Summary = "sync " + f.Key
		fut := workflow.ExecuteActivity(workflow.WithActivityOptions(fctx, opts), act.SyncFile, activities.SyncFileInput{
			Target: t, CRM: w.cfg.CRM, Object: f, Ack: w.cfg.AckMode,
		})
		running++
		sel.AddFuture(fut, func(fut workflow.Future) {
			running--
			var res activities.SyncFileResult
			w.recordFile(ctx, f, fut.Get(ctx, &res), res, sum)
		})
		for running >= w.cfg.FileConcurrency || (i == len(files)-1 && running > 0) {
			sel.Select(ctx)
		}
	}
}

// recordFile adds one file's outcome to the cycle summary and the workflow state.
func (w *customerSync) recordFile(ctx workflow.Context, f activities.ObjectRef, err error, res activities.SyncFileResult, sum *CycleSummary) {
	var appErr *temporal.ApplicationError
	if err != nil && errors.As(err, &appErr) && appErr.Type() == activities.ErrBadFile {
		if appErr.HasDetails() {
			_ = appErr.Details(&res)
		}
		sum.Counts = sum.Counts.Add(counts(res))
		sum.Counts.Quarantined++
		w.quarantine(QuarantinedFile{Key: f.Key, ETag: f.ETag, Reason: appErr.Message(), At: workflow.Now(ctx)})
		return
	}
	if err != nil {
		sum.Errors = append(sum.Errors, fmt.Sprintf("%s: %s", f.Key, errorText(err)))
		if isAccessError(err) {
			w.accessChecked = false
		}
		return
	}
	w.unquarantine(f.Key)
	if res.Gone {
		return
	}
	sum.Counts = sum.Counts.Add(counts(res))
	if w.cfg.AckMode == AckTag && res.Acked {
		w.state.Acked[f.Key] = res.ETag
	}
}

func counts(r activities.SyncFileResult) Counts {
	return Counts{Files: 1, Records: r.Records, Inserted: r.Inserted, Updated: r.Updated, Unchanged: r.Unchanged, Stale: r.Stale}
}

func (w *customerSync) finishCycle(ctx workflow.Context, sum CycleSummary) {
	sum.FinishedAt = workflow.Now(ctx)
	w.state.Cycles = sum.Number
	w.state.Totals = w.state.Totals.Add(sum.Counts)
	w.state.LastCycle = &sum
	if sum.OK() {
		w.state.ConsecutiveFailures = 0
		w.state.LastSuccessAt = sum.FinishedAt
		w.lastError = ""
	} else {
		w.state.ConsecutiveFailures++
		w.lastError = sum.Errors[0]
		w.accessChecked = false
		workflow.GetLogger(ctx).Warn("sync cycle failed", "cycle", sum.Number, "errors", len(sum.Errors), "first", sum.Errors[0])
	}
}

// skipSet is every file handled earlier that is still in the bucket: acknowledged by tag,
// or quarantined (left in place until it changes or an operator re-drives it).
func (w *customerSync) skipSet() map[string]string {
	if len(w.state.Acked) == 0 && len(w.state.Quarantine) == 0 {
		return nil
	}
	skip := maps.Clone(w.state.Acked)
	if skip == nil {
		skip = map[string]string{}
	}
	for _, q := range w.state.Quarantine {
		skip[q.Key] = q.ETag
	}
	return skip
}

func (w *customerSync) quarantine(q QuarantinedFile) {
	w.unquarantine(q.Key)
	w.state.Quarantine = append(w.state.Quarantine, q)
	if n := len(w.state.Quarantine); n > maxQuarantine {
		w.state.Quarantine = slices.Clone(w.state.Quarantine[n-maxQuarantine:])
	}
}

func (w *customerSync) unquarantine(key string) {
	w.state.Quarantine = slices.DeleteFunc(w.state.Quarantine, func(q QuarantinedFile) bool { return q.Key == key })
}

// errorText is the operator-facing text of an activity error: the innermost application
// error's message, without the SDK's wrapping.
func errorText(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "timed out: " + timeout.Error()
	}
	return err.Error()
}

func isAccessError(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && (appErr.Type() == activities.ErrAccessDenied || appErr.Type() == activities.ErrBucketMissing)
}
