package sellingcontract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// AdminPrefix is where AWS's side is served over HTTP; it is not part of AWS's API.
//
//	POST AdminPrefix+"referrals"               a Referral (JSON, LifetimeSeconds) → {"InvitationId": "engi-…"}
//	POST AdminPrefix+"opportunities/approve"   {"AccountId", "Catalog", "Identifier"}
//	POST AdminPrefix+"opportunities/update"    {"AccountId", "Catalog", "Identifier", "Patch": {…}}
//	GET  AdminPrefix+"calls"                   {"Calls": {"<Operation>": count}}
//
// An empty AccountId is DefaultAccountID, an empty Catalog "AWS".
const AdminPrefix = "/_contract/"

// ErrNotFound reports that an AWS-side method named an opportunity or invitation the
// partner's catalog does not have.
var ErrNotFound = errors.New("sellingcontract: not found")

// DefaultReferralLifetime is how long a referral may be accepted (its ExpirationDate).
const DefaultReferralLifetime = 14 * 24 * time.Hour

// Referral is an opportunity AWS refers to a partner: an engagement invitation whose
// acceptance (StartEngagementByAcceptingInvitationTask) creates the opportunity in the
// partner's catalog. Until then the partner sees only the invitation, which carries no
// customer contact: the Selling API's counterpart of the S3 integration's "Accept To View"
// masking.
type Referral struct {
	AccountID string `json:"AccountId"` // the partner; default DefaultAccountID
	Catalog   string // default "AWS"
	// Title is the engagement's title (1 to 40 characters); default the project's title,
	// cut to 40.
	Title string
	// Message is the invitation's message; default a standard one.
	Message string
	// Lifetime is how long the referral may be accepted; default DefaultReferralLifetime.
	// Over HTTP it is LifetimeSeconds.
	Lifetime time.Duration `json:"-"`
	// Opportunity is the opportunity as the partner gets it once accepted, shaped as a
	// GetOpportunityResponse without the members the server sets (Id, Arn, Catalog,
	// CreatedDate, LastModifiedDate): Customer (Account with CompanyName, Industry,
	// WebsiteUrl and Address.CountryCode, and the Contacts the invitation withholds),
	// Project (Title, CustomerBusinessProblem, ExpectedCustomerSpend), LifeCycle
	// (TargetCloseDate, Stage)...
	Opportunity map[string]any
	// ReceiverResponsibilities default to ["Co-Sell Facilitator"].
	ReceiverResponsibilities []string
	// SenderContacts are AWS's people on the referral (SenderContact shapes); optional.
	SenderContacts []map[string]any
	// InvolvementType and Visibility of AWS's opportunity; default "Co-Sell" and "Full".
	InvolvementType string
	Visibility      string
	// AWSStage is the stage of AWS's opportunity (AwsOpportunityStage); default "Qualified".
	AWSStage string
}

