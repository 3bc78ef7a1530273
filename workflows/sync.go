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
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/metrics"
)

// maxQuarantine bounds the quarantine list kept in workflow state (and so in history).
const maxQuarantine = 500

// maxBackoff caps how long a failing customer waits between cycles (unless its poll
// interval is longer).
const maxBackoff = time.Hour

// lastSuccessResolution is how stale the LastSyncSuccess search attribute may get: updating
// it after every cycle would add an event per cycle for thousands of customers.
const lastSuccessResolution = time.Hour

// act is only used for method references; the worker registers the real *Activities.
var act *activities.Activities

var outboundFolders = []string{ace.FolderOpportunityOutbound, ace.FolderLeadOutbound}

// CustomerSync keeps one customer's ACE bucket (in one environment) in sync with its CRM:
// each cycle lists the outbound folders, syncs every new file into the CRM, acknowledges it,
// then waits for the poll interval (with jitter), a sync-now or an operator's message. A
// failing cycle never fails the workflow: the error is recorded in the status and the next
// cycle backs off. Operators steer it with the updates named in package customersync.
func CustomerSync(ctx workflow.Context, in customersync.SyncInput) error {
	w := &customerSync{cfg: in.Config.WithDefaults(), state: in.State, cyclesPerRun: in.CyclesPerRun}
	if err := w.cfg.ValidateRunning(); err != nil {
		return temporal.NewNonRetryableApplicationError("invalid configuration: "+err.Error(), "InvalidConfig", nil)
	}
	if w.cyclesPerRun <= 0 {
		w.cyclesPerRun = customersync.DefaultCyclesPerRun
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
	cfg          customersync.CustomerConfig
	state        customersync.State
	cyclesPerRun int
	cyclesInRun  int
	phase        customersync.Phase
	nextCycleAt  time.Time
	// accessChecked is true once the access chain was checked in this run and no cycle
	// failed on access since.
	accessChecked bool
	// wake interrupts the wait between cycles (a new configuration, resume, offboard).
	wake bool
	// forceSend makes the next cycle send CRM changes even if sent less than an hour ago.
	forceSend bool
	// offboarding is set by UpdateOffboard; finished once the workflow is about to end.
	offboarding, finished bool
	// published is what the search attributes say now (operator.go).
	published searchAttributes
}

func (w *customerSync) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, customersync.QueryStatus, w.status, workflow.QueryHandlerOptions{
		Description: "The customer's sync state: health, phase, next cycle, last cycle, totals, quarantined files, diagnosis and last error.",
	}); err != nil {
		return err
	}
	updates := []struct {
		name, desc string
		handler    any
		validator  any
	}{
		{customersync.UpdateConfigure, "Replace the customer's configuration (role, External ID, bucket, region, KMS key, CRM, poll interval, ack mode, concurrency). Invalid values are rejected before they reach history.",
			w.configure, w.validateConfig},
		{customersync.UpdateSyncNow, "Start a sync cycle now and return its summary when it is done. Refused while paused or offboarding.",
			w.syncNowAndWait, w.validateActive},
		{customersync.UpdatePause, "Pause the customer: no cycles run until resume. The cycle in flight finishes. Takes a reason.",
			w.pause, w.validatePause},
		{customersync.UpdateResume, "Resume a paused customer: re-checks access and runs a cycle at once.",
			w.resume, w.validateResume},
		{customersync.UpdateCheck, "Walk the access chain (AssumeRole, S3 list, S3 get, KMS DescribeKey, CRM) and name the first broken link. Writes nothing to ACE's folders.",
			w.check, w.validateNotStopping},
		{customersync.UpdateRedrive, "Retry quarantined files (one key, or all) after a fix, and return that cycle's summary.",
			w.redrive, w.validateRedrive},
		{customersync.UpdateOffboard, "Let the cycle in flight finish, then end the workflow cleanly. Enrolling again later starts afresh.",
			w.offboard, w.validateNotStopping},
		{customersync.UpdateForceSend, "Run a cycle now that sends every pending CRM change to ACE, even records sent less than an hour ago (AWS asks for at most one document per record per hour: use sparingly).",
			w.forceSendNow, w.validateInbound},
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler, workflow.UpdateHandlerOptions{
			Validator: u.validator, Description: u.desc,
		}); err != nil {
			return err
		}
	}
	syncNow := workflow.GetSignalChannelWithOptions(ctx, customersync.SignalSyncNow, workflow.SignalChannelOptions{
		Description: "Start a sync cycle now instead of waiting for the poll interval (ignored while paused).",
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		for syncNow.Receive(ctx, nil) {
			if !w.state.Paused && !w.offboarding {
				w.requestSync()
			}
		}
	})
	return nil
}

