package workflows

// The inbound direction (the CRM to ACE): send the CRM's changes, read ACE's results, mark
// the files ACE never answered.

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/customersync"
)

// maxNoAnswer bounds the list of unanswered files kept for status.
const maxNoAnswer = 100

// inbound sends the CRM's changes to ACE, reads the results of files awaiting one (only
// while some are pending: an idle customer costs no extra S3 request), and marks files ACE
// never answered. It is the inbound part of a cycle before versionBatches.
func (w *customerSync) inbound(ctx workflow.Context, cfg *customersync.CustomerConfig, t customersync.Target, sum *customersync.CycleSummary) {
	w.sendChanges(ctx, cfg, t, sum)
	if len(w.state.Pending) > 0 {
		w.collectResults(ctx, cfg, t, sum, false)
	}
	w.expireUnanswered(ctx, cfg, t, sum, false)
}

// sendChanges runs SendChanges and records the files sent as pending.
func (w *customerSync) sendChanges(ctx workflow.Context, cfg *customersync.CustomerConfig, t customersync.Target, sum *customersync.CycleSummary) {
	force := w.forceSend
	w.forceSend = false
	var sent customersync.SendResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, sendOptions), act.SendChanges, customersync.SendInput{
		Target: t, CRM: cfg.CRM, SpmsID: cfg.SpmsID, KMSKeyARN: cfg.KMSKeyARN, After: w.state.Watermarks,
		Limit: customersync.DefaultChangesPerCycle, RecordsPerFile: cfg.RecordsPerFile, Force: force,
	}).Get(ctx, &sent)
	if err != nil {
		sum.Errors = append(sum.Errors, "send CRM changes: "+errorText(err))
		w.onAccessError(ctx, cfg, err)
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
func (w *customerSync) collectResults(ctx workflow.Context, cfg *customersync.CustomerConfig, t customersync.Target, sum *customersync.CycleSummary, fromCRM bool) {
	var res customersync.ResultsOutput
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, resultsOptions), act.CollectResults, customersync.ResultsInput{
		Target: t, CRM: cfg.CRM, Pending: w.pendingFiles(), Folders: resultsFolders(cfg), FromCRM: fromCRM,
	}).Get(ctx, &res)
	if err != nil {
		sum.Errors = append(sum.Errors, "read ACE results: "+errorText(err))
		w.onAccessError(ctx, cfg, err)
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
func (w *customerSync) expireUnanswered(ctx workflow.Context, cfg *customersync.CustomerConfig, t customersync.Target, sum *customersync.CycleSummary, fromCRM bool) {
	var expired []customersync.SentFile
	now := workflow.Now(ctx)
	for _, p := range w.state.Pending {
		if now.Sub(p.SentAt) >= cfg.ResultTimeout {
			expired = append(expired, p.SentFile)
		}
	}
	if len(expired) == 0 && !fromCRM {
		return
	}
	in := customersync.NoAnswerInput{Target: t, CRM: cfg.CRM, Files: expired}
	if fromCRM {
		in.FromCRM, in.Timeout = true, cfg.ResultTimeout
	}
	var n int
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, noAnswerOptions), act.MarkNoAnswer, in).Get(ctx, &n)
	if err != nil {
		sum.Errors = append(sum.Errors, "mark unanswered records: "+errorText(err))
		return
	}
	sum.Counts.NoAnswer += n
	w.state.Pending = slices.DeleteFunc(w.state.Pending, func(p customersync.PendingFile) bool {
		if now.Sub(p.SentAt) >= cfg.ResultTimeout {
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

// resultsFolders are cfg's results folders by object.
func resultsFolders(cfg *customersync.CustomerConfig) map[string]string {
	return map[string]string{string(ace.ObjectOpportunity): cfg.OpportunityResults, string(ace.ObjectLead): cfg.LeadResults}
}
