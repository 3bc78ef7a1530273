package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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

// What one CRM change is, for the Selling API.
const (
	pushCreate = "create" // no ACE id yet: CreateOpportunity
	pushUpdate = "update" // an opportunity ACE knows: UpdateOpportunity
	pushAnswer = "answer" // the partner's answer to an AWS referral (an engagement invitation)
)

// apiFilePrefix starts the "file" the CRM records a change went in (crm.Outcome.File) on
// the API transport: api/opportunity/<kind>/<partner id>-<watermark>. No such file exists;
// the name says which call carried the change, and the kind lets a retry finish the
// write-back of a change a crashed attempt had sent (recoverSent).
const apiFilePrefix = "api/opportunity/"

var opportunityIDPattern = regexp.MustCompile(`^O[0-9]{1,19}$`)

// PushChanges sends the CRM's opportunity changes to ACE over the Selling API. It reads
// them as SendChanges does (crm.Inbound's Changes after the watermark, at most one send per
// record an hour unless forced), validates each with ACE's pre-flight rules (a record that
// fails is marked and not sent), then, record by record:
//   - no ACE id: CreateOpportunity with the record's ClientToken (createToken), so a
//     retry after a crash anywhere gets the opportunity the first attempt created, and
//     one whose record was edited since adopts it (opportunityByPartnerID); then
//     AssociateOpportunity for the solutions, products and offers it names, and
//     StartEngagementFromOpportunityTask when it asks to be submitted to AWS;
//   - an ACE id: GetOpportunity, the CRM's changed fields merged onto AWS's current version
//     (a field changed on both sides since ACE last sent it is a conflict: the record is
//     rejected with the reason, never overwritten), UpdateOpportunity with its
//     LastModifiedDate; on ConflictException (changed in between) once more, else rejected;
//   - an answer to an AWS referral: StartEngagementByAcceptingInvitationTask (then the new
//     opportunity gets the CRM's partner id, so the next pull updates the CRM record in
//     place) or RejectEngagementInvitation.
//
// Each outcome is written back with the S3 results pass's methods: the record marked sent
// (with its ACE id), then accepted, or rejected with the API's reasons. Every call is
// idempotent, and a record is only marked once all its calls are done, so a retry after a
// crash repeats nothing harmful; a crash between the two writes is finished by the next
// attempt from the CRM's sent records (recoverSent). Leads are not sent: the Selling API
// has no lead operations.
func (a *Activities) PushChanges(ctx context.Context, in customersync.PushInput) (customersync.PushResult, error) {
	ctx = aliveInCRM(ctx)
	t := in.Target
	log := a.logger(ctx, t)
	res := customersync.PushResult{After: map[string]int64{}}
	for k, v := range in.After {
		res.After[k] = v
	}
	store, err := a.inboundStore(ctx, in.CRM)
	if err != nil {
		return res, err
	}
	client, err := a.sellingClient(ctx, t)
	if err != nil {
		return res, err
	}
	if err := a.recoverSent(ctx, t, store, &res); err != nil {
		return res, err
	}
	obj := ace.ObjectOpportunity
	after := in.After[string(obj)]
	changes, err := store.Changes(ctx, obj, crm.Watermark(after), in.Limit)
	if err != nil {
		return res, crmError(t, "read opportunity changes from the CRM", err)
	}
	if in.Limit > 0 && len(changes) >= in.Limit {
		res.More = true
	}
	now := time.Now().UTC()
	held := false
	for _, ch := range changes {
		activity.RecordHeartbeat(ctx, int64(ch.Watermark))
		switch {
		case !due(ch, now, in.Force):
			res.HeldBack++
			held = true
		default:
			body, sentFields, problems := inboundRecord(obj, ch, now)
			var o crm.Outcome
			if len(problems) > 0 {
				res.Invalid++
				metrics.ValidationFailed(activity.GetMetricsHandler(ctx), string(obj), 1)
				o = crm.Outcome{Status: crm.SyncInvalid, Errors: problems}
			} else if o, err = a.pushOne(ctx, client, t, ch, body, sentFields, &res); err != nil {
				return res, err
			}
			o.Object, o.PartnerID, o.Watermark, o.At = obj, ch.PartnerID, ch.Watermark, now
			if o.ACEID == "" {
				o.ACEID = ch.ACEID
			}
			if err := writeOutcome(ctx, store, o); err != nil {
				if ctx.Err() != nil || !permanent(err) {
					// Every call above is idempotent: the retry repeats them and writes again.
					return res, crmError(t, fmt.Sprintf("write the outcome of opportunity %s to the CRM", ch.PartnerID), err)
				}
				res.RecordErrors++
				res.FailedRecords = failedRecord(res.FailedRecords, obj, ch.PartnerID)
				log.Warn().Str("partner_id", ch.PartnerID).Str("error", logging.SafeError(err)).Msg("could not write the Selling API's answer to the record: skipped")
			}
		}
		if !held {
			res.After[string(obj)] = int64(ch.Watermark)
		}
	}
	log.Info().Int("created", res.Created).Int("updated", res.Updated).Int("answered", res.Answered).Int("submitted", res.Submitted).
		Int("rejected", res.Rejected).Int("conflicts", res.Conflicts).Int("invalid", res.Invalid).Int("held_back", res.HeldBack).
		Int("recovered", res.Recovered).Msg("CRM changes pushed to the Selling API")
	return res, nil
}