func (w *customerSync) status() (customersync.Status, error) {
	cfg := w.cfg
	cfg.ExternalID = "" // not secret per AWS, but nobody needs to see it
	return customersync.Status{
		Customer: cfg.Customer, Env: cfg.Env, Phase: w.phase, Health: w.state.Health(),
		NextCycleAt: w.nextCycleAt, Config: cfg, State: w.state,
	}, nil
}

// requestSync asks for a cycle at once; after an access failure it re-checks access first.
func (w *customerSync) requestSync() {
	w.state.SyncRequested = true
	if w.state.AccessBroken {
		w.accessChecked = false
	}
}

func (w *customerSync) validateConfig(ctx workflow.Context, cfg customersync.CustomerConfig) error {
	if err := w.validateNotStopping(ctx); err != nil {
		return err
	}
	cfg = w.merge(cfg)
	if cfg.Customer != w.cfg.Customer || cfg.Env != w.cfg.Env {
		return fmt.Errorf("configuration for %s/%s sent to the workflow of %s/%s", cfg.Customer, cfg.Env, w.cfg.Customer, w.cfg.Env)
	}
	return cfg.Validate()
}

// merge completes a new configuration: an empty External ID keeps the current one, since
// status never shows it and `starter configure` cannot send it back.
func (w *customerSync) merge(cfg customersync.CustomerConfig) customersync.CustomerConfig {
	if cfg.ExternalID == "" {
		cfg.ExternalID = w.cfg.ExternalID
	}
	return cfg.WithDefaults()
}

func (w *customerSync) configure(ctx workflow.Context, cfg customersync.CustomerConfig) (customersync.Status, error) {
	w.cfg = w.merge(cfg)
	w.accessChecked = false // a new role, bucket, key or CRM: check the chain again
	w.wake = true
	workflow.GetLogger(ctx).Info("configuration updated")
	return w.status()
}

func (w *customerSync) validateNotStopping(workflow.Context) error {
	if w.offboarding {
		return errors.New("the customer is being offboarded")
	}
	return nil
}

func (w *customerSync) validateActive(ctx workflow.Context) error {
	if err := w.validateNotStopping(ctx); err != nil {
		return err
	}
	if w.state.Paused {
		return fmt.Errorf("the customer is paused (%s): resume it first", w.state.PauseReason)
	}
	return nil
}

func (w *customerSync) validatePause(ctx workflow.Context, req customersync.PauseRequest) error {
	if err := w.validateNotStopping(ctx); err != nil {
		return err
	}
	if w.state.Paused {
		return fmt.Errorf("the customer is already paused since %s (%s)", w.state.PausedAt.UTC().Format(time.RFC3339), w.state.PauseReason)
	}
	if req.Reason == "" {
		return errors.New("say why the customer is paused (a reason is required; no personal data)")
	}
	if len(req.Reason) > 500 {
		return errors.New("the pause reason is longer than 500 characters")
	}
	return nil
}

func (w *customerSync) pause(ctx workflow.Context, req customersync.PauseRequest) (customersync.Status, error) {
	w.state.Paused, w.state.PauseReason, w.state.PausedAt = true, req.Reason, workflow.Now(ctx)
	w.state.SyncRequested = false
	w.wake = true
	w.publish(ctx)
	return w.status()
}

func (w *customerSync) validateResume(ctx workflow.Context) error {
	if err := w.validateNotStopping(ctx); err != nil {
		return err
	}
	if !w.state.Paused {
		return errors.New("the customer is not paused")
	}
	return nil
}

func (w *customerSync) resume(ctx workflow.Context) (customersync.Status, error) {
	w.state.Paused, w.state.PauseReason, w.state.PausedAt = false, "", time.Time{}
	w.accessChecked = false
	w.requestSync()
	w.publish(ctx)
	return w.status()
}

func (w *customerSync) syncNowAndWait(ctx workflow.Context) (customersync.CycleSummary, error) {
	return w.awaitNextCycle(ctx)
}

