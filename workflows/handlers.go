package workflows

// The operators' messages: the status query, the sync-now signal, and the updates with their
// validators (a validator refuses an update before it reaches history).

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/customersync"
)

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
		{customersync.UpdateConfigure, "Replace the customer's configuration (transport, role, External ID, bucket, region, KMS key, CRM, poll interval, ack mode, concurrency). Invalid values are rejected before they reach history.",
			w.configure, w.validateConfig},
		{customersync.UpdateSyncNow, "Start a sync cycle now and return its summary when it is done. Refused while paused or offboarding.",
			w.syncNowAndWait, w.validateActive},
		{customersync.UpdatePause, "Pause the customer: no cycles run until resume. The cycle in flight finishes. Takes a reason.",
			w.pause, w.validatePause},
		{customersync.UpdateResume, "Resume a paused customer: re-checks access and runs a cycle at once.",
			w.resume, w.validateResume},
		{customersync.UpdateCheck, "Walk the access chain (AssumeRole; S3 list, S3 get and KMS DescribeKey on S3, or ListOpportunities on the Selling API; the CRM) and name the first broken link. Writes nothing to ACE's folders.",
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
	cfg := &w.cfg // before versionCycleSnapshot: beside the cycle, on the live configuration
	if workflow.GetVersion(ctx, versionCycleSnapshot, workflow.DefaultVersion, 1) >= 1 {
		w.checksWaiting++
		err := w.exclusive.Lock(ctx)
		w.checksWaiting--
		if err != nil {
			return customersync.CheckReport{}, err
		}
		defer w.exclusive.Unlock()
		snapshot := w.cfg
		cfg = &snapshot
	}
	rep, err := w.runCheck(ctx, cfg)
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