// writeOutcome writes an outcome as the S3 results pass does: an accepted change is first
// marked sent (with its ACE id: the link survives a crash before the second write, which
// recoverSent finishes), then accepted; a rejection or a refusal is one write.
func writeOutcome(ctx context.Context, store crm.Inbound, o crm.Outcome) error {
	pauseBeforeWriteBack(ctx, o.File)
	if o.Status == crm.SyncAccepted {
		sent := o
		sent.Status, sent.Errors, sent.Warnings, sent.Fields = crm.SyncSent, nil, nil, nil
		if err := store.Record(ctx, sent); err != nil {
			return err
		}
		pauseAfterSent(ctx, o.File)
	}
	return store.Record(ctx, o)
}

// recoverSent finishes the write-back of the changes a crashed attempt had sent: the CRM
// holds them as sent in an api/ "file", which is written only once all of a change's calls
// succeeded, so each was accepted.
func (a *Activities) recoverSent(ctx context.Context, t customersync.Target, store crm.Inbound, res *customersync.PushResult) error {
	awaiting, err := store.Awaiting(ctx, ace.ObjectOpportunity, 0)
	if err != nil {
		return crmError(t, "list the opportunities awaiting ACE's answer", err)
	}
	for _, aw := range awaiting {
		rest, ok := strings.CutPrefix(aw.File, apiFilePrefix)
		if !ok {
			continue // an S3 inbound file: its answer comes in a results file
		}
		o := crm.Outcome{Object: aw.Object, PartnerID: aw.PartnerID, ACEID: aw.ACEID, Watermark: aw.Watermark,
			Status: crm.SyncAccepted, File: aw.File, At: time.Now().UTC()}
		if strings.HasPrefix(rest, pushAnswer+"/") {
			o.Fields, o.ACEID = answerFields, "" // an answer carried only these; the ACE id stays the invitation's
		}
		if err := store.Record(ctx, o); err != nil {
			if ctx.Err() != nil || !permanent(err) {
				return crmError(t, "finish the write-back of opportunity "+aw.PartnerID, err)
			}
			continue
		}
		res.Recovered++
	}
	return nil
}

// answerFields are the fields an answer to an AWS referral carries (inboundRecord).
var answerFields = []string{"apnCrmUniqueIdentifier", "partnerCrmUniqueIdentifier", "partnerAcceptanceStatus", "rejectionReason"}

