package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.temporal.io/sdk/activity"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/logging"
	"github.com/oppsync/oppsync/metrics"
	"github.com/oppsync/oppsync/sellingapi"
)

// maxReferralsPerPull bounds the pending AWS referrals one pull reads.
const maxReferralsPerPull = 100

// apiTime is how the records of the API transport write timestamps: ACE's S3 form.
const apiTime = "2006-01-02T15:04:05.000Z"

// apiRecord is one record read from the Selling API, on its way to the CRM.
type apiRecord struct {
	key      string // quarantine key
	id       string // the opportunity's Id (or the invitation's)
	crmID    string // the record's ACE id in the CRM: id, or the invitation's for an accepted referral
	modified time.Time
	body     json.RawMessage // S3 JSON; nil when it could not be mapped
	reason   string          // why it could not be mapped
	issues   []string        // the mapping's issues: fields and reasons, no values
	listed   bool            // from the listing (moves the watermark), not a redrive or a referral
}

// PullOpportunities brings ACE's opportunities into the CRM over the Selling API: the
// opportunities modified on or after the watermark, oldest first (ListOpportunities sorted
// by LastModifiedDate ascending, at most Max), each read whole (GetOpportunity and
// GetAwsOpportunitySummary) and mapped to ACE's S3 JSON; and, with Referrals, AWS's pending
// referrals (ListEngagementInvitations, GetEngagementInvitation), masked as ACE's S3
// integration shares them. The records are wrapped in an outbound envelope and go through
// the S3 transport's own path: ace.ParseOutbound, ace.Merge (newest wins), one Upsert per
// object, the connectors' stale check.
//
// A record the mapping, the parser or the CRM refuses is quarantined (APIQuarantineKey,
// its LastModifiedDate as ETag) and never holds back the others; the watermark moves over
// every listed record that was handled, written or quarantined. The ids at exactly the new
// watermark are returned, so that the next pull (whose filter is "on or after") skips
// them. A retry re-reads and re-applies, which the CRM turns into no-ops.
func (a *Activities) PullOpportunities(ctx context.Context, in customersync.PullInput) (customersync.PullResult, error) {
	ctx = aliveInCRM(ctx)
	t := in.Target
	log := a.logger(ctx, t)
	res := customersync.PullResult{Watermark: in.After, AtWatermark: slices.Clone(in.AtWatermark)}
	store, err := a.store(ctx, in.CRM)
	if err != nil {
		return res, err
	}
	client, err := a.sellingClient(ctx, t)
	if err != nil {
		return res, err
	}
	limit := orDefault(in.Max, customersync.DefaultOpportunitiesPerPull)

	ids, more, err := listChanged(ctx, client, t, in.After, in.AtWatermark, limit)
	if err != nil {
		return res, err
	}
	res.More = more
	var recs []*apiRecord
	for _, s := range ids {
		activity.RecordHeartbeat(ctx, len(recs))
		r, err := readOpportunity(ctx, client, t, s.id)
		if err != nil {
			return res, err
		}
		if r == nil {
			continue // gone since it was listed
		}
		r.listed, r.modified = true, s.modified
		recs = append(recs, r)
	}
	for _, key := range in.Redrive {
		id, ok := strings.CutPrefix(key, customersync.APIQuarantinePrefix+"opportunity/")
		if !ok || slices.ContainsFunc(recs, func(r *apiRecord) bool { return r.id == id }) {
			continue
		}
		r, err := readOpportunity(ctx, client, t, id)
		if err != nil {
			return res, err
		}
		if r != nil {
			recs = append(recs, r)
		} else {
			res.Handled = append(res.Handled, key) // gone: nothing left to re-drive
		}
	}
	if in.Referrals {
		refs, err := readReferrals(ctx, client, t)
		if err != nil {
			return res, err
		}
		res.Referrals = len(refs)
		recs = append(recs, refs...)
	}

	if in.Inbound != nil {
		if err := a.rejectConflicts(ctx, t, in.CRM, in.Inbound.After, recs, &res); err != nil {
			return res, err
		}
	}
	if err := a.upsertAPIRecords(ctx, t, store, recs, &res); err != nil {
		return res, err
	}
	if in.Inbound != nil {
		if res.Changes, err = a.pushDue(ctx, t, in.CRM, *in.Inbound); err != nil {
			return res, err
		}
	}
	advanceWatermark(&res, recs)
	if len(res.AtWatermark) > customersync.MaxAtWatermark {
		// More opportunities share one millisecond than the state keeps: the rest are read
		// again next cycle (and re-apply as unchanged), never lost; no loop on them now.
		res.AtWatermark = res.AtWatermark[len(res.AtWatermark)-customersync.MaxAtWatermark:]
		res.More = false
		log.Warn().Int("at_watermark", customersync.MaxAtWatermark).Msg("more opportunities share the watermark's instant than the state keeps: some are read again next cycle")
	}
	log.Info().Int("records", res.Records).Int("inserted", res.Inserted).Int("updated", res.Updated).
		Int("unchanged", res.Unchanged).Int("stale", res.Stale).Int("quarantined", len(res.Quarantined)).
		Int("referrals", res.Referrals).Int("conflicts", res.Conflicts).Bool("more", res.More).Time("watermark", res.Watermark).Msg("opportunities pulled from the Selling API")
	return res, nil
}