// awaitNextCycle requests a cycle and waits for it. A cycle already running may have listed
// the bucket before the request: it waits for the one after it.
func (w *customerSync) awaitNextCycle(ctx workflow.Context) (customersync.CycleSummary, error) {
	target := w.state.Cycles + 1
	if w.phase == customersync.PhaseSyncing {
		target++
	}
	w.requestSync()
	if err := workflow.Await(ctx, func() bool { return w.state.Cycles >= target || w.finished }); err != nil {
		return customersync.CycleSummary{}, err
	}
	if w.state.Cycles < target {
		return customersync.CycleSummary{}, errors.New("the customer was offboarded before the cycle ran")
	}
	return *w.state.LastCycle, nil
}

func (w *customerSync) validateInbound(ctx workflow.Context) error {
	if err := w.validateActive(ctx); err != nil {
		return err
	}
	if w.cfg.SpmsID == "" {
		return errors.New("the customer has no spmsId configured: CRM changes are not sent to ACE")
	}
	return nil
}

func (w *customerSync) forceSendNow(ctx workflow.Context) (customersync.CycleSummary, error) {
	w.forceSend = true
	return w.awaitNextCycle(ctx)
}

func (w *customerSync) check(ctx workflow.Context) (customersync.CheckReport, error) {
	rep, err := w.runCheck(ctx)
	if err != nil {
		return rep, err
	}
	if rep.OK() && w.state.AccessBroken {
		w.requestSync() // fixed: sync at once rather than at the end of the back-off
	}
	return rep, nil
}

func (w *customerSync) validateRedrive(ctx workflow.Context, req customersync.RedriveRequest) error {
	if err := w.validateActive(ctx); err != nil {
		return err
	}
	if len(w.state.Quarantine) == 0 {
		return errors.New("no file is quarantined")
	}
	if req.File != "" && !slices.ContainsFunc(w.state.Quarantine, func(q customersync.QuarantinedFile) bool { return q.Key == req.File }) {
		return fmt.Errorf("%s is not quarantined (status lists the %d quarantined files)", req.File, len(w.state.Quarantine))
	}
	return nil
}

func (w *customerSync) redrive(ctx workflow.Context, req customersync.RedriveRequest) (customersync.CycleSummary, error) {
	for _, q := range w.state.Quarantine {
		if req.File == "" || q.Key == req.File {
			w.state.Redriven = append(w.state.Redriven, q.Key) // listed again even behind a tag mark
		}
	}
	if req.File == "" {
		w.state.Quarantine = nil
	} else {
		w.unquarantine(req.File)
	}
	return w.awaitNextCycle(ctx)
}

func (w *customerSync) offboard(ctx workflow.Context) (customersync.Status, error) {
	w.offboarding = true
	w.wake = true
	if err := workflow.Await(ctx, func() bool { return w.finished }); err != nil {
		return customersync.Status{}, err
	}
	return w.status()
}

func (w *customerSync) run(ctx workflow.Context) error {
	w.publish(ctx)
	for {
		if w.offboarding {
			return w.finish(ctx)
		}
		truncated := false
		if !w.state.Paused {
			w.state.SyncRequested = false
			truncated = w.runCycle(ctx)
			w.cyclesInRun++
			w.publish(ctx)
		}
		if w.offboarding {
			return w.finish(ctx)
		}
		if w.shouldContinueAsNew(ctx) {
			// Serve a request that waits on a cycle before handing over; otherwise let
			// every handler finish so none is lost with this run.
			_ = workflow.Await(ctx, func() bool {
				return w.state.SyncRequested || w.offboarding || workflow.AllHandlersFinished(ctx)
			})
			if !w.state.SyncRequested && !w.offboarding {
				return workflow.NewContinueAsNewError(ctx, CustomerSync, customersync.SyncInput{Config: w.cfg, State: w.state, CyclesPerRun: w.cyclesPerRun})
			}
			continue
		}
		if truncated && w.state.LastCycle.OK() && !w.state.Paused {
			continue // a backlog: take the next slice right away
		}
		if err := w.wait(ctx); err != nil {
			return err
		}
	}
}

// finish ends the workflow after offboarding, once every handler is done.
func (w *customerSync) finish(ctx workflow.Context) error {
	w.phase = customersync.PhaseStopping
	w.finished = true
	workflow.SetCurrentDetails(ctx, "Offboarded: no more cycles. Enroll again to resume syncing.")
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	workflow.GetLogger(ctx).Info("customer offboarded")
	return nil
}

