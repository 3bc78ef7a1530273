package sellingcontract

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// handlers are the implemented operations; they run with the server's lock held, after
// the request passed the model's validation.
var handlers map[string]func(*Server, *request) (any, error)

func init() {
	handlers = map[string]func(*Server, *request) (any, error){
		"CreateOpportunity":                        (*Server).createOpportunity,
		"GetOpportunity":                           (*Server).getOpportunity,
		"ListOpportunities":                        (*Server).listOpportunities,
		"UpdateOpportunity":                        (*Server).updateOpportunity,
		"AssociateOpportunity":                     (*Server).associateOpportunity,
		"DisassociateOpportunity":                  (*Server).disassociateOpportunity,
		"GetAwsOpportunitySummary":                 (*Server).getAwsOpportunitySummary,
		"StartEngagementFromOpportunityTask":       (*Server).startEngagementFromOpportunityTask,
		"ListEngagementFromOpportunityTasks":       (*Server).listEngagementFromOpportunityTasks,
		"ListEngagementInvitations":                (*Server).listEngagementInvitations,
		"GetEngagementInvitation":                  (*Server).getEngagementInvitation,
		"StartEngagementByAcceptingInvitationTask": (*Server).startEngagementByAcceptingInvitationTask,
		"ListEngagementByAcceptingInvitationTasks": (*Server).listEngagementByAcceptingInvitationTasks,
		"RejectEngagementInvitation":               (*Server).rejectEngagementInvitation,
	}
}