// pushOne sends one validated change and returns its outcome (Status, ACEID, Errors,
// File, Fields). An error is one the activity must fail on (access, throttling, the
// network): every call is idempotent, so the retry repeats them.
func (a *Activities) pushOne(ctx context.Context, client SellingAPI, t customersync.Target, ch crm.Change, body json.RawMessage,
	sentFields []string, res *customersync.PushResult) (crm.Outcome, error) {
	kind := pushUpdate
	switch {
	case ch.ACEID == "":
		kind = pushCreate
	case sentFields != nil && !opportunityIDPattern.MatchString(ch.ACEID):
		kind = pushAnswer
	}
	file := apiFilePrefix + kind + "/" + ch.PartnerID + "-" + strconv.FormatInt(int64(ch.Watermark), 10)
	token := func(op string) *string {
		return aws.String(clientToken(t.Customer, t.Env, op, ch.PartnerID, strconv.FormatInt(int64(ch.Watermark), 10), ch.ChangedAt.UTC().Format(time.RFC3339Nano)))
	}
	rejected := func(reason ...string) (crm.Outcome, error) {
		res.Rejected++
		return crm.Outcome{Status: crm.SyncRejected, Errors: reason, File: file}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return rejected("the CRM record is not a JSON object: " + err.Error())
	}

	switch kind {
	case pushAnswer:
		var status, reason string
		_ = json.Unmarshal(fields["partnerAcceptanceStatus"], &status)
		_ = json.Unmarshal(fields["rejectionReason"], &reason)
		if status == "Rejected" {
			in := &sellingapi.RejectEngagementInvitationInput{Catalog: catalog(t), Identifier: aws.String(ch.ACEID)}
			if reason != "" {
				in.RejectionReason = aws.String(reason)
			}
			_, err := client.RejectEngagementInvitation(ctx, in)
			var conflict *sellingapi.ConflictException
			if errors.As(err, &conflict) {
				// A retry after the rejection went through: the invitation says so.
				inv, gerr := client.GetEngagementInvitation(ctx, &sellingapi.GetEngagementInvitationInput{Catalog: catalog(t), Identifier: aws.String(ch.ACEID)})
				if gerr == nil && inv.Status == sellingapi.InvitationStatusRejected {
					err = nil
				}
			}
			if out, done := apiRefusal(t, "reject AWS referral "+ch.ACEID, err, rejected); done {
				return out, outErr(t, "reject AWS referral "+ch.ACEID, err)
			}
			res.Answered++
			return crm.Outcome{Status: crm.SyncAccepted, File: file, Fields: sentFields}, nil
		}
		out, err := client.StartEngagementByAcceptingInvitationTask(ctx, &sellingapi.StartEngagementByAcceptingInvitationTaskInput{
			Catalog: catalog(t), Identifier: aws.String(ch.ACEID), ClientToken: token("StartEngagementByAcceptingInvitationTask")})
		if o, done := apiRefusal(t, "accept AWS referral "+ch.ACEID, err, rejected); done {
			return o, outErr(t, "accept AWS referral "+ch.ACEID, err)
		}
		oppID := aws.ToString(out.OpportunityId)
		if oppID == "" {
			return crm.Outcome{}, fmt.Errorf("accept AWS referral %s for customer %s/%s: the task %s has not created the opportunity yet: retried",
				ch.ACEID, t.Customer, t.Env, aws.ToString(out.TaskId))
		}
		// The accepted opportunity is the CRM record's: give it the partner id, so that the
		// next pull updates the referral's record in place instead of adding one.
		if err := a.linkOpportunity(ctx, client, t, oppID, ch.PartnerID); err != nil {
			return crm.Outcome{}, err
		}
		res.Answered++
		// The record keeps the invitation's id as its ACE id (an ACE id never changes on a
		// record): say where the opportunity is, for the sales team looking it up.
		return crm.Outcome{Status: crm.SyncAccepted, File: file, Fields: sentFields, Warnings: []string{fmt.Sprintf(
			"AWS referral %s accepted: its opportunity in Partner Central is %s (this record keeps the referral's id)", ch.ACEID, oppID)}}, nil

	case pushCreate:
		apiBody, mapWarnings, err := opportunityToAPI(body)
		if err != nil {
			return rejected("the record cannot be mapped to the Selling API: " + err.Error())
		}
		var in sellingapi.CreateOpportunityInput
		if err := json.Unmarshal(apiBody, &in); err != nil {
			return rejected("the record cannot be mapped to the Selling API: " + err.Error())
		}
		in.Catalog, in.ClientToken = catalog(t), aws.String(createToken(t, ch.PartnerID))
		if in.PartnerOpportunityIdentifier == nil {
			in.PartnerOpportunityIdentifier = aws.String(ch.PartnerID)
		}
		out, err := client.CreateOpportunity(ctx, &in)
		var conflict *sellingapi.ConflictException
		if errors.As(err, &conflict) {
			// The record's token with another body: an attempt that did not finish created
			// the opportunity, and the record was edited since. Adopt that opportunity.
			id, lerr := opportunityByPartnerID(ctx, client, t, ch.PartnerID)
			if lerr != nil {
				return crm.Outcome{}, lerr
			}
			if id != "" {
				log := a.logger(ctx, t)
				log.Info().Str("partner_id", ch.PartnerID).Str("ace_id", id).
					Msg("opportunity created by an attempt that did not finish: the CRM's edit since goes to it, no second create")
				o, err := a.updateOne(ctx, client, t, ch, body, fields, id, true, file, token, rejected, res)
				if o.ACEID == "" {
					o.ACEID = id
				}
				return o, err
			}
			// No opportunity has the partner id: the token's first use was refused, or it is
			// not ours. The change's own token creates it.
			in.ClientToken = token("CreateOpportunity")
			out, err = client.CreateOpportunity(ctx, &in)
		}
		if o, done := apiRefusal(t, "create opportunity "+ch.PartnerID, err, rejected); done {
			return o, outErr(t, "create opportunity "+ch.PartnerID, err)
		}
		id := aws.ToString(out.Id)
		// An S3 inbound create goes to AWS's review; a CRM record whose status is Draft
		// stays with the partner.
		warnings, err := a.associateAndSubmit(ctx, client, t, id, fields, nil, crmStatus(ch.Fields) != "Draft", token, res)
		if err != nil {
			return crm.Outcome{}, err
		}
		res.Created++
		return crm.Outcome{Status: crm.SyncAccepted, ACEID: id, File: file, Warnings: append(mapWarnings, warnings...)}, nil
	}

	// An update: the CRM's changes onto AWS's current version, with its LastModifiedDate.
	oppID := ch.ACEID
	if !opportunityIDPattern.MatchString(oppID) {
		// An AWS referral accepted over the API: the CRM keys it by the invitation's id.
		id, err := invitationOpportunity(ctx, client, t, oppID)
		if err != nil {
			return crm.Outcome{}, err
		}
		if id == "" {
			return rejected(fmt.Sprintf("%s is an AWS referral not accepted yet: only an answer (partnerAcceptanceStatus Accepted or Rejected) can be sent", oppID))
		}
		oppID = id
	}
	return a.updateOne(ctx, client, t, ch, body, fields, oppID, false, file, token, rejected, res)
}