func (w *customerSync) shouldContinueAsNew(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return w.cyclesInRun >= w.cyclesPerRun || info.GetContinueAsNewSuggested()
}

// wait sleeps until the next cycle is due, a sync-now arrives or an operator's message needs
// the loop; while paused it waits for resume or offboard only.
func (w *customerSync) wait(ctx workflow.Context) error {
	w.wake = false
	if w.state.Paused {
		w.phase, w.nextCycleAt = customersync.PhasePaused, time.Time{}
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("Paused since %s: %s. Resume to sync again.",
			w.state.PausedAt.UTC().Format(time.RFC3339), w.state.PauseReason))
		return workflow.Await(ctx, func() bool { return !w.state.Paused || w.offboarding })
	}
	d := w.nextDelay()
	w.phase = customersync.PhaseWaiting
	w.nextCycleAt = workflow.Now(ctx).Add(d)
	workflow.SetCurrentDetails(ctx, w.waitingDetails())
	_, err := workflow.AwaitWithTimeout(ctx, d, func() bool { return w.state.SyncRequested || w.wake })
	return err
}

// nextDelay is the poll interval with a ±10% jitter derived from the workflow ID and cycle
// number (deterministic on replay, yet spreading thousands of customers apart), or a capped
// exponential back-off after failed cycles.
func (w *customerSync) nextDelay() time.Duration {
	base := w.cfg.PollInterval
	if (len(w.state.Pending) > 0 || w.state.AwaitingInCRM > 0) && w.cfg.ResultPollInterval < base {
		base = w.cfg.ResultPollInterval // ACE answers inbound files within minutes
	}
	if n := w.state.ConsecutiveFailures; n > 0 {
		limit := max(base, maxBackoff)
		for i := 1; i < n && base < limit; i++ {
			base *= 2
		}
		base = min(base, limit)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(w.cfg.Customer + "/" + string(w.cfg.Env) + "/" + strconv.Itoa(w.state.Cycles)))
	spread := int64(base / 5)
	if spread <= 0 {
		return base
	}
	return base - base/10 + time.Duration(h.Sum64()%uint64(spread))
}

func (w *customerSync) target() customersync.Target {
	return customersync.Target{
		Customer: w.cfg.Customer, Env: string(w.cfg.Env), RoleARN: w.cfg.RoleARN,
		ExternalID: w.cfg.ExternalID, Bucket: w.cfg.Bucket, Region: w.cfg.Region,
	}
}

// Activity options: every activity has a timeout and a retry policy; errors no retry can
// cure (bad files, access denied) are not retried.
var (
	checkOptions = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 4, NonRetryableErrorTypes: customersync.NonRetryableErrors},
		Summary: "check the access chain",
	}
	listOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 5, NonRetryableErrorTypes: customersync.NonRetryableErrors},
		Summary: "list outbound folders",
	}
	syncFileOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		// A worker killed mid-file is noticed within the heartbeat timeout, not the
		// start-to-close timeout, and the file is retried on another worker.
		HeartbeatTimeout: 20 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 2 * time.Minute, MaximumAttempts: 8, NonRetryableErrorTypes: customersync.NonRetryableErrors},
	}
)

// runCheck runs the Check activity and records what it found.
func (w *customerSync) runCheck(ctx workflow.Context) (customersync.CheckReport, error) {
	var rep customersync.CheckReport
	cctx := workflow.WithActivityOptions(ctx, checkOptions)
	err := workflow.ExecuteActivity(cctx, act.Check, customersync.CheckInput{
		Target: w.target(), KMSKeyARN: w.cfg.KMSKeyARN, CRM: w.cfg.CRM, Folders: outboundFolders, Transport: w.checkTransport(),
	}).Get(ctx, &rep)
	if err != nil {
		return rep, err
	}
	w.accessChecked = rep.OK()
	w.recordCheck(rep)
	w.publish(ctx)
	return rep, nil
}

