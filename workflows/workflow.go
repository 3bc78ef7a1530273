// Package workflows holds OppSync's Temporal workflows. CustomerSync is the one long-running
// workflow per customer and environment. Workflow code must stay deterministic: no I/O, no
// clocks but workflow.Now, no randomness but what is derived from history; replay tests in
// this package guard that.
package workflows

import (
	"fmt"
	"hash/fnv"
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

// versionCycleSnapshot is the change that runs each cycle on a snapshot of the
// configuration taken at its start (a configure landing mid-cycle applies from the next
// cycle) and runs an operator's check between cycles rather than beside one. Runs started
// before it keep reading the configuration live, and run a check at once, until they
// continue as new.
const versionCycleSnapshot = "cycle-config-snapshot"

// act is only used for method references; the worker registers the real *Activities.
var act *activities.Activities

var outboundFolders = []string{ace.FolderOpportunityOutbound, ace.FolderLeadOutbound}

// CustomerSync keeps one customer's ACE bucket (in one environment) in sync with its CRM:
// each cycle lists the outbound folders, syncs every new file into the CRM, acknowledges it,
// then waits for the poll interval (with jitter), a sync-now or an operator's message. A
// failing cycle never fails the workflow: the error is recorded in the status and the next
// cycle backs off. Operators steer it with the updates named in package customersync.
func CustomerSync(ctx workflow.Context, in customersync.SyncInput) error {
	w := &customerSync{cfg: in.Config.WithDefaults(), state: in.State, cyclesPerRun: in.CyclesPerRun,
		exclusive: workflow.NewMutex(ctx)}
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
	// exclusive is held by a cycle and by an operator's check (since versionCycleSnapshot):
	// one runs at a time. checksWaiting counts the checks waiting for it.
	exclusive     workflow.Mutex
	checksWaiting int
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
			truncated = w.cycle(ctx)
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

// cycle runs one sync cycle. Since versionCycleSnapshot the cycle runs on a snapshot of the
// configuration taken at its start, so that a configure landing mid-cycle cannot switch it
// to another bucket or CRM halfway; the next cycle, on the new configuration, then starts at
// once. It also holds w.exclusive, so that an operator's check runs between cycles, never
// beside one (a check waiting goes first). Runs started before keep reading the
// configuration live, as their histories were recorded.
func (w *customerSync) cycle(ctx workflow.Context) (truncated bool) {
	if workflow.GetVersion(ctx, versionCycleSnapshot, workflow.DefaultVersion, 1) < 1 {
		return w.runCycle(ctx, &w.cfg)
	}
	if err := workflow.Await(ctx, func() bool { return w.checksWaiting == 0 }); err != nil {
		return false
	}
	if err := w.exclusive.Lock(ctx); err != nil {
		return false
	}
	defer w.exclusive.Unlock()
	w.state.SyncRequested = false // a request made while a check held the cycle back: this cycle serves it
	cfg := w.cfg
	truncated = w.runCycle(ctx, &cfg)
	if cfg != w.cfg && !w.state.Paused && !w.offboarding {
		w.requestSync()
	}
	return truncated
}

// runCycle runs one sync cycle on cfg and records its summary; everything under it takes
// the configuration from cfg. It reports whether the listing was truncated (more files
// wait).
func (w *customerSync) runCycle(ctx workflow.Context, cfg *customersync.CustomerConfig) (truncated bool) {
	w.phase = customersync.PhaseSyncing
	w.nextCycleAt = time.Time{}
	sum := customersync.CycleSummary{Number: w.state.Cycles + 1, StartedAt: workflow.Now(ctx)}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Cycle #%d: listing %s and %s in bucket %s.",
		sum.Number, ace.FolderOpportunityOutbound, ace.FolderLeadOutbound, cfg.Bucket))
	defer func() { w.finishCycle(ctx, sum) }()

	// At enrollment, after a configuration change and after a failure on access, walk the
	// access chain first so a broken link is named precisely.
	if !w.accessChecked {
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("Cycle #%d: checking access (role, bucket, key, CRM).", sum.Number))
		rep, err := w.runCheck(ctx, cfg)
		if err != nil {
			sum.Errors = append(sum.Errors, "access check: "+errorText(err))
			return false
		}
		if !rep.OK() {
			sum.Errors = append(sum.Errors, rep.Diagnosis)
			return false
		}
	}

	t := target(cfg)
	if cfg.Transport == customersync.TransportAPI && workflow.GetVersion(ctx, versionSellingAPI, workflow.DefaultVersion, 1) >= 1 {
		return w.cycleSelling(ctx, cfg, t, &sum) // the Selling API transport (selling.go)
	}
	if workflow.GetVersion(ctx, versionBatches, workflow.DefaultVersion, 1) >= 1 {
		return w.cycleBatched(ctx, cfg, t, &sum)
	}
	var list customersync.ListResult
	lctx := workflow.WithActivityOptions(ctx, listOptions)
	err := workflow.ExecuteActivity(lctx, act.ListOutbound, customersync.ListInput{
		Target: t, Folders: outboundFolders, MaxObjects: customersync.DefaultMaxFilesPerList, Skip: w.skipSet(),
	}).Get(ctx, &list)
	if err != nil {
		sum.Errors = append(sum.Errors, errorText(err))
		w.onAccessError(ctx, cfg, err)
		return false
	}
	for _, key := range list.Missing {
		delete(w.state.Acked, key)
		w.unquarantine(key)
	}
	w.state.Redriven = nil // the per-file path keeps no tag marks: every key is listed
	if len(list.Objects) > 0 {
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("Cycle #%d: syncing %d files from bucket %s into the CRM.",
			sum.Number, len(list.Objects), cfg.Bucket))
	}
	w.syncFiles(ctx, cfg, t, list.Objects, &sum)
	if cfg.SpmsID != "" && sum.OK() {
		w.inbound(ctx, cfg, t, &sum)
	}
	return list.Truncated
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

// target is where cfg's files are: the customer's bucket, through its role.
func target(cfg *customersync.CustomerConfig) customersync.Target {
	return customersync.Target{
		Customer: cfg.Customer, Env: string(cfg.Env), RoleARN: cfg.RoleARN,
		ExternalID: cfg.ExternalID, Bucket: cfg.Bucket, Region: cfg.Region,
	}
}
