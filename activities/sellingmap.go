package activities

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The seam between the Selling API's shapes and ACE's S3 JSON records, so that the CRM side
// (parser, merge, connectors, pre-flight validation) sees the same records whichever
// transport brought them. opportunityFromAPI and opportunityToAPI are the only functions
// that know the mapping.
//
// TEMPORARY: a minimal table of the fields the tests exercise, until ace/apimapping (the
// full table from AWS's MappingToS3Fields.csv) is merged; then these two functions call
// apimapping.FromAPI and apimapping.ToAPI and this table goes.

// fieldPath maps one S3 field to a member path of GetOpportunity's output (opportunity) or
// GetAwsOpportunitySummary's (summary); writable fields go to Create/UpdateOpportunity.
type fieldPath struct {
	s3, path string
	summary  bool
	write    bool
}

var tmpMapping = []fieldPath{
	{s3: "apnCrmUniqueIdentifier", path: "Id"},
	{s3: "partnerCrmUniqueIdentifier", path: "PartnerOpportunityIdentifier", write: true},
	{s3: "lastModifiedDate", path: "LastModifiedDate"},
	{s3: "createdDate", path: "CreatedDate"},
	{s3: "customerCompanyName", path: "Customer.Account.CompanyName", write: true},
	{s3: "customerWebsite", path: "Customer.Account.WebsiteUrl", write: true},
	{s3: "industry", path: "Customer.Account.Industry", write: true},
	{s3: "country", path: "Customer.Account.Address.CountryCode", write: true},
	{s3: "postalCode", path: "Customer.Account.Address.PostalCode", write: true},
	{s3: "state", path: "Customer.Account.Address.StateOrRegion", write: true},
	{s3: "city", path: "Customer.Account.Address.City", write: true},
	{s3: "customerEmail", path: "Customer.Contacts[0].Email", write: true},
	{s3: "customerFirstName", path: "Customer.Contacts[0].FirstName", write: true},
	{s3: "customerLastName", path: "Customer.Contacts[0].LastName", write: true},
	{s3: "partnerProjectTitle", path: "Project.Title", write: true},
	{s3: "projectDescription", path: "Project.CustomerBusinessProblem", write: true},
	{s3: "nextStep", path: "LifeCycle.NextSteps", write: true},
	{s3: "stage", path: "LifeCycle.Stage", write: true},
	{s3: "targetCloseDate", path: "LifeCycle.TargetCloseDate", write: true},
	{s3: "status", path: "LifeCycle.ReviewStatus"},
	{s3: "opportunityOwnership", path: "Origin"},
	{s3: "solutionOffered", path: "RelatedEntityIdentifiers.Solutions"},
	{s3: "awsProducts", path: "RelatedEntityIdentifiers.AwsProducts"},
	{s3: "offers", path: "RelatedEntityIdentifiers.AwsMarketplaceOffers"},
	{s3: "aWSStage", path: "LifeCycle.Stage", summary: true},
}

var tmpCountries = map[string]string{"US": "United States", "DE": "Germany", "FR": "France", "GB": "United Kingdom"}

// opportunityFromAPI maps GetOpportunity's output and AWS's summary (nil when AWS has none)
// to an S3 JSON opportunity record.
func opportunityFromAPI(opportunity, summary json.RawMessage) (json.RawMessage, error) {
	var opp, sum map[string]any
	if err := json.Unmarshal(opportunity, &opp); err != nil {
		return nil, fmt.Errorf("opportunity: %w", err)
	}
	if summary != nil {
		if err := json.Unmarshal(summary, &sum); err != nil {
			return nil, fmt.Errorf("AWS summary: %w", err)
		}
	}
	rec := map[string]any{}
	for _, f := range tmpMapping {
		src := opp
		if f.summary {
			src = sum
		}
		v, ok := lookupPath(src, f.path)
		if !ok {
			continue
		}
		if f.s3 == "country" {
			if name, ok := tmpCountries[fmt.Sprint(v)]; ok {
				v = name
			}
		}
		rec[f.s3] = v
	}
	return json.Marshal(rec)
}

// opportunityToAPI maps an S3 JSON opportunity record to the body of CreateOpportunity
// (update false) or UpdateOpportunity (update true, with Identifier): only the members the
// partner writes.
func opportunityToAPI(record json.RawMessage, update bool) (json.RawMessage, error) {
	var rec map[string]any
	if err := json.Unmarshal(record, &rec); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, f := range tmpMapping {
		v, ok := rec[f.s3]
		if !f.write || !ok || v == nil {
			continue
		}
		if f.s3 == "country" {
			for code, name := range tmpCountries {
				if name == v {
					v = code
				}
			}
		}
		setPath(out, f.path, v)
	}
	if id, ok := rec["apnCrmUniqueIdentifier"].(string); ok && update {
		out["Identifier"] = id
	}
	return json.Marshal(out)
}

func lookupPath(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, seg := range strings.Split(path, ".") {
		name, first := strings.CutSuffix(seg, "[0]")
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := mm[name]
		if !ok || v == nil {
			return nil, false
		}
		if first {
			l, ok := v.([]any)
			if !ok || len(l) == 0 {
				return nil, false
			}
			v = l[0]
		}
		cur = v
	}
	return cur, true
}

func setPath(m map[string]any, path string, v any) {
	segs := strings.Split(path, ".")
	cur := m
	for _, seg := range segs[:len(segs)-1] {
		name, first := strings.CutSuffix(seg, "[0]")
		if first {
			l, _ := cur[name].([]any)
			if len(l) == 0 {
				l = []any{map[string]any{}}
				cur[name] = l
			}
			cur = l[0].(map[string]any)
			continue
		}
		next, ok := cur[name].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[name] = next
		}
		cur = next
	}
	cur[segs[len(segs)-1]] = v
}