// runCycle runs one sync cycle and records its summary. It reports whether the listing was
// truncated (more files wait).
func (w *customerSync) runCycle(ctx workflow.Context) (truncated bool) {
	w.phase = customersync.PhaseSyncing
	w.nextCycleAt = time.Time{}
	sum := customersync.CycleSummary{Number: w.state.Cycles + 1, StartedAt: workflow.Now(ctx)}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Cycle #%d: listing %s and %s in bucket %s.",
		sum.Number, ace.FolderOpportunityOutbound, ace.FolderLeadOutbound, w.cfg.Bucket))
	defer func() { w.finishCycle(ctx, sum) }()

	// At enrollment, after a configuration change and after a failure on access, walk the
	// access chain first so a broken link is named precisely.
	if !w.accessChecked {
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("Cycle #%d: checking access (role, bucket, key, CRM).", sum.Number))
		rep, err := w.runCheck(ctx)
		if err != nil {
			sum.Errors = append(sum.Errors, "access check: "+errorText(err))
			return false
		}
		if !rep.OK() {
			sum.Errors = append(sum.Errors, rep.Diagnosis)
			return false
		}
	}

	t := w.target()
	if w.cfg.Transport == customersync.TransportAPI && workflow.GetVersion(ctx, versionSellingAPI, workflow.DefaultVersion, 1) >= 1 {
		return w.cycleSelling(ctx, t, &sum) // the Selling API transport (selling.go)
	}
	if workflow.GetVersion(ctx, versionBatches, workflow.DefaultVersion, 1) >= 1 {
		return w.cycleBatched(ctx, t, &sum)
	}
	var list customersync.ListResult
	lctx := workflow.WithActivityOptions(ctx, listOptions)
	err := workflow.ExecuteActivity(lctx, act.ListOutbound, customersync.ListInput{
		Target: t, Folders: outboundFolders, MaxObjects: customersync.DefaultMaxFilesPerList, Skip: w.skipSet(),
	}).Get(ctx, &list)
	if err != nil {
		sum.Errors = append(sum.Errors, errorText(err))
		w.onAccessError(ctx, err)
		return false
	}
	for _, key := range list.Missing {
		delete(w.state.Acked, key)
		w.unquarantine(key)
	}
	w.state.Redriven = nil // the per-file path keeps no tag marks: every key is listed
	if len(list.Objects) > 0 {
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("Cycle #%d: syncing %d files from bucket %s into the CRM.",
			sum.Number, len(list.Objects), w.cfg.Bucket))
	}
	w.syncFiles(ctx, t, list.Objects, &sum)
	if w.cfg.SpmsID != "" && sum.OK() {
		w.inbound(ctx, t, &sum)
	}
	return list.Truncated
}

var (
	sendOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 6, NonRetryableErrorTypes: customersync.NonRetryableErrors},
		Summary: "send CRM changes to ACE",
	}
	resultsOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 6, NonRetryableErrorTypes: customersync.NonRetryableErrors},
		Summary: "read ACE's results",
	}
	noAnswerOptions = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 6, NonRetryableErrorTypes: customersync.NonRetryableErrors},
		Summary: "mark unanswered records",
	}
)

// maxNoAnswer bounds the list of unanswered files kept for status.
const maxNoAnswer = 100

// inbound sends the CRM's changes to ACE, reads the results of files awaiting one (only
// while some are pending: an idle customer costs no extra S3 request), and marks files ACE
// never answered. It is the inbound part of a cycle before versionBatches.
func (w *customerSync) inbound(ctx workflow.Context, t customersync.Target, sum *customersync.CycleSummary) {
	w.sendChanges(ctx, t, sum)
	if len(w.state.Pending) > 0 {
		w.collectResults(ctx, t, sum, false)
	}
	w.expireUnanswered(ctx, t, sum, false)
}

// sendChanges runs SendChanges and records the files sent as pending.
func (w *customerSync) sendChanges(ctx workflow.Context, t customersync.Target, sum *customersync.CycleSummary) {
	force := w.forceSend
	w.forceSend = false
	var sent customersync.SendResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, sendOptions), act.SendChanges, customersync.SendInput{
		Target: t, CRM: w.cfg.CRM, SpmsID: w.cfg.SpmsID, KMSKeyARN: w.cfg.KMSKeyARN, After: w.state.Watermarks,
		Limit: customersync.DefaultChangesPerCycle, RecordsPerFile: w.cfg.RecordsPerFile, Force: force,
	}).Get(ctx, &sent)
	if err != nil {
		sum.Errors = append(sum.Errors, "send CRM changes: "+errorText(err))
		w.onAccessError(ctx, err)
		return
	}
	w.state.Watermarks = sent.After
	now := workflow.Now(ctx)
	for _, f := range sent.Sent {
		w.state.Pending = append(w.state.Pending, customersync.PendingFile{SentFile: f, SentAt: now})
		sum.Counts.Sent += len(f.Records)
	}
	sum.Counts.Invalid += sent.Invalid
	sum.AddFailedRecords(sent.RecordErrors, sent.FailedRecords)
}