type listed struct {
	id       string
	modified time.Time
}

// listChanged lists the opportunities modified on or after after, oldest first, leaving out
// those in skip that were modified exactly at after, up to limit of them; more says whether
// others remain.
func listChanged(ctx context.Context, client SellingAPI, t customersync.Target, after time.Time, skip []string, limit int) ([]listed, bool, error) {
	in := &sellingapi.ListOpportunitiesInput{
		Catalog:    catalog(t),
		MaxResults: aws.Int32(int32(min(limit+len(skip), 100))),
		Sort:       &sellingapi.OpportunitySort{SortBy: sellingapi.OpportunitySortNameLastModifieddate, SortOrder: sellingapi.SortOrderAscending},
	}
	if !after.IsZero() {
		in.LastModifiedDate = &sellingapi.LastModifiedDate{AfterLastModifiedDate: aws.Time(after)}
	}
	var out []listed
	for {
		page, err := client.ListOpportunities(ctx, in)
		if err != nil {
			return nil, false, classifySelling(t, "list opportunities", err)
		}
		for _, s := range page.OpportunitySummaries {
			id, modified := aws.ToString(s.Id), aws.ToTime(s.LastModifiedDate)
			if modified.Equal(after) && slices.Contains(skip, id) {
				continue // handled by an earlier pull
			}
			if len(out) == limit {
				return out, true, nil
			}
			out = append(out, listed{id, modified})
		}
		if page.NextToken == nil {
			return out, false, nil
		}
		in.NextToken = page.NextToken
	}
}