// updateOne sends a change to opportunity oppID: the CRM's changed fields (body against
// ch.Previous) merged onto AWS's current version, UpdateOpportunity with its
// LastModifiedDate, then the associations and the submission the record asks for.
//
// adopted says the opportunity is one an attempt that did not finish created for this
// record (ch has no ACE id and no Previous), edited in the CRM since: then the version as
// created is the merge base when AWS's version is still it (LastModifiedDate is its
// CreatedDate), and otherwise (AWS, or the unfinished attempt's associations and
// submission, changed it since) nothing tells the CRM's edits from AWS's, so a field the
// two hold differently is a conflict: the record is linked and rejected with the reason,
// never overwritten.
func (a *Activities) updateOne(ctx context.Context, client SellingAPI, t customersync.Target, ch crm.Change, body json.RawMessage,
	fields map[string]json.RawMessage, oppID string, adopted bool, file string, token func(string) *string,
	rejected func(...string) (crm.Outcome, error), res *customersync.PushResult) (crm.Outcome, error) {
	for attempt := 1; ; attempt++ {
		cur, err := client.GetOpportunity(ctx, &sellingapi.GetOpportunityInput{Catalog: catalog(t), Identifier: aws.String(oppID)})
		if o, done := apiRefusal(t, "get opportunity "+oppID, err, rejected); done {
			return o, outErr(t, "get opportunity "+oppID, err)
		}
		curJSON, err := json.Marshal(cur)
		if err != nil {
			return crm.Outcome{}, err
		}
		awsNow, _, err := opportunityFromAPI(curJSON, nil)
		if err != nil {
			return rejected(fmt.Sprintf("AWS's version of opportunity %s cannot be mapped to ACE's fields: %v", oppID, err))
		}
		previous := ch.Previous
		unchanged := false // adopted, and AWS holds what the CRM has: nothing to update
		if adopted {
			unchanged = sameAsAWS(body, awsNow)
			switch created, modified := aws.ToTime(cur.CreatedDate), aws.ToTime(cur.LastModifiedDate); {
			case unchanged:
			case !created.IsZero() && modified.Equal(created):
				previous = awsNow // AWS's version is the one created: every difference is the CRM's edit
			default:
				differ := differingFields(awsNow, body)
				if len(differ) == 0 {
					unchanged = true // only in members the S3 fields do not show: nothing the sales team edited
					break
				}
				res.Conflicts++
				return rejected(adoptedConflictReason(differ, oppID, created, modified))
			}
		}
		merged, conflicts, err := mergeCRMChanges(awsNow, body, previous)
		if err != nil {
			return rejected(err.Error())
		}
		if len(conflicts) > 0 {
			res.Conflicts++
			return rejected(conflictReason(conflicts, oppID, aws.ToTime(cur.LastModifiedDate)))
		}
		apiBody, mapWarnings, err := opportunityToAPI(merged)
		if err != nil {
			return rejected("the record cannot be mapped to the Selling API: " + err.Error())
		}
		var in sellingapi.UpdateOpportunityInput
		if err := json.Unmarshal(apiBody, &in); err != nil {
			return rejected("the record cannot be mapped to the Selling API: " + err.Error())
		}
		in.Catalog, in.Identifier, in.LastModifiedDate = catalog(t), aws.String(oppID), cur.LastModifiedDate
		if !unchanged {
			_, err = client.UpdateOpportunity(ctx, &in)
		}
		var conflict *sellingapi.ConflictException
		if errors.As(err, &conflict) {
			if attempt == 1 {
				continue // changed on AWS's side since the read: read, merge and try once more
			}
			res.Conflicts++
			return rejected(fmt.Sprintf("conflict: opportunity %s kept changing in Partner Central while OppSync updated it; the CRM's change was not sent: "+
				"it goes again after the record's next edit", oppID))
		}
		if o, done := apiRefusal(t, "update opportunity "+oppID, err, rejected); done {
			return o, outErr(t, "update opportunity "+oppID, err)
		}
		// The sales team asks for AWS's review (again, after Action Required) by setting the
		// status to Submitted.
		submit := crmStatus(ch.Fields) == "Submitted" && slices.Contains([]string{"Draft", "Action Required"}, crmStatus(awsNow))
		if adopted {
			// What the create would have done: submitted unless the record is a Draft.
			submit = crmStatus(ch.Fields) != "Draft" && crmStatus(awsNow) == "Draft"
		}
		warnings, err := a.associateAndSubmit(ctx, client, t, oppID, fields, awsNow, submit, token, res)
		if err != nil {
			return crm.Outcome{}, err
		}
		if adopted {
			res.Created++
			return crm.Outcome{Status: crm.SyncAccepted, ACEID: oppID, File: file, Warnings: append(mapWarnings, warnings...)}, nil
		}
		res.Updated++
		return crm.Outcome{Status: crm.SyncAccepted, File: file, Warnings: append(mapWarnings, warnings...)}, nil
	}
}