// collectResults runs CollectResults for the pending files.
// With fromCRM (versionDurableInbound) it also reads the results of the files the CRM holds
// records as sent in.
func (w *customerSync) collectResults(ctx workflow.Context, t customersync.Target, sum *customersync.CycleSummary, fromCRM bool) {
	var res customersync.ResultsOutput
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, resultsOptions), act.CollectResults, customersync.ResultsInput{
		Target: t, CRM: w.cfg.CRM, Pending: w.pendingFiles(), Folders: w.resultsFolders(), FromCRM: fromCRM,
	}).Get(ctx, &res)
	if err != nil {
		sum.Errors = append(sum.Errors, "read ACE results: "+errorText(err))
		w.onAccessError(ctx, err)
		return
	}
	w.state.Pending = slices.DeleteFunc(w.state.Pending, func(p customersync.PendingFile) bool { return slices.Contains(res.Resolved, p.Key) })
	sum.Counts.Accepted += res.Accepted
	sum.Counts.Rejected += res.Rejected
	sum.UnmatchedResults += res.Unknown
	sum.AddFailedRecords(res.RecordErrors, res.FailedRecords)
	if res.Retrying > 0 {
		sum.Errors = append(sum.Errors, fmt.Sprintf("read ACE results: the CRM could not write ACE's answer to %d records now "+
			"(a transient error); their result files are kept and read again next cycle", res.Retrying))
	}
}

// expireUnanswered marks the records of files ACE has not answered within ResultTimeout.
// With fromCRM (versionDurableInbound: the poll found a record the CRM holds as sent longer
// than that) the activity also marks the records the CRM holds as sent too long ago.
func (w *customerSync) expireUnanswered(ctx workflow.Context, t customersync.Target, sum *customersync.CycleSummary, fromCRM bool) {
	var expired []customersync.SentFile
	now := workflow.Now(ctx)
	for _, p := range w.state.Pending {
		if now.Sub(p.SentAt) >= w.cfg.ResultTimeout {
			expired = append(expired, p.SentFile)
		}
	}
	if len(expired) == 0 && !fromCRM {
		return
	}
	in := customersync.NoAnswerInput{Target: t, CRM: w.cfg.CRM, Files: expired}
	if fromCRM {
		in.FromCRM, in.Timeout = true, w.cfg.ResultTimeout
	}
	var n int
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, noAnswerOptions), act.MarkNoAnswer, in).Get(ctx, &n)
	if err != nil {
		sum.Errors = append(sum.Errors, "mark unanswered records: "+errorText(err))
		return
	}
	sum.Counts.NoAnswer += n
	w.state.Pending = slices.DeleteFunc(w.state.Pending, func(p customersync.PendingFile) bool {
		if now.Sub(p.SentAt) >= w.cfg.ResultTimeout {
			w.state.NoAnswer = append(w.state.NoAnswer, p)
			return true
		}
		return false
	})
	if n := len(w.state.NoAnswer); n > maxNoAnswer {
		w.state.NoAnswer = slices.Clone(w.state.NoAnswer[n-maxNoAnswer:])
	}
}

func (w *customerSync) pendingFiles() []customersync.SentFile {
	files := make([]customersync.SentFile, len(w.state.Pending))
	for i, p := range w.state.Pending {
		files[i] = p.SentFile
	}
	return files
}

// onAccessError re-checks the access chain after an access failure, so that the status and
// the UI name the broken link rather than one failed call.
func (w *customerSync) onAccessError(ctx workflow.Context, err error) {
	if !isAccessError(err) {
		return
	}
	rep, cerr := w.runCheck(ctx)
	if cerr != nil || rep.OK() {
		// The check could not run, or every link it tests works (the failed call needed a
		// permission the check does not exercise): the failed call is the diagnosis.
		w.recordAccessError(err)
	}
	w.accessChecked = false
}

