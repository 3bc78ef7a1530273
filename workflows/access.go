package workflows

// The access chain (role, bucket, key, CRM) and the errors activities return.

import (
	"errors"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/customersync"
)

// runCheck runs the Check activity and records what it found.
func (w *customerSync) runCheck(ctx workflow.Context, cfg *customersync.CustomerConfig) (customersync.CheckReport, error) {
	var rep customersync.CheckReport
	cctx := workflow.WithActivityOptions(ctx, checkOptions)
	err := workflow.ExecuteActivity(cctx, act.Check, customersync.CheckInput{
		Target: target(cfg), KMSKeyARN: cfg.KMSKeyARN, CRM: cfg.CRM, Folders: outboundFolders, Transport: checkTransport(cfg),
	}).Get(ctx, &rep)
	if err != nil {
		return rep, err
	}
	// A check of a configuration replaced meanwhile says nothing of the new one.
	w.accessChecked = rep.OK() && *cfg == w.cfg
	w.recordCheck(rep)
	w.publish(ctx)
	return rep, nil
}

// onAccessError re-checks the access chain after an access failure, so that the status and
// the UI name the broken link rather than one failed call.
func (w *customerSync) onAccessError(ctx workflow.Context, cfg *customersync.CustomerConfig, err error) {
	if !isAccessError(err) {
		return
	}
	rep, cerr := w.runCheck(ctx, cfg)
	if cerr != nil || rep.OK() {
		// The check could not run, or every link it tests works (the failed call needed a
		// permission the check does not exercise): the failed call is the diagnosis.
		w.recordAccessError(err)
	}
	w.accessChecked = false
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
