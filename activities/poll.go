package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/temporal"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
)

// Poll finds out what a cycle has to do, reading only: the outbound files to sync (one LIST
// per outbound folder), and, when the customer sends CRM changes to ACE, whether the CRM
// has changes due (one read per object) and whether ACE answered a pending inbound file
// (one LIST per results folder, only while files are pending). It writes nothing, so the
// workflow runs it as a local activity: an idle cycle costs a timer and this poll, two
// Temporal actions, whatever directions are on.
//
// A failure of the inbound part does not fail the poll: the outbound part still runs and
// the reason comes back in InboundError.
func (a *Activities) Poll(ctx context.Context, in customersync.PollInput) (customersync.PollResult, error) {
	var res customersync.PollResult
	list, err := a.ListOutbound(ctx, in.List)
	if err != nil {
		return res, err
	}
	res.ListResult = list
	if in.Inbound == nil {
		return res, nil
	}
	if err := a.pollInbound(ctx, in.List.Target, *in.Inbound, &res); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		res.InboundError = errorMessage(err)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NonRetryable() {
			res.InboundErrorType = appErr.Type()
		}
	}
	return res, nil
}

func (a *Activities) pollInbound(ctx context.Context, t customersync.Target, in customersync.PollInbound, res *customersync.PollResult) error {
	store, err := a.inboundStore(ctx, in.CRM)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, obj := range inboundObjects {
		changes, err := store.Changes(ctx, obj, crm.Watermark(in.After[string(obj)]), pollChanges)
		if err != nil {
			return crmError(t, fmt.Sprintf("read %s changes from the CRM", obj), err)
		}
		if slices.ContainsFunc(changes, func(ch crm.Change) bool { return due(ch, now, in.Force) }) {
			res.Changes = true
			break
		}
	}
	pending := map[string]bool{}
	var folders []string
	addFolder := func(obj ace.Object) {
		if f := in.Folders[string(obj)]; f != "" && !slices.Contains(folders, f) {
			folders = append(folders, f)
		}
	}
	for _, key := range in.Pending {
		pending[inboundName(key)] = true
		obj := ace.ObjectOpportunity
		if len(key) >= len(ace.FolderLeadInbound) && key[:len(ace.FolderLeadInbound)] == ace.FolderLeadInbound {
			obj = ace.ObjectLead
		}
		addFolder(obj)
	}
	if in.FromCRM {
		// The CRM's sent records are the durable account of what awaits an answer: a file
		// whose upload the workflow never heard of (a crash in between) is found here.
		awaiting, err := crmAwaiting(ctx, t, store, in.Folders)
		if err != nil {
			return err
		}
		res.Awaiting = len(awaiting)
		for _, a := range awaiting {
			pending[inboundName(a.File)] = true
			addFolder(a.Object)
			if in.ResultTimeout > 0 && !a.SentAt.IsZero() && now.Sub(a.SentAt) >= in.ResultTimeout {
				res.Expired = true
			}
		}
	}
	if len(pending) == 0 {
		return nil
	}
	slices.Sort(folders)
	c, err := a.aws.For(ctx, t)
	if err != nil {
		return err
	}
	for _, folder := range folders {
		pages := s3.NewListObjectsV2Paginator(c.S3, &s3.ListObjectsV2Input{Bucket: aws.String(t.Bucket), Prefix: aws.String(folder)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return classifyAWS(t, "list "+folder, err)
			}
			for _, o := range page.Contents {
				// The same match as CollectResults: only a result named for a file we sent.
				if name, ok := ace.AnsweredName(folder, aws.ToString(o.Key)); ok && pending[name] {
					res.Results = true
					return nil
				}
			}
		}
	}
	return nil
}

// pollChanges is how many changes per object a poll reads to find one that is due: as many
// as SendChanges reads per cycle (the workflow's DefaultChangesPerCycle), so the poll sees
// a due change whenever SendChanges would send one. An idle CRM returns none.
const pollChanges = 200

// due reports whether a CRM change may go to ACE now: AWS asks for at most one document per
// record per hour, unless an operator forces it.
func due(ch crm.Change, now time.Time, force bool) bool {
	return force || ch.LastSentAt.IsZero() || now.Sub(ch.LastSentAt) >= resendAfter
}