// syncFiles runs one SyncFile activity per file, at most FileConcurrency at a time.
func (w *customerSync) syncFiles(ctx workflow.Context, t customersync.Target, files []customersync.ObjectRef, sum *customersync.CycleSummary) {
	fctx := workflow.WithActivityOptions(ctx, syncFileOptions)
	sel := workflow.NewSelector(ctx)
	running := 0
	var accessErr error
	for i, f := range files {
		opts := syncFileOptions
		opts.Summary = "sync " + f.Key
		fut := workflow.ExecuteActivity(workflow.WithActivityOptions(fctx, opts), act.SyncFile, customersync.SyncFileInput{
			Target: t, CRM: w.cfg.CRM, Object: f, Ack: w.cfg.AckMode,
		})
		running++
		sel.AddFuture(fut, func(fut workflow.Future) {
			running--
			var res customersync.SyncFileResult
			if err := w.recordFile(ctx, f, fut.Get(ctx, &res), res, sum); isAccessError(err) {
				accessErr = err
			}
		})
		for running >= w.cfg.FileConcurrency || (i == len(files)-1 && running > 0) {
			sel.Select(ctx)
		}
	}
	if accessErr != nil {
		w.onAccessError(ctx, accessErr)
	}
}

// recordFile adds one file's outcome to the cycle summary and the workflow state. It returns
// the error that stopped the file, if any, unless the file was quarantined.
func (w *customerSync) recordFile(ctx workflow.Context, f customersync.ObjectRef, err error, res customersync.SyncFileResult, sum *customersync.CycleSummary) error {
	var appErr *temporal.ApplicationError
	if err != nil && errors.As(err, &appErr) && appErr.Type() == customersync.ErrBadFile {
		if appErr.HasDetails() {
			_ = appErr.Details(&res)
		}
		sum.Counts = sum.Counts.Add(counts(res))
		sum.Counts.Quarantined++
		w.quarantine(customersync.QuarantinedFile{Key: f.Key, ETag: f.ETag, Reason: appErr.Message(), At: workflow.Now(ctx)})
		return nil
	}
	if err != nil {
		sum.Errors = append(sum.Errors, fmt.Sprintf("%s: %s", f.Key, errorText(err)))
		return err
	}
	w.unquarantine(f.Key)
	if res.Gone {
		return nil
	}
	sum.Counts = sum.Counts.Add(counts(res))
	if w.cfg.AckMode == customersync.AckTag && res.Acked {
		w.state.Acked[f.Key] = res.ETag
	}
	return nil
}

func counts(r customersync.SyncFileResult) customersync.Counts {
	return customersync.Counts{Files: 1, Records: r.Records, Inserted: r.Inserted, Updated: r.Updated, Unchanged: r.Unchanged, Stale: r.Stale}
}

func (w *customerSync) finishCycle(ctx workflow.Context, sum customersync.CycleSummary) {
	sum.FinishedAt = workflow.Now(ctx)
	metrics.CycleFinished(workflow.GetMetricsHandler(ctx), sum.StartedAt, sum.FinishedAt, sum.OK())
	w.state.Cycles = sum.Number
	w.state.Totals = w.state.Totals.Add(sum.Counts)
	w.state.LastCycle = &sum
	if sum.OK() {
		w.state.ConsecutiveFailures = 0
		w.state.LastSuccessAt = sum.FinishedAt
		w.state.LastError = ""
		w.state.AccessBroken, w.state.Diagnosis = false, ""
		return
	}
	w.state.ConsecutiveFailures++
	w.state.LastError = sum.Errors[0]
	// The errors' text is left to the status query: it can hold a CRM's message quoting a
	// record's values (a refused e-mail), which a log line must not carry.
	workflow.GetLogger(ctx).Warn("sync cycle failed (starter status shows the errors)", "cycle", sum.Number,
		"errors", len(sum.Errors), "health", string(w.state.Health()))
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

func (w *customerSync) quarantine(q customersync.QuarantinedFile) {
	w.unquarantine(q.Key)
	w.state.Quarantine = append(w.state.Quarantine, q)
	if n := len(w.state.Quarantine); n > maxQuarantine {
		w.state.Quarantine = slices.Clone(w.state.Quarantine[n-maxQuarantine:])
	}
}

func (w *customerSync) unquarantine(key string) {
	w.state.Quarantine = slices.DeleteFunc(w.state.Quarantine, func(q customersync.QuarantinedFile) bool { return q.Key == key })
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
	return errors.As(err, &appErr) && (appErr.Type() == customersync.ErrAccessDenied ||
		appErr.Type() == customersync.ErrBucketMissing || appErr.Type() == customersync.ErrCRMConfig)
}
