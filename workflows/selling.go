package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/customersync"
)

// versionSellingAPI is the change that runs the cycle of a customer on the Partner Central
// Selling API (CustomerConfig.Transport == TransportAPI) with PullOpportunities and
// PushChanges instead of the S3 transport's poll, batches and inbound files. It is asked
// only for API customers, so S3 customers' histories carry no marker for it.
const versionSellingAPI = "selling-api-transport"

// apiChangesPerCycle caps the CRM changes one PushChanges sends: a create costs up to five
// writes (create, three associations, submission) and a partner account has one write a
// second, so 50 changes take a few minutes, well inside pushOptions' timeout.
const apiChangesPerCycle = 50

var (
	// pullOptions: two reads per opportunity at 10 reads a second, 100 opportunities per
	// activity; it heartbeats per record.
	pullOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         retryPolicy(2*time.Second, 2*time.Minute, 8),
		Summary:             "pull opportunities from the Selling API",
	}
	// pushOptions: throttling past the client's backoff is a retryable error: retried
	// here with a longer back-off, then the cycle fails and backs off; never a broken link.
	pushOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         retryPolicy(5*time.Second, 2*time.Minute, 8),
		Summary:             "push CRM changes to the Selling API",
	}
)

func init() {
	linkAdvice[customersync.BrokenLinkListOpportunities] = "The Selling API refuses the role. Check that the Partner Central policy " +
		"(AWSPartnerCentralOpportunityManagement or equivalent) is attached to the customer's role and that the catalog matches the environment."
}

// cycleSelling is the body of a cycle on the Selling API: one PullOpportunities (ACE →
// CRM, AWS's referrals included) and, when the inbound direction is on (SpmsID) and the
// pull found CRM changes due, one PushChanges (CRM → ACE, answered at once: nothing
// awaits a result). It reports whether
// more remains (more opportunities past the pull's bound, or more CRM changes), so the
// loop runs the next cycle at once.
func (w *customerSync) cycleSelling(ctx workflow.Context, cfg *customersync.CustomerConfig, t customersync.Target, sum *customersync.CycleSummary) bool {
	st := &w.state.API
	if !st.Seeded {
		// A customer moving from S3 starts at its last S3 sync, less the lag of ACE's hourly
		// export (records read again re-apply as unchanged); a new customer reads all.
		if !w.state.LastSuccessAt.IsZero() {
			st.Watermark = w.state.LastSuccessAt.Add(-customersync.MigrationLookback).UTC()
		}
		st.Seeded = true
	}
	var redrive []string
	for _, k := range w.state.Redriven {
		if strings.HasPrefix(k, customersync.APIQuarantinePrefix) {
			redrive = append(redrive, k)
		}
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Cycle #%d: reading opportunities changed since %s from the Selling API (catalog %s).",
		sum.Number, st.Watermark.Format(time.RFC3339), cfg.Env.Catalog()))
	in := customersync.PullInput{
		Target: t, CRM: cfg.CRM, After: st.Watermark, AtWatermark: st.AtWatermark,
		Max: customersync.DefaultOpportunitiesPerPull, Referrals: true, Redrive: redrive,
	}
	if cfg.SpmsID != "" {
		// The pull asks the CRM whether changes are due, so an idle cycle is a timer and
		// one activity, as an S3 cycle is a timer and one poll.
		in.Inbound = &customersync.PullInbound{After: w.state.Watermarks, Force: w.forceSend}
	}
	var pull customersync.PullResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, pullOptions), act.PullOpportunities, in).Get(ctx, &pull)
	if err != nil {
		sum.Errors = append(sum.Errors, "pull opportunities: "+errorText(err))
		w.onAccessError(ctx, cfg, err)
		return false
	}
	w.state.Redriven = slices.DeleteFunc(w.state.Redriven, func(k string) bool { return strings.HasPrefix(k, customersync.APIQuarantinePrefix) })
	st.Watermark, st.AtWatermark = pull.Watermark, pull.AtWatermark
	sum.Counts = sum.Counts.Add(customersync.Counts{Records: pull.Records, Inserted: pull.Inserted, Updated: pull.Updated,
		Unchanged: pull.Unchanged, Stale: pull.Stale, Quarantined: len(pull.Quarantined), Rejected: pull.Conflicts})
	now := workflow.Now(ctx)
	for _, k := range pull.Handled {
		w.unquarantine(k)
	}
	for _, q := range pull.Quarantined {
		w.quarantine(customersync.QuarantinedFile{Key: q.Key, ETag: q.ETag, Reason: q.Reason, At: now})
	}
	more := pull.More
	if cfg.SpmsID != "" && pull.Changes {
		more = w.pushChanges(ctx, cfg, t, sum) || more
	}
	w.forceSend = false
	return more
}

// pushChanges runs PushChanges and records its outcome; it reports whether changes remain.
func (w *customerSync) pushChanges(ctx workflow.Context, cfg *customersync.CustomerConfig, t customersync.Target, sum *customersync.CycleSummary) bool {
	force := w.forceSend
	w.forceSend = false
	var res customersync.PushResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, pushOptions), act.PushChanges, customersync.PushInput{
		Target: t, CRM: cfg.CRM, After: w.state.Watermarks, Limit: apiChangesPerCycle, Force: force,
	}).Get(ctx, &res)
	if err != nil {
		sum.Errors = append(sum.Errors, "push CRM changes: "+errorText(err))
		w.onAccessError(ctx, cfg, err)
		return false
	}
	before := w.state.Watermarks[string(ace.ObjectOpportunity)]
	w.state.Watermarks = res.After
	accepted := res.Created + res.Updated + res.Answered
	sum.Counts.Sent += accepted + res.Rejected
	sum.Counts.Accepted += accepted + res.Recovered
	sum.Counts.Rejected += res.Rejected
	sum.Counts.Invalid += res.Invalid
	sum.AddFailedRecords(res.RecordErrors, res.FailedRecords)
	// More changes wait: the next cycle runs at once, unless this one moved nothing (changes
	// held back by the hourly rule wait for the poll interval).
	return res.More && res.After[string(ace.ObjectOpportunity)] > before
}

// checkTransport is what Check walks: the Selling API for an API customer, else (empty,
// as before the API transport) the bucket and key.
func checkTransport(cfg *customersync.CustomerConfig) customersync.Transport {
	if cfg.Transport == customersync.TransportAPI {
		return customersync.TransportAPI
	}
	return ""
}
