package workflows

// The outbound direction (ACE to the CRM) as runs started before versionBatches do it, one
// SyncFile activity per file, and the quarantine and acknowledgement bookkeeping both outbound
// paths share.

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/customersync"
)

// syncFiles runs one SyncFile activity per file, at most FileConcurrency at a time.
func (w *customerSync) syncFiles(ctx workflow.Context, cfg *customersync.CustomerConfig, t customersync.Target, files []customersync.ObjectRef, sum *customersync.CycleSummary) {
	fctx := workflow.WithActivityOptions(ctx, syncFileOptions)
	sel := workflow.NewSelector(ctx)
	running := 0
	var accessErr error
	for i, f := range files {
		opts := syncFileOptions
		opts.Summary = "sync " + f.Key
		fut := workflow.ExecuteActivity(workflow.WithActivityOptions(fctx, opts), act.SyncFile, customersync.SyncFileInput{
			Target: t, CRM: cfg.CRM, Object: f, Ack: cfg.AckMode,
		})
		running++
		sel.AddFuture(fut, func(fut workflow.Future) {
			running--
			var res customersync.SyncFileResult
			if err := w.recordFile(ctx, cfg, f, fut.Get(ctx, &res), res, sum); isAccessError(err) {
				accessErr = err
			}
		})
		for running >= cfg.FileConcurrency || (i == len(files)-1 && running > 0) {
			sel.Select(ctx)
		}
	}
	if accessErr != nil {
		w.onAccessError(ctx, cfg, accessErr)
	}
}

// recordFile adds one file's outcome to the cycle summary and the workflow state. It returns
// the error that stopped the file, if any, unless the file was quarantined.
func (w *customerSync) recordFile(ctx workflow.Context, cfg *customersync.CustomerConfig, f customersync.ObjectRef, err error, res customersync.SyncFileResult, sum *customersync.CycleSummary) error {
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
	if cfg.AckMode == customersync.AckTag && res.Acked {
		w.state.Acked[f.Key] = res.ETag
	}
	return nil
}

func counts(r customersync.SyncFileResult) customersync.Counts {
	return customersync.Counts{Files: 1, Records: r.Records, Inserted: r.Inserted, Updated: r.Updated, Unchanged: r.Unchanged, Stale: r.Stale}
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