// normalize turns a Go value into decoded JSON (maps, slices, json.Number).
func normalize(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	err = dec.Decode(&out)
	return out, err
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// checkDoc validates a document the server is about to answer against a model shape.
func (s *Server) checkDoc(shapeName string, doc any) error {
	errs, err := s.model.Check(shapeName, doc, true)
	if err != nil {
		return fmt.Errorf("sellingcontract: %s: %w", shapeName, err)
	}
	if len(errs) > 0 {
		var parts []string
		for _, e := range errs {
			parts = append(parts, e.FieldName+": "+e.Message)
		}
		return fmt.Errorf("sellingcontract: not a valid %s: %s", shapeName, strings.Join(parts, "; "))
	}
	return nil
}

// CreateReferral is AWS referring an opportunity to the partner: a PENDING engagement
// invitation (PayloadType OpportunityInvitation, sender AWS). It returns the invitation's
// id. The opportunity and the invitation derived from it are checked against the model.
func (s *Server) CreateReferral(ref Referral) (string, error) {
	account, catalog := orDefault(ref.AccountID, DefaultAccountID), orDefault(ref.Catalog, "AWS")
	n, err := normalize(ref.Opportunity)
	if err != nil {
		return "", fmt.Errorf("sellingcontract: referral opportunity: %w", err)
	}
	opp, ok := n.(map[string]any)
	if !ok {
		return "", errors.New("sellingcontract: referral needs an Opportunity")
	}
	for _, k := range []string{"Id", "Arn", "Catalog", "CreatedDate", "LastModifiedDate"} {
		delete(opp, k)
	}
	lc := obj(opp, "LifeCycle")
	lc["ReviewStatus"] = ReviewApproved
	if _, ok := opp["RelatedEntityIdentifiers"]; !ok {
		opp["RelatedEntityIdentifiers"] = map[string]any{}
	}
	probe := deepCopy(opp).(map[string]any)
	probe["Id"], probe["Catalog"], probe["CreatedDate"], probe["LastModifiedDate"] = "O1", catalog, fmtTime(s.now()), fmtTime(s.now())
	if err := s.checkDoc("GetOpportunityResponse", probe); err != nil {
		return "", fmt.Errorf("referral opportunity: %w", err)
	}

	title := ref.Title
	if title == "" {
		title = getString(opp, "Project", "Title")
		if r := []rune(title); len(r) > 40 {
			title = string(r[:40])
		}
	}
	responsibilities := ref.ReceiverResponsibilities
	if len(responsibilities) == 0 {
		responsibilities = []string{"Co-Sell Facilitator"}
	}
	spend := get(opp, "Project", "ExpectedCustomerSpend")
	if spend == nil {
		spend = []any{}
	}
	payload := map[string]any{
		"ReceiverResponsibilities": toAny(responsibilities),
		"Customer": map[string]any{
			"Industry":    get(opp, "Customer", "Account", "Industry"),
			"CompanyName": get(opp, "Customer", "Account", "CompanyName"),
			"WebsiteUrl":  get(opp, "Customer", "Account", "WebsiteUrl"),
			"CountryCode": get(opp, "Customer", "Account", "Address", "CountryCode"),
		},
		"Project": map[string]any{
			"Title":                 get(opp, "Project", "Title"),
			"BusinessProblem":       get(opp, "Project", "CustomerBusinessProblem"),
			"TargetCompletionDate":  get(opp, "LifeCycle", "TargetCloseDate"),
			"ExpectedCustomerSpend": spend,
		},
	}
	if len(ref.SenderContacts) > 0 {
		payload["SenderContacts"] = ref.SenderContacts
	}
	lifetime := ref.Lifetime
	if lifetime <= 0 {
		lifetime = DefaultReferralLifetime
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.stamp()
	id := randomID("engi-", 13)
	doc := map[string]any{
		"Arn":                s.noAccountARN(catalog, "engagement-invitation", id),
		"Id":                 id,
		"Catalog":            catalog,
		"PayloadType":        "OpportunityInvitation",
		"EngagementId":       randomID("eng-", 14),
		"EngagementTitle":    title,
		"Status":             "PENDING",
		"InvitationDate":     fmtTime(now),
		"ExpirationDate":     fmtTime(now.Add(lifetime)),
		"SenderAwsAccountId": AWSAccountID,
		"SenderCompanyName":  "Amazon Web Services",
		"Receiver":           map[string]any{"Account": map[string]any{"AwsAccountId": account}},
		"InvitationMessage":  orDefault(ref.Message, "AWS would like to engage with you on this opportunity"),
		"Payload":            map[string]any{"OpportunityInvitation": payload},
	}
	nd, err := normalize(doc)
	if err != nil {
		return "", err
	}
	if err := s.checkDoc("GetEngagementInvitationResponse", nd); err != nil {
		return "", fmt.Errorf("referral invitation: %w", err)
	}
	summary := map[string]any{
		"Catalog":         catalog,
		"Origin":          OriginAWSReferral,
		"InvolvementType": orDefault(ref.InvolvementType, "Co-Sell"),
		"Visibility":      orDefault(ref.Visibility, "Full"),
		"LifeCycle":       map[string]any{"Stage": orDefault(ref.AWSStage, "Qualified")},
	}
	if c := get(opp, "Customer", "Contacts"); c != nil {
		summary["Customer"] = map[string]any{"Contacts": deepCopy(c)}
	}
	if t := get(opp, "LifeCycle", "TargetCloseDate"); t != nil {
		summary["LifeCycle"].(map[string]any)["TargetCloseDate"] = t
	}
	summary["Project"] = map[string]any{"ExpectedCustomerSpend": deepCopy(spend)}
	if err := s.checkDoc("GetAwsOpportunitySummaryResponse", summary); err != nil {
		return "", fmt.Errorf("referral summary: %w", err)
	}
	s.part(account, catalog).invitations[id] = &invitation{doc: nd.(map[string]any), invited: now, expires: now.Add(lifetime), opportunity: opp, summary: summary}
	return id, nil
}

func (s *Server) stored(account, catalog, id string) (*opportunity, error) {
	account, catalog = orDefault(account, DefaultAccountID), orDefault(catalog, "AWS")
	o, ok := s.part(account, catalog).opportunities[id]
	if !ok {
		return nil, fmt.Errorf("%w: opportunity %s in catalog %s of account %s", ErrNotFound, id, catalog, account)
	}
	return o, nil
}

// ApproveOpportunity is AWS approving a submitted opportunity: ReviewStatus Approved, an
// AWS opportunity summary (GetAwsOpportunitySummary) with the submission's involvement
// type and visibility, LastModifiedDate bumped.
func (s *Server) ApproveOpportunity(account, catalog, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.stored(account, catalog, id)
	if err != nil {
		return err
	}
	switch st := getString(o.doc, "LifeCycle", "ReviewStatus"); st {
	case ReviewSubmitted, ReviewInReview:
	default:
		return fmt.Errorf("sellingcontract: opportunity %s has review status %q: AWS approves only submitted opportunities (StartEngagementFromOpportunityTask)", id, st)
	}
	obj(o.doc, "LifeCycle")["ReviewStatus"] = ReviewApproved
	summary := map[string]any{
		"Catalog":              o.doc["Catalog"],
		"RelatedOpportunityId": id,
		"Origin":               o.origin,
		"InvolvementType":      orDefault(getString(o.submission, "InvolvementType"), "Co-Sell"),
		"Visibility":           orDefault(getString(o.submission, "Visibility"), "Full"),
		"LifeCycle":            map[string]any{"Stage": "Prospect"},
	}
	if t := get(o.doc, "LifeCycle", "TargetCloseDate"); t != nil {
		summary["LifeCycle"].(map[string]any)["TargetCloseDate"] = t
	}
	if spend := get(o.doc, "Project", "ExpectedCustomerSpend"); spend != nil {
		summary["Project"] = map[string]any{"ExpectedCustomerSpend": deepCopy(spend)}
	}
	o.summary = summary
	s.touch(o)
	return nil
}

// UpdateOpportunityAsAWS is AWS's people changing an opportunity: patch is merged into it
// (objects member by member, a null removes a member, anything else replaces), the
// result must still be a valid GetOpportunityResponse, and LastModifiedDate is bumped.
func (s *Server) UpdateOpportunityAsAWS(account, catalog, id string, patch map[string]any) error {
	n, err := normalize(patch)
	if err != nil {
		return fmt.Errorf("sellingcontract: patch: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.stored(account, catalog, id)
	if err != nil {
		return err
	}
	doc := deepCopy(o.doc).(map[string]any)
	merge(doc, n.(map[string]any))
	for _, k := range []string{"Id", "Arn", "Catalog", "CreatedDate", "LastModifiedDate"} {
		doc[k] = o.doc[k]
	}
	if err := s.checkDoc("GetOpportunityResponse", doc); err != nil {
		return err
	}
	o.doc = doc
	s.touch(o)
	return nil
}

func merge(dst, patch map[string]any) {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			if dv, ok := dst[k].(map[string]any); ok {
				merge(dv, pv)
			} else {
				dst[k] = deepCopy(pv)
			}
		default:
			dst[k] = deepCopy(v)
		}
	}
}

type adminTarget struct {
	AccountID  string `json:"AccountId"`
	Catalog    string
	Identifier string
	Patch      map[string]any
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(err error) {
		status := http.StatusBadRequest
		if errors.Is(err, ErrNotFound) {
			status = http.StatusNotFound
		}
		reply(status, map[string]string{"error": err.Error()})
	}
	route := r.Method + " " + strings.TrimPrefix(r.URL.Path, AdminPrefix)
	switch route {
	case "GET calls":
		reply(http.StatusOK, map[string]any{"Calls": s.Calls()})
	case "POST referrals":
		var ref struct {
			Referral
			LifetimeSeconds int64
		}
		if err := json.NewDecoder(r.Body).Decode(&ref); err != nil {
			fail(fmt.Errorf("sellingcontract: referral body: %w", err))
			return
		}
		ref.Lifetime = time.Duration(ref.LifetimeSeconds) * time.Second
		id, err := s.CreateReferral(ref.Referral)
		if err != nil {
			fail(err)
			return
		}
		reply(http.StatusOK, map[string]string{"InvitationId": id})
	case "POST opportunities/approve", "POST opportunities/update":
		var t adminTarget
		if err := json.NewDecoder(r.Body).Decode(&t); err != nil {
			fail(fmt.Errorf("sellingcontract: body: %w", err))
			return
		}
		var err error
		if strings.HasSuffix(route, "approve") {
			err = s.ApproveOpportunity(t.AccountID, t.Catalog, t.Identifier)
		} else {
			err = s.UpdateOpportunityAsAWS(t.AccountID, t.Catalog, t.Identifier, t.Patch)
		}
		if err != nil {
			fail(err)
			return
		}
		reply(http.StatusOK, map[string]string{})
	default:
		reply(http.StatusNotFound, map[string]string{"error": "sellingcontract: no AWS-side endpoint " + route + "; see AdminPrefix"})
	}
}