// readOpportunity reads one opportunity and AWS's summary of it and maps them to ACE's S3
// JSON; nil when the opportunity is gone. A record that cannot be mapped comes back with
// its reason, for the quarantine.
func readOpportunity(ctx context.Context, client SellingAPI, t customersync.Target, id string) (*apiRecord, error) {
	r := &apiRecord{key: customersync.APIQuarantineKey(id), id: id, crmID: id}
	opp, err := client.GetOpportunity(ctx, &sellingapi.GetOpportunityInput{Catalog: catalog(t), Identifier: aws.String(id)})
	var notFound *sellingapi.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return nil, nil
	}
	if err != nil {
		return nil, classifySelling(t, "get opportunity "+id, err)
	}
	r.modified = aws.ToTime(opp.LastModifiedDate)
	// AWS has a summary only once it has engaged (an approved submission, a referral).
	sum, err := client.GetAwsOpportunitySummary(ctx, &sellingapi.GetAwsOpportunitySummaryInput{Catalog: catalog(t), RelatedOpportunityIdentifier: aws.String(id)})
	if err != nil && !errors.As(err, &notFound) {
		return nil, classifySelling(t, "get AWS's summary of opportunity "+id, err)
	}
	oppJSON, err := json.Marshal(opp)
	if err != nil {
		return nil, err
	}
	var sumJSON json.RawMessage
	if sum != nil && err == nil {
		if sumJSON, err = json.Marshal(sum); err != nil {
			return nil, err
		}
	}
	if r.body, r.issues, err = opportunityFromAPI(oppJSON, sumJSON); err != nil {
		r.body, r.reason = nil, fmt.Sprintf("opportunity %s cannot be mapped to ACE's fields: %v", id, err)
		return r, nil
	}
	if sum != nil && sum.Origin == sellingapi.OpportunityOriginAwsReferral {
		// Accepted over the API, the referral's record in the CRM carries the invitation's id.
		inv, err := acceptedInvitation(ctx, client, t, id)
		if err != nil {
			return nil, err
		}
		var rec map[string]any
		if err := json.Unmarshal(r.body, &rec); err != nil {
			return nil, err
		}
		if inv != "" {
			r.crmID = inv
			rec["apnCrmUniqueIdentifier"] = inv
		}
		// An AWS referral is in the partner's catalog only once accepted; the API has no
		// acceptance member (it is the invitation's status), ACE's S3 record does.
		rec["partnerAcceptanceStatus"] = "Accepted"
		if r.body, err = json.Marshal(rec); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// readReferrals reads AWS's pending referrals to the partner (engagement invitations the
// partner receives, status PENDING) as CRM opportunity records shaped as ACE's S3
// integration shares a new referral: keyed by the invitation's id (apnCrmUniqueIdentifier),
// no partner id, ownership AWS Referral, the customer's contact masked (the invitation
// carries none), acceptance not given yet (partnerAcceptanceStatus null: its standard values
// are only Accepted and Rejected), acceptBy the invitation's expiry. Once the partner accepts
// it (PushChanges), AWS creates the opportunity, which PushChanges gives the CRM record's
// partner id: the next pull then updates that record in place, under the opportunity's id.
func readReferrals(ctx context.Context, client SellingAPI, t customersync.Target) ([]*apiRecord, error) {
	in := &sellingapi.ListEngagementInvitationsInput{
		Catalog: catalog(t), ParticipantType: sellingapi.ParticipantTypeReceiver, MaxResults: aws.Int32(50),
		Status:      []sellingapi.InvitationStatus{sellingapi.InvitationStatusPending},
		PayloadType: []sellingapi.EngagementInvitationPayloadType{sellingapi.EngagementInvitationPayloadTypeOpportunityInvitation},
	}
	var out []*apiRecord
	for len(out) < maxReferralsPerPull {
		page, err := client.ListEngagementInvitations(ctx, in)
		if err != nil {
			return nil, classifySelling(t, "list AWS referrals (engagement invitations)", err)
		}
		for _, s := range page.EngagementInvitationSummaries {
			activity.RecordHeartbeat(ctx, len(out))
			id := aws.ToString(s.Id)
			inv, err := client.GetEngagementInvitation(ctx, &sellingapi.GetEngagementInvitationInput{Catalog: catalog(t), Identifier: aws.String(id)})
			var notFound *sellingapi.ResourceNotFoundException
			if errors.As(err, &notFound) {
				continue
			}
			if err != nil {
				return nil, classifySelling(t, "get AWS referral "+id, err)
			}
			r := &apiRecord{key: customersync.APIQuarantinePrefix + "referral/" + id, id: id, crmID: id, modified: aws.ToTime(inv.InvitationDate)}
			if r.body, err = referralRecord(inv); err != nil {
				r.body, r.reason = nil, fmt.Sprintf("AWS referral %s cannot be mapped to ACE's fields: %v", id, err)
			}
			out = append(out, r)
		}
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	return out, nil
}

// maskedOpportunityFields are the opportunity fields ACE masks on a referral not yet
// accepted (Opportunity-Fields.csv: they come as "Accept to View").
var maskedOpportunityFields = []string{"customerEmail", "customerFirstName", "customerLastName", "customerPhone", "customerTitle"}

// referralRecord maps an engagement invitation to an S3 JSON opportunity record: its
// payload as an opportunity (through the same mapping as GetOpportunity's output), then
// what ACE's S3 integration sets on a new referral.
func referralRecord(inv *sellingapi.GetEngagementInvitationOutput) (json.RawMessage, error) {
	opp := map[string]any{"Id": aws.ToString(inv.Id), "Origin": "AWS Referral"}
	if at := inv.InvitationDate; at != nil {
		opp["LastModifiedDate"], opp["CreatedDate"] = at.UTC().Format(time.RFC3339Nano), at.UTC().Format(time.RFC3339Nano)
	}
	if inv.Payload != nil && inv.Payload.OpportunityInvitation != nil {
		p := inv.Payload.OpportunityInvitation
		if c := p.Customer; c != nil {
			account := map[string]any{"CompanyName": aws.ToString(c.CompanyName), "Industry": string(c.Industry),
				"WebsiteUrl": aws.ToString(c.WebsiteUrl)}
			if c.CountryCode != "" {
				account["Address"] = map[string]any{"CountryCode": string(c.CountryCode)}
			}
			opp["Customer"] = map[string]any{"Account": account}
		}
		if pr := p.Project; pr != nil {
			project := map[string]any{"Title": aws.ToString(pr.Title), "CustomerBusinessProblem": aws.ToString(pr.BusinessProblem)}
			if len(pr.ExpectedCustomerSpend) > 0 {
				project["ExpectedCustomerSpend"] = pr.ExpectedCustomerSpend
			}
			opp["Project"] = project
			if d := aws.ToString(pr.TargetCompletionDate); d != "" {
				opp["LifeCycle"] = map[string]any{"TargetCloseDate": d}
			}
		}
	}
	oppJSON, err := json.Marshal(opp)
	if err != nil {
		return nil, err
	}
	body, _, err := opportunityFromAPI(oppJSON, nil)
	if err != nil {
		return nil, err
	}
	var rec map[string]any
	if err := json.Unmarshal(body, &rec); err != nil {
		return nil, err
	}
	for _, k := range maskedOpportunityFields {
		rec[k] = ace.MaskedValue
	}
	rec["apnCrmUniqueIdentifier"] = aws.ToString(inv.Id)
	rec["opportunityOwnership"] = "AWS Referral"
	rec["partnerAcceptanceStatus"] = nil
	if at := inv.InvitationDate; at != nil {
		rec["lastModifiedDate"] = at.UTC().Format(apiTime)
	}
	if exp := inv.ExpirationDate; exp != nil {
		rec["acceptBy"] = exp.UTC().Format(apiTime)
	}
	delete(rec, "partnerCrmUniqueIdentifier")
	return json.Marshal(rec)
}

// maxPendingScan bounds the CRM changes rejectConflicts reads in one pull.
const maxPendingScan = 5000

// rejectConflicts settles, before AWS's versions reach the CRM, the CRM's pending changes
// that AWS contradicts. Applying AWS's new version makes it the record's last-known ACE
// version (crm.Change.Previous), so a field the sales team and AWS both edited since ACE
// last sent the record would afterwards look like the CRM's edit alone, and PushChanges
// would overwrite AWS's value with it. So each pulled record with a change pending in the
// CRM (due or held back by the hourly rule) is compared now, three ways, as PushChanges
// compares: a field the CRM changed that AWS changed too, to another value, rejects the
// change on the record with the conflict (conflictReason); Partner Central keeps AWS's
// value and the sales team's next edit goes. Edits of different fields are no conflict:
// the CRM keeps its edits over AWS's new version and PushChanges merges them onto it.
func (a *Activities) rejectConflicts(ctx context.Context, t customersync.Target, crmURL string, after map[string]int64, recs []*apiRecord, res *customersync.PullResult) error {
	pulled := map[string]*apiRecord{}
	for _, r := range recs {
		if r.body != nil {
			pulled[r.crmID] = r
		}
	}
	if len(pulled) == 0 {
		return nil
	}
	store, err := a.inboundStore(ctx, crmURL)
	if err != nil {
		return err
	}
	log := a.logger(ctx, t)
	obj := ace.ObjectOpportunity
	now := time.Now().UTC()
	w, scanned := crm.Watermark(after[string(obj)]), 0
	for scanned < maxPendingScan {
		changes, err := store.Changes(ctx, obj, w, pollChanges)
		if err != nil {
			return crmError(t, "read opportunity changes from the CRM", err)
		}
		for _, ch := range changes {
			w, scanned = ch.Watermark, scanned+1
			r := pulled[ch.ACEID]
			if r == nil || ch.ACEID == "" || ch.Previous == nil {
				continue
			}
			body, _, _ := inboundRecord(obj, ch, now)
			if body == nil {
				continue // not a JSON object: PushChanges refuses it with the reason
			}
			cur, mine, prev, err := threeVersions(r.body, body, ch.Previous)
			if err != nil {
				continue
			}
			conflicts := editConflicts(cur, mine, prev)
			if len(conflicts) == 0 {
				continue
			}
			o := crm.Outcome{Object: obj, PartnerID: ch.PartnerID, ACEID: ch.ACEID, Watermark: ch.Watermark, At: now,
				Status: crm.SyncRejected, Errors: []string{conflictReason(conflicts, r.id, r.modified)},
				File: apiFilePrefix + pushUpdate + "/" + ch.PartnerID + "-" + strconv.FormatInt(int64(ch.Watermark), 10)}
			if err := store.Record(ctx, o); err != nil {
				if ctx.Err() != nil || !permanent(err) {
					return crmError(t, "write a conflict onto opportunity "+ch.PartnerID, err)
				}
				log.Warn().Str("partner_id", ch.PartnerID).Str("error", logging.SafeError(err)).Msg("could not write a conflict onto the record: skipped")
				continue
			}
			res.Conflicts++
			log.Info().Str("partner_id", ch.PartnerID).Str("ace_id", r.id).Strs("fields", conflicts).
				Msg("conflict: the CRM's pending change and AWS's version edit the same fields: the change is rejected, AWS's values kept")
		}
		if len(changes) < pollChanges {
			return nil
		}
	}
	log.Warn().Int("scanned", scanned).Msg("more CRM changes pending than one pull compares with AWS's versions: the rest are compared by PushChanges against AWS's current version")
	return nil
}

// upsertAPIRecords writes the records to the CRM through the S3 transport's path: an
// outbound envelope parsed by ace.ParseOutbound, merged by ace.Merge, one Upsert.
func (a *Activities) upsertAPIRecords(ctx context.Context, t customersync.Target, store crm.Store, recs []*apiRecord, res *customersync.PullResult) error {
	log := a.logger(ctx, t)
	quarantine := func(r *apiRecord, reason string, cause error) {
		etag := ""
		if !r.modified.IsZero() {
			etag = r.modified.UTC().Format(apiTime)
		}
		res.Quarantined = append(res.Quarantined, customersync.BadFile{Key: r.key, ETag: etag, Reason: reason})
		ev := log.Warn().Str("key", r.key)
		if cause != nil {
			ev = ev.Str("error", logging.SafeError(cause))
		}
		ev.Msg("record quarantined")
		metrics.FileQuarantined(activity.GetMetricsHandler(ctx), string(ace.ObjectOpportunity))
	}
	var good []*apiRecord
	var bodies []json.RawMessage
	for _, r := range recs {
		if len(r.issues) > 0 {
			// Fields the S3 record cannot carry as the API holds them (a second contact, an
			// amount in another currency): the record syncs, the log says what was left out.
			log.Info().Str("key", r.key).Strs("mapping_issues", r.issues).Msg("opportunity mapped with issues")
		}
		if r.body == nil {
			quarantine(r, r.reason, nil)
			continue
		}
		good = append(good, r)
		bodies = append(bodies, r.body)
	}
	if len(good) == 0 {
		return nil
	}
	records, err := json.Marshal(bodies)
	if err != nil {
		return err
	}
	env, err := json.Marshal(map[string]json.RawMessage{"version": json.RawMessage(`"2.0"`), "opportunities": records})
	if err != nil {
		return err
	}
	// A synthetic name in the outbound folder: ParseOutbound takes the object from it, and
	// the CRM's change log names the API as the source.
	key := ace.FolderOpportunityOutbound + "selling-api_" + customersync.Env(t.Env).Catalog() + "_" + good[0].id + ".json"
	file, err := ace.ParseOutbound(key, env)
	if err != nil {
		return fmt.Errorf("parse the Selling API's records for customer %s/%s: %w", t.Customer, t.Env, err)
	}
	for _, rej := range file.Rejected {
		if rej.Index >= 0 && rej.Index < len(good) {
			quarantine(good[rej.Index], rej.Error(), nil)
			good[rej.Index].body = nil
		}
	}
	merged := ace.Merge([]*ace.OutboundFile{file})
	res.Stale += merged.Superseded
	res.Unchanged += merged.Same
	if len(merged.Records) == 0 {
		return nil
	}
	up, err := store.Upsert(ctx, crm.Source{Key: key, ETag: good[0].modified.UTC().Format(apiTime)}, merged.Records)
	metrics.RecordsWritten(activity.GetMetricsHandler(ctx), string(ace.ObjectOpportunity),
		metrics.RecordCounts{Inserted: up.Inserted, Updated: up.Updated, Unchanged: up.Unchanged, Stale: up.Stale})
	res.Inserted, res.Updated, res.Unchanged, res.Stale = res.Inserted+up.Inserted, res.Updated+up.Updated, res.Unchanged+up.Unchanged, res.Stale+up.Stale
	var batchErr *crm.BatchError
	switch {
	case err == nil:
	case errors.As(err, &batchErr) && !crm.Retryable(err):
		for _, rr := range batchErr.Records {
			for _, r := range good {
				if r.body != nil && r.crmID == rr.ACEID {
					quarantine(r, "the CRM refused record "+rr.ACEID+": "+rr.String(), &crm.BatchError{CRM: batchErr.CRM, Object: batchErr.Object, Source: r.key, Records: []crm.RefusedRecord{rr}})
					r.body = nil
				}
			}
		}
	default:
		return crmError(t, fmt.Sprintf("write %d opportunities from the Selling API to the CRM", len(merged.Records)), err)
	}
	for _, r := range good {
		if r.body != nil {
			res.Handled = append(res.Handled, r.key)
		}
	}
	res.Records = res.Inserted + res.Updated + res.Unchanged + res.Stale
	return nil
}

// advanceWatermark moves the watermark over the listed records, all handled (written or
// quarantined), and keeps the ids at its new instant.
func advanceWatermark(res *customersync.PullResult, recs []*apiRecord) {
	for _, r := range recs {
		if !r.listed || r.modified.IsZero() {
			continue
		}
		switch {
		case r.modified.After(res.Watermark):
			res.Watermark, res.AtWatermark = r.modified, []string{r.id}
		case r.modified.Equal(res.Watermark) && !slices.Contains(res.AtWatermark, r.id):
			res.AtWatermark = append(res.AtWatermark, r.id)
		}
	}
}

// pushDue reports whether PushChanges has work: an opportunity change due (as Poll decides
// for SendChanges), or a change sent over the API whose write-back was cut short.
func (a *Activities) pushDue(ctx context.Context, t customersync.Target, crmURL string, in customersync.PullInbound) (bool, error) {
	store, err := a.inboundStore(ctx, crmURL)
	if err != nil {
		return false, err
	}
	changes, err := store.Changes(ctx, ace.ObjectOpportunity, crm.Watermark(in.After[string(ace.ObjectOpportunity)]), pollChanges)
	if err != nil {
		return false, crmError(t, "read opportunity changes from the CRM", err)
	}
	now := time.Now().UTC()
	if slices.ContainsFunc(changes, func(ch crm.Change) bool { return due(ch, now, in.Force) }) {
		return true, nil
	}
	awaiting, err := store.Awaiting(ctx, ace.ObjectOpportunity, 0)
	if err != nil {
		return false, crmError(t, "list the opportunities awaiting ACE's answer", err)
	}
	return slices.ContainsFunc(awaiting, func(aw crm.Awaiting) bool { return strings.HasPrefix(aw.File, apiFilePrefix) }), nil
}