// createToken is CreateOpportunity's ClientToken for a CRM record: one per record, not per
// change, so that a retry after a crash between the create and the CRM's write-back gets
// the first attempt's opportunity even when the record was edited in between. The same
// body answers the first response again; another body is refused with a ConflictException
// (AWS: "Conflicting client token submitted for a new request body."), and PushChanges
// then adopts the opportunity that carries the record's partner id.
func createToken(t customersync.Target, partnerID string) string {
	return clientToken(t.Customer, t.Env, "CreateOpportunity", partnerID)
}

// adoptLookupPages bounds the look-up of an unfinished attempt's opportunity: the newest
// opportunities first, 100 a page (one read each).
const adoptLookupPages = 10

// opportunityByPartnerID returns the newest opportunity whose PartnerOpportunityIdentifier
// is partnerID among the adoptLookupPages*100 most recently created, or "".
func opportunityByPartnerID(ctx context.Context, client SellingAPI, t customersync.Target, partnerID string) (string, error) {
	in := &sellingapi.ListOpportunitiesInput{
		Catalog:    catalog(t),
		MaxResults: aws.Int32(100),
		Sort:       &sellingapi.OpportunitySort{SortBy: sellingapi.OpportunitySortNameCreatedDate, SortOrder: sellingapi.SortOrderDescending},
	}
	for range adoptLookupPages {
		page, err := client.ListOpportunities(ctx, in)
		if err != nil {
			return "", classifySelling(t, "look up the opportunity an unfinished create made for "+partnerID, err)
		}
		for _, s := range page.OpportunitySummaries {
			if aws.ToString(s.PartnerOpportunityIdentifier) == partnerID {
				return aws.ToString(s.Id), nil
			}
		}
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	return "", nil
}

// sameAsAWS reports whether a CRM record (S3 JSON) holds what AWS's version already does,
// both compared as the API's members.
func sameAsAWS(record, awsNow json.RawMessage) bool {
	mine, _, err := opportunityToAPI(record)
	if err != nil {
		return false
	}
	have, _, err := opportunityToAPI(awsNow)
	return err == nil && crm.SameJSON(mine, have)
}

// differingFields names, sorted, the fields of a CRM record that AWS's version holds
// otherwise (S3 names).
func differingFields(awsNow, record json.RawMessage) []string {
	var cur, mine map[string]json.RawMessage
	_ = json.Unmarshal(awsNow, &cur)
	_ = json.Unmarshal(record, &mine)
	var out []string
	for k, v := range mine {
		if _, known := cur[k]; (known || !isNull(v)) && !sameValue(cur[k], v) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// msTime shows a time to the millisecond: a create and the calls right after it fall in
// one second.
const msTime = "2006-01-02T15:04:05.000Z07:00"

// adoptedConflictReason is the error of a CRM change to an opportunity an unfinished attempt
// created, when Partner Central changed it since (AWS, or that attempt's own associations
// and submission): OppSync cannot tell which side changed the fields the two hold
// differently, so it sends none.
func adoptedConflictReason(fields []string, oppID string, created, modified time.Time) string {
	return fmt.Sprintf("conflict: opportunity %s was created in Partner Central for this record by an attempt that did not finish, "+
		"and changed there since (created %s, modified %s); OppSync cannot tell whether %s changed in the CRM or in Partner Central, "+
		"so the CRM's change was not sent: the record is now linked to %s; check these fields against Partner Central and edit the record again",
		oppID, created.UTC().Format(msTime), modified.UTC().Format(msTime), strings.Join(fields, ", "), oppID)
}

// conflictReason is the error a CRM change gets when AWS changed the same fields since ACE
// last sent the record: the change is not sent, Partner Central keeps AWS's values, and
// the sales team's next edit goes.
func conflictReason(fields []string, oppID string, modified time.Time) string {
	return fmt.Sprintf("conflict: %s changed both in the CRM and in Partner Central since ACE last sent the record "+
		"(AWS's version of %s, modified %s): the CRM's change was not sent and Partner Central keeps AWS's value; "+
		"compare the two in Partner Central, then edit the record again: its next change goes with the values it then holds",
		strings.Join(fields, ", "), oppID, modified.UTC().Format(time.RFC3339))
}

// apiRefusal sorts a Selling API error: nil is not done; a refusal of the record (a
// validation error, a conflicting client token, an unknown opportunity) is done with the
// record rejected; anything else is done with the activity's error (outErr).
func apiRefusal(t customersync.Target, op string, err error, rejected func(...string) (crm.Outcome, error)) (crm.Outcome, bool) {
	if err == nil {
		return crm.Outcome{}, false
	}
	var invalid *sellingapi.ValidationException
	var conflict *sellingapi.ConflictException
	var notFound *sellingapi.ResourceNotFoundException
	switch {
	case errors.As(err, &invalid):
		reasons := []string{fmt.Sprintf("the Selling API refused the record (%s): %s", invalid.Reason, aws.ToString(invalid.Message))}
		for _, fe := range invalid.ErrorList {
			reasons = append(reasons, fmt.Sprintf("%s [%s]: %s", aws.ToString(fe.FieldName), fe.Code, aws.ToString(fe.Message)))
		}
		o, _ := rejected(reasons...)
		return o, true
	case errors.As(err, &conflict), errors.As(err, &notFound):
		o, _ := rejected(fmt.Sprintf("the Selling API refused to %s: %v", op, err))
		return o, true
	}
	return crm.Outcome{}, true
}

// outErr is the activity's error for a call apiRefusal did not turn into a rejection.
func outErr(t customersync.Target, op string, err error) error {
	var invalid *sellingapi.ValidationException
	var conflict *sellingapi.ConflictException
	var notFound *sellingapi.ResourceNotFoundException
	if err == nil || errors.As(err, &invalid) || errors.As(err, &conflict) || errors.As(err, &notFound) {
		return nil
	}
	return classifySelling(t, op, err)
}

// relatedEntities are the S3 fields naming entities AssociateOpportunity links.
var relatedEntities = []struct {
	field string
	kind  sellingapi.RelatedEntityType
}{
	{"solutionOffered", sellingapi.RelatedEntityTypeSolutions},
	{"awsProducts", sellingapi.RelatedEntityTypeAwsProducts},
	{"offers", sellingapi.RelatedEntityTypeAwsMarketplaceOffers},
}

// associateAndSubmit links the solutions, products and offers the record names that AWS's
// version (have, nil for a new opportunity) does not (AssociateOpportunity, idempotent)
// and, with submit, submits the opportunity to AWS (StartEngagementFromOpportunityTask, idempotent by its client token). What
// the API refuses comes back as warnings: the opportunity itself was accepted.
func (a *Activities) associateAndSubmit(ctx context.Context, client SellingAPI, t customersync.Target, id string,
	fields map[string]json.RawMessage, have json.RawMessage, submit bool, token func(string) *string, res *customersync.PushResult) ([]string, error) {
	var warnings []string
	var current map[string]json.RawMessage
	_ = json.Unmarshal(have, &current)
	for _, rel := range relatedEntities {
		var ids, already []string
		_ = json.Unmarshal(fields[rel.field], &ids)
		_ = json.Unmarshal(current[rel.field], &already)
		for _, rid := range ids {
			if rid == "" || rid == "Other" || slices.Contains(already, rid) {
				continue
			}
			_, err := client.AssociateOpportunity(ctx, &sellingapi.AssociateOpportunityInput{Catalog: catalog(t),
				OpportunityIdentifier: aws.String(id), RelatedEntityType: rel.kind, RelatedEntityIdentifier: aws.String(rid)})
			if _, done := apiRefusal(t, "associate "+rid, err, func(...string) (crm.Outcome, error) { return crm.Outcome{}, nil }); done {
				if aerr := outErr(t, "associate "+string(rel.kind)+" "+rid+" with opportunity "+id, err); aerr != nil {
					return nil, aerr
				}
				warnings = append(warnings, fmt.Sprintf("%s %s was not associated with the opportunity: %v", rel.field, rid, err))
			}
		}
	}
	if !submit {
		return warnings, nil
	}
	_, err := client.StartEngagementFromOpportunityTask(ctx, &sellingapi.StartEngagementFromOpportunityTaskInput{
		Catalog: catalog(t), Identifier: aws.String(id), ClientToken: token("StartEngagementFromOpportunityTask"),
		// AWS's co-selling with full visibility: what an S3 inbound opportunity asks for.
		AwsSubmission: &sellingapi.AwsSubmission{InvolvementType: sellingapi.SalesInvolvementTypeCoSell, Visibility: sellingapi.VisibilityFull},
	})
	if _, done := apiRefusal(t, "submit", err, func(...string) (crm.Outcome, error) { return crm.Outcome{}, nil }); done {
		if serr := outErr(t, "submit opportunity "+id+" to AWS", err); serr != nil {
			return nil, serr
		}
		return append(warnings, fmt.Sprintf("the opportunity was not submitted to AWS: %v", err)), nil
	}
	res.Submitted++
	return warnings, nil
}

// linkOpportunity gives an opportunity (the one accepting an AWS referral created) the CRM
// record's partner id: GetOpportunity, then UpdateOpportunity with every member as read
// and PartnerOpportunityIdentifier set, once more on a conflict.
func (a *Activities) linkOpportunity(ctx context.Context, client SellingAPI, t customersync.Target, id, partnerID string) error {
	for attempt := 1; ; attempt++ {
		cur, err := client.GetOpportunity(ctx, &sellingapi.GetOpportunityInput{Catalog: catalog(t), Identifier: aws.String(id)})
		if err != nil {
			return classifySelling(t, "get accepted opportunity "+id, err)
		}
		if aws.ToString(cur.PartnerOpportunityIdentifier) == partnerID {
			return nil
		}
		raw, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		var in sellingapi.UpdateOpportunityInput
		if err := json.Unmarshal(raw, &in); err != nil {
			return fmt.Errorf("accepted opportunity %s: %w", id, err)
		}
		in.Catalog, in.Identifier, in.LastModifiedDate, in.PartnerOpportunityIdentifier = catalog(t), aws.String(id), cur.LastModifiedDate, aws.String(partnerID)
		_, err = client.UpdateOpportunity(ctx, &in)
		var conflict *sellingapi.ConflictException
		if errors.As(err, &conflict) && attempt == 1 {
			continue
		}
		if err != nil {
			return classifySelling(t, "give accepted opportunity "+id+" the CRM's partner id", err)
		}
		return nil
	}
}

// mergeCRMChanges applies the fields the CRM changed (crmBody against previous, ACE's
// version the CRM last had) onto AWS's current version, all three as S3 JSON. A field the
// CRM changed that AWS changed too since previous, to another value, is a conflict: it is
// named, and nothing is merged. Without previous (ACE never sent the record to the CRM)
// every field of crmBody counts as the CRM's.
func mergeCRMChanges(awsNow, crmBody, previous json.RawMessage) (json.RawMessage, []string, error) {
	cur, mine, prev, err := threeVersions(awsNow, crmBody, previous)
	if err != nil {
		return nil, nil, err
	}
	if conflicts := editConflicts(cur, mine, prev); len(conflicts) > 0 {
		return nil, conflicts, nil
	}
	for k, v := range mine {
		if prev == nil || !sameValue(prev[k], v) {
			cur[k] = v
		}
	}
	out, err := json.Marshal(cur)
	return out, nil, err
}

// threeVersions decodes AWS's version, the CRM's record and ACE's version the CRM last had
// (nil when previous is nil or unreadable: then every field counts as the CRM's).
func threeVersions(awsNow, crmBody, previous json.RawMessage) (cur, mine, prev map[string]json.RawMessage, err error) {
	if err := json.Unmarshal(awsNow, &cur); err != nil {
		return nil, nil, nil, fmt.Errorf("AWS's version: %w", err)
	}
	if err := json.Unmarshal(crmBody, &mine); err != nil {
		return nil, nil, nil, fmt.Errorf("the CRM record: %w", err)
	}
	if previous != nil {
		if err := json.Unmarshal(previous, &prev); err != nil {
			prev = nil
		}
	}
	return cur, mine, prev, nil
}

// editConflicts names, sorted, the fields the CRM changed (mine against prev) that AWS
// changed too (cur against prev), each to another value. Without prev nothing conflicts.
func editConflicts(cur, mine, prev map[string]json.RawMessage) []string {
	if prev == nil {
		return nil
	}
	var conflicts []string
	for k, v := range mine {
		if !sameValue(prev[k], v) && !sameValue(prev[k], cur[k]) && !sameValue(cur[k], v) {
			conflicts = append(conflicts, k)
		}
	}
	slices.Sort(conflicts)
	return conflicts
}

// sameValue compares two JSON values, null and absent alike.
func sameValue(a, b json.RawMessage) bool {
	if isNull(a) && isNull(b) {
		return true
	}
	return crm.SameJSON(a, b)
}

func isNull(v json.RawMessage) bool {
	s := strings.TrimSpace(string(v))
	return s == "" || s == "null"
}

// crmStatus is a record's status field (S3 names: Draft, Submitted, Action Required, …).
func crmStatus(record json.RawMessage) string {
	var r struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(record, &r)
	return r.Status
}

// PauseBeforeWriteBackEnv is a test hook, never set in production: when the worker's
// environment names a directory in it, PushChanges writes a file there (named after the
// change's api/ "file") once a change's API calls are done and before its CRM write-back,
// and then waits until its context ends, so that a test can kill the worker in that window.
const PauseBeforeWriteBackEnv = "OPPSYNC_TEST_PAUSE_BEFORE_WRITEBACK"

func pauseBeforeWriteBack(ctx context.Context, file string) {
	dir := os.Getenv(PauseBeforeWriteBackEnv)
	if dir == "" || file == "" {
		return
	}
	_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(file, "/", "_")), nil, 0o600)
	<-ctx.Done()
}