// Implemented lists the operations the server implements; the model's others are checked
// against their input shape and then answered UnsupportedOperationException.
func Implemented() []string {
	out := make([]string, 0, len(handlers))
	for name := range handlers {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Review statuses (the model's ReviewStatus enum).
const (
	ReviewPendingSubmission = "Pending Submission"
	ReviewSubmitted         = "Submitted"
	ReviewInReview          = "In review"
	ReviewApproved          = "Approved"
	ReviewRejected          = "Rejected"
	ReviewActionRequired    = "Action Required"
)

// Opportunity origins (the model's OpportunityOrigin enum).
const (
	OriginAWSReferral     = "AWS Referral"
	OriginPartnerReferral = "Partner Referral"
)

// partnerMembers are the members of an opportunity the partner writes: those of
// UpdateOpportunityRequest but the identifying ones. UpdateOpportunity replaces all of
// them ("If any field is omitted, the API assumes that the field is set to null").
func (s *Server) partnerMembers() []string {
	var out []string
	for _, name := range s.model.Shapes["UpdateOpportunityRequest"].Order {
		switch name {
		case "Catalog", "Identifier", "LastModifiedDate":
		default:
			out = append(out, name)
		}
	}
	return out
}

func (s *Server) createOpportunity(r *request) (any, error) {
	origin, _ := r.input["Origin"].(string)
	if origin == "" {
		origin = OriginPartnerReferral
	}
	if r.catalog == "AWS" && origin != OriginPartnerReferral {
		return nil, s.validationError("BUSINESS_VALIDATION_FAILED", []FieldError{{FieldName: "Origin", Code: CodeInvalidValue,
			Message: "opportunities created in the AWS catalog must have Origin Partner Referral; only the Sandbox catalog simulates AWS Referral"}})
	}
	id := "O" + strconv.FormatInt(s.nextOpp, 10)
	s.nextOpp++
	now := s.stamp()
	doc := map[string]any{}
	for _, name := range s.partnerMembers() {
		if v, ok := r.input[name]; ok && v != nil {
			doc[name] = deepCopy(v)
		}
	}
	if team, ok := r.input["OpportunityTeam"]; ok && team != nil {
		doc["OpportunityTeam"] = deepCopy(team)
	}
	doc["Id"] = id
	doc["Arn"] = s.opportunityARN(r.account, r.catalog, id)
	doc["Catalog"] = r.catalog
	doc["CreatedDate"] = fmtTime(now)
	doc["LastModifiedDate"] = fmtTime(now)
	doc["RelatedEntityIdentifiers"] = map[string]any{}
	// "Creating an opportunity sets Lifecycle.ReviewStatus to Pending Submission."
	lc := obj(doc, "LifeCycle")
	lc["ReviewStatus"] = ReviewPendingSubmission
	delete(lc, "ReviewComments")
	delete(lc, "ReviewStatusReason")
	o := &opportunity{doc: doc, created: now, modified: now, origin: origin}
	s.part(r.account, r.catalog).opportunities[id] = o
	out := map[string]any{"Id": id, "LastModifiedDate": doc["LastModifiedDate"]}
	if v, ok := doc["PartnerOpportunityIdentifier"]; ok {
		out["PartnerOpportunityIdentifier"] = v
	}
	return out, nil
}

func (s *Server) findOpportunity(r *request, member string) (*opportunity, error) {
	id, _ := r.input[member].(string)
	o, ok := s.part(r.account, r.catalog).opportunities[id]
	if !ok {
		return nil, notFound("Opportunity", id)
	}
	return o, nil
}

func (s *Server) getOpportunity(r *request) (any, error) {
	o, err := s.findOpportunity(r, "Identifier")
	if err != nil {
		return nil, err
	}
	return project(s.model.Shapes["GetOpportunityResponse"], deepCopy(o.doc)), nil
}

func (s *Server) updateOpportunity(r *request) (any, error) {
	o, err := s.findOpportunity(r, "Identifier")
	if err != nil {
		return nil, err
	}
	given, _ := parseTime(r.input["LastModifiedDate"])
	if !given.Equal(o.modified) {
		return nil, conflict(fmt.Sprintf("Opportunity %s was modified at %s, after the LastModifiedDate of the request (%s): fetch it again with GetOpportunity and retry",
			o.doc["Id"], fmtTime(o.modified), fmtTime(given)))
	}
	switch getString(o.doc, "LifeCycle", "ReviewStatus") {
	case ReviewSubmitted, ReviewInReview:
		return nil, s.validationError("BUSINESS_VALIDATION_FAILED", []FieldError{{FieldName: "LifeCycle.ReviewStatus", Code: CodeInvalidResourceState,
			Message: "the opportunity is under review by AWS and cannot be edited until the review is complete"}})
	}
	oldLC, _ := o.doc["LifeCycle"].(map[string]any)
	for _, name := range s.partnerMembers() {
		if v, ok := r.input[name]; ok && v != nil {
			o.doc[name] = deepCopy(v)
		} else {
			delete(o.doc, name)
		}
	}
	// The review is AWS's: the partner cannot set it.
	lc := obj(o.doc, "LifeCycle")
	for _, k := range []string{"ReviewStatus", "ReviewComments", "ReviewStatusReason", "NextStepsHistory"} {
		if v, ok := oldLC[k]; ok {
			lc[k] = v
		} else {
			delete(lc, k)
		}
	}
	s.touch(o)
	return map[string]any{"Id": o.doc["Id"], "LastModifiedDate": o.doc["LastModifiedDate"]}, nil
}

// identifierKey makes opportunity ids (O + up to 19 digits) sort numerically.
func identifierKey(id string) string {
	return fmt.Sprintf("%020s", strings.TrimPrefix(id, "O"))
}

func (s *Server) listOpportunities(r *request) (any, error) {
	in := r.input
	after, hasAfter := parseTime(get(in, "LastModifiedDate", "AfterLastModifiedDate"))
	before, hasBefore := parseTime(get(in, "LastModifiedDate", "BeforeLastModifiedDate"))
	cAfter, hasCAfter := parseTime(get(in, "CreatedDate", "AfterCreatedDate"))
	cBefore, hasCBefore := parseTime(get(in, "CreatedDate", "BeforeCreatedDate"))
	tAfter := getString(in, "TargetCloseDate", "AfterTargetCloseDate")
	tBefore := getString(in, "TargetCloseDate", "BeforeTargetCloseDate")
	by, desc := sortOrder(in, "LastModifiedDate")
	summary := s.model.Shapes["OpportunitySummary"]
	var items []pageItem
	for id, o := range s.part(r.account, r.catalog).opportunities {
		closeDate := getString(o.doc, "LifeCycle", "TargetCloseDate")
		switch {
		case !inList(in["Identifier"], id),
			!inList(in["LifeCycleStage"], getString(o.doc, "LifeCycle", "Stage")),
			!inList(in["LifeCycleReviewStatus"], getString(o.doc, "LifeCycle", "ReviewStatus")),
			!inList(in["CustomerCompanyName"], getString(o.doc, "Customer", "Account", "CompanyName")),
			// "only returns opportunities created or updated on or after that date and time"
			hasAfter && o.modified.Before(after),
			hasBefore && !o.modified.Before(before),
			hasCAfter && o.created.Before(cAfter),
			hasCBefore && !o.created.Before(cBefore),
			tAfter != "" && (closeDate == "" || closeDate < tAfter),
			tBefore != "" && (closeDate == "" || closeDate >= tBefore):
			continue
		}
		var key string
		switch by {
		case "LastModifiedDate":
			key = fmtTime(o.modified)
		case "CreatedDate":
			key = fmtTime(o.created)
		case "Identifier":
			key = identifierKey(id)
		case "CustomerCompanyName":
			key = strings.ToLower(getString(o.doc, "Customer", "Account", "CompanyName"))
		case "TargetCloseDate":
			key = closeDate
		}
		doc, _ := project(summary, deepCopy(o.doc)).(map[string]any)
		items = append(items, pageItem{key: key, id: identifierKey(id), doc: doc})
	}
	page, next, err := s.paginate(items, desc, in, 20)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"OpportunitySummaries": page}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

// relatedEntity checks RelatedEntityIdentifier against the model's shape for its type (the
// member of RelatedEntityIdentifiers named by RelatedEntityType).
func (s *Server) relatedEntity(r *request) (kind, id string, err error) {
	kind, _ = r.input["RelatedEntityType"].(string)
	id, _ = r.input["RelatedEntityIdentifier"].(string)
	mem, ok := s.model.Shapes["RelatedEntityIdentifiers"].Members[kind]
	if !ok || mem.Target.Member == nil {
		return "", "", s.validationError("REQUEST_VALIDATION_FAILED", []FieldError{{FieldName: "RelatedEntityType", Code: CodeInvalidEnumValue, Message: "unknown related entity type"}})
	}
	c := &checker{}
	c.value("RelatedEntityIdentifier", mem.Target.Member.effective(), mem.Target.Member.Target, id)
	if len(c.errs) > 0 {
		return "", "", s.validationError("REQUEST_VALIDATION_FAILED", c.errs)
	}
	return kind, id, nil
}

func (s *Server) associateOpportunity(r *request) (any, error) {
	o, err := s.findOpportunity(r, "OpportunityIdentifier")
	if err != nil {
		return nil, err
	}
	kind, id, err := s.relatedEntity(r)
	if err != nil {
		return nil, err
	}
	rel := obj(o.doc, "RelatedEntityIdentifiers")
	ids := stringList(rel[kind])
	if !slices.Contains(ids, id) {
		rel[kind] = append(toAny(ids), id)
		s.touch(o)
	}
	return nil, nil
}

func (s *Server) disassociateOpportunity(r *request) (any, error) {
	o, err := s.findOpportunity(r, "OpportunityIdentifier")
	if err != nil {
		return nil, err
	}
	kind, id, err := s.relatedEntity(r)
	if err != nil {
		return nil, err
	}
	rel := obj(o.doc, "RelatedEntityIdentifiers")
	ids := stringList(rel[kind])
	i := slices.Index(ids, id)
	if i < 0 {
		return nil, notFound(kind+" association", id+" of opportunity "+o.doc["Id"].(string))
	}
	ids = slices.Delete(ids, i, i+1)
	if len(ids) == 0 {
		delete(rel, kind)
	} else {
		rel[kind] = toAny(ids)
	}
	s.touch(o)
	return nil, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, v := range ss {
		out[i] = v
	}
	return out
}

func (s *Server) getAwsOpportunitySummary(r *request) (any, error) {
	o, err := s.findOpportunity(r, "RelatedOpportunityIdentifier")
	if err != nil {
		return nil, err
	}
	if o.summary == nil {
		return nil, notFound("AWS opportunity summary for opportunity", o.doc["Id"].(string)+" (AWS has none until it has reviewed the submitted opportunity)")
	}
	return deepCopy(o.summary), nil
}

// submissionRequired are the members an opportunity must have to be submitted to AWS
// ("opportunities in the Pending Submission state must have complete details"): what
// Partner Central's submission requires of every opportunity.
var submissionRequired = [][]string{
	{"Customer", "Account", "CompanyName"},
	{"Customer", "Account", "Industry"},
	{"Customer", "Account", "WebsiteUrl"},
	{"Customer", "Account", "Address", "CountryCode"},
	{"Project", "Title"},
	{"Project", "CustomerBusinessProblem"},
	{"Project", "ExpectedCustomerSpend"},
	{"LifeCycle", "TargetCloseDate"},
}

func (s *Server) startEngagementFromOpportunityTask(r *request) (any, error) {
	o, err := s.findOpportunity(r, "Identifier")
	if err != nil {
		return nil, err
	}
	switch st := getString(o.doc, "LifeCycle", "ReviewStatus"); st {
	case ReviewPendingSubmission, ReviewActionRequired:
	default:
		return nil, conflict(fmt.Sprintf("Opportunity %s has review status %s: only an opportunity Pending Submission (or Action Required) can be submitted", o.doc["Id"], st))
	}
	var missing []FieldError
	for _, path := range submissionRequired {
		v := get(o.doc, path...)
		if arr, ok := v.([]any); v == nil || v == "" || (ok && len(arr) == 0) {
			missing = append(missing, FieldError{FieldName: strings.Join(path, "."), Code: CodeRequiredFieldMissing, Message: "required to submit the opportunity to AWS"})
		}
	}
	if len(missing) > 0 {
		return nil, s.validationError("BUSINESS_VALIDATION_FAILED", missing)
	}
	o.submission, _ = deepCopy(r.input["AwsSubmission"]).(map[string]any)
	obj(o.doc, "LifeCycle")["ReviewStatus"] = ReviewSubmitted
	s.touch(o)
	taskID := randomID("task-", 13)
	start := s.stamp()
	task := map[string]any{
		"TaskId":                 taskID,
		"TaskArn":                s.noAccountARN(r.catalog, "engagement-from-opportunity-task", taskID),
		"StartTime":              fmtTime(start),
		"TaskStatus":             "COMPLETE",
		"OpportunityId":          o.doc["Id"],
		"ResourceSnapshotJobId":  randomID("job-", 13),
		"EngagementId":           randomID("eng-", 14),
		"EngagementInvitationId": randomID("engi-", 13),
	}
	p := s.part(r.account, r.catalog)
	p.fromOppTasks = append(p.fromOppTasks, task)
	// The task runs asynchronously at AWS: it is IN_PROGRESS when started and COMPLETE when
	// listed. Its effects are immediate here.
	out := deepCopy(task).(map[string]any)
	out["TaskStatus"] = "IN_PROGRESS"
	return out, nil
}

func (s *Server) listTasks(r *request, tasks []map[string]any, filters map[string]string) (any, error) {
	_, desc := sortOrder(r.input, "StartTime")
	var items []pageItem
	for _, t := range tasks {
		keep := inList(r.input["TaskStatus"], getString(t, "TaskStatus"))
		for in, field := range filters {
			keep = keep && inList(r.input[in], getString(t, field))
		}
		if keep {
			items = append(items, pageItem{key: getString(t, "StartTime"), id: getString(t, "TaskId"), doc: deepCopy(t).(map[string]any)})
		}
	}
	page, next, err := s.paginate(items, desc, r.input, 20)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"TaskSummaries": page}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func (s *Server) listEngagementFromOpportunityTasks(r *request) (any, error) {
	return s.listTasks(r, s.part(r.account, r.catalog).fromOppTasks, map[string]string{
		"TaskIdentifier": "TaskId", "OpportunityIdentifier": "OpportunityId", "EngagementIdentifier": "EngagementId"})
}

func (s *Server) listEngagementByAcceptingInvitationTasks(r *request) (any, error) {
	return s.listTasks(r, s.part(r.account, r.catalog).acceptTasks, map[string]string{
		"TaskIdentifier": "TaskId", "OpportunityIdentifier": "OpportunityId", "EngagementInvitationIdentifier": "EngagementInvitationId"})
}

// lastSegment turns an ARN into the id it ends with; an id stays as it is.
func lastSegment(idOrARN string) string {
	if i := strings.LastIndex(idOrARN, "/"); i >= 0 {
		return idOrARN[i+1:]
	}
	return idOrARN
}

func (s *Server) findInvitation(r *request) (*invitation, error) {
	id := lastSegment(getString(r.input, "Identifier"))
	inv, ok := s.part(r.account, r.catalog).invitations[id]
	if !ok {
		return nil, notFound("Engagement invitation", id)
	}
	if inv.doc["Status"] == "PENDING" && s.now().After(inv.expires) {
		inv.doc["Status"] = "EXPIRED"
	}
	return inv, nil
}

func (s *Server) getEngagementInvitation(r *request) (any, error) {
	inv, err := s.findInvitation(r)
	if err != nil {
		return nil, err
	}
	return deepCopy(inv.doc), nil
}

func (s *Server) listEngagementInvitations(r *request) (any, error) {
	in := r.input
	_, desc := sortOrder(in, "InvitationDate")
	summary := s.model.Shapes["EngagementInvitationSummary"]
	var items []pageItem
	// Every stored invitation was sent to the partner (AWS's referrals): the partner is
	// their RECEIVER. The invitations StartEngagementFromOpportunityTask sends are not kept.
	if in["ParticipantType"] == "RECEIVER" {
		for id, inv := range s.part(r.account, r.catalog).invitations {
			if inv.doc["Status"] == "PENDING" && s.now().After(inv.expires) {
				inv.doc["Status"] = "EXPIRED"
			}
			if !inList(in["Status"], getString(inv.doc, "Status")) || !inList(in["PayloadType"], getString(inv.doc, "PayloadType")) ||
				!inList(in["EngagementIdentifier"], getString(inv.doc, "EngagementId")) || !inList(in["SenderAwsAccountId"], getString(inv.doc, "SenderAwsAccountId")) {
				continue
			}
			doc, _ := project(summary, deepCopy(inv.doc)).(map[string]any)
			doc["ParticipantType"] = "RECEIVER"
			items = append(items, pageItem{key: fmtTime(inv.invited), id: id, doc: doc})
		}
	}
	page, next, err := s.paginate(items, desc, in, 20)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"EngagementInvitationSummaries": page}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func (s *Server) rejectEngagementInvitation(r *request) (any, error) {
	inv, err := s.findInvitation(r)
	if err != nil {
		return nil, err
	}
	if st := inv.doc["Status"]; st != "PENDING" {
		return nil, conflict(fmt.Sprintf("Engagement invitation %s is %s: only a PENDING invitation can be rejected", inv.doc["Id"], st))
	}
	inv.doc["Status"] = "REJECTED"
	if reason, ok := r.input["RejectionReason"].(string); ok {
		inv.doc["RejectionReason"] = reason
	}
	return nil, nil
}

func (s *Server) startEngagementByAcceptingInvitationTask(r *request) (any, error) {
	inv, err := s.findInvitation(r)
	if err != nil {
		return nil, err
	}
	if st := inv.doc["Status"]; st != "PENDING" {
		return nil, conflict(fmt.Sprintf("Engagement invitation %s is %s: only a PENDING invitation can be accepted", inv.doc["Id"], st))
	}
	inv.doc["Status"] = "ACCEPTED"
	id := "O" + strconv.FormatInt(s.nextOpp, 10)
	s.nextOpp++
	now := s.stamp()
	doc := deepCopy(inv.opportunity).(map[string]any)
	doc["Id"] = id
	doc["Arn"] = s.opportunityARN(r.account, r.catalog, id)
	doc["Catalog"] = r.catalog
	doc["CreatedDate"] = fmtTime(now)
	doc["LastModifiedDate"] = fmtTime(now)
	if _, ok := doc["RelatedEntityIdentifiers"]; !ok {
		doc["RelatedEntityIdentifiers"] = map[string]any{}
	}
	summary := deepCopy(inv.summary).(map[string]any)
	summary["RelatedOpportunityId"] = id
	summary["Catalog"] = r.catalog
	s.part(r.account, r.catalog).opportunities[id] = &opportunity{doc: doc, created: now, modified: now, origin: OriginAWSReferral, summary: summary}

	taskID := randomID("task-", 13)
	task := map[string]any{
		"TaskId":                 taskID,
		"TaskArn":                s.noAccountARN(r.catalog, "engagement-by-accepting-invitation-task", taskID),
		"StartTime":              fmtTime(s.stamp()),
		"TaskStatus":             "COMPLETE",
		"OpportunityId":          id,
		"ResourceSnapshotJobId":  randomID("job-", 13),
		"EngagementInvitationId": inv.doc["Id"],
	}
	p := s.part(r.account, r.catalog)
	p.acceptTasks = append(p.acceptTasks, task)
	out := deepCopy(task).(map[string]any)
	out["TaskStatus"] = "IN_PROGRESS"
	return out, nil
}
