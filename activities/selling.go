package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.temporal.io/sdk/temporal"

	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/sellingapi"
)

// SellingEndpointEnv overrides the Partner Central Selling API's endpoint (a contract
// server in the local stack), as AWS_ENDPOINT_URL_<SERVICE> does for the SDK's own clients.
const SellingEndpointEnv = "AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING"

// SellingAPI is the part of the Selling API client the activities use.
type SellingAPI interface {
	ListOpportunities(ctx context.Context, in *sellingapi.ListOpportunitiesInput) (*sellingapi.ListOpportunitiesOutput, error)
	GetOpportunity(ctx context.Context, in *sellingapi.GetOpportunityInput) (*sellingapi.GetOpportunityOutput, error)
	GetAwsOpportunitySummary(ctx context.Context, in *sellingapi.GetAwsOpportunitySummaryInput) (*sellingapi.GetAwsOpportunitySummaryOutput, error)
	CreateOpportunity(ctx context.Context, in *sellingapi.CreateOpportunityInput) (*sellingapi.CreateOpportunityOutput, error)
	UpdateOpportunity(ctx context.Context, in *sellingapi.UpdateOpportunityInput) (*sellingapi.UpdateOpportunityOutput, error)
	AssociateOpportunity(ctx context.Context, in *sellingapi.AssociateOpportunityInput) (*sellingapi.AssociateOpportunityOutput, error)
	StartEngagementFromOpportunityTask(ctx context.Context, in *sellingapi.StartEngagementFromOpportunityTaskInput) (*sellingapi.StartEngagementFromOpportunityTaskOutput, error)
	ListEngagementInvitations(ctx context.Context, in *sellingapi.ListEngagementInvitationsInput) (*sellingapi.ListEngagementInvitationsOutput, error)
	GetEngagementInvitation(ctx context.Context, in *sellingapi.GetEngagementInvitationInput) (*sellingapi.GetEngagementInvitationOutput, error)
	StartEngagementByAcceptingInvitationTask(ctx context.Context, in *sellingapi.StartEngagementByAcceptingInvitationTaskInput) (*sellingapi.StartEngagementByAcceptingInvitationTaskOutput, error)
	RejectEngagementInvitation(ctx context.Context, in *sellingapi.RejectEngagementInvitationInput) (*sellingapi.RejectEngagementInvitationOutput, error)
	ListEngagementByAcceptingInvitationTasks(ctx context.Context, in *sellingapi.ListEngagementByAcceptingInvitationTasksInput) (*sellingapi.ListEngagementByAcceptingInvitationTasksOutput, error)
}

// sellingClients holds, per worker, one sellingapi.Limiter per partner account, shared by
// every activity that calls the API for that account, so that all of them together stay
// under AWS's quotas (10 reads and 1 write a second per account).
type sellingClients struct {
	endpoint      string
	reads, writes float64
	throttle      []sellingapi.Option

	mu       sync.Mutex
	limiters map[string]*sellingapi.Limiter
}

func newSellingClients() *sellingClients {
	return &sellingClients{endpoint: os.Getenv(SellingEndpointEnv), reads: sellingapi.DefaultReadsPerSecond,
		writes: sellingapi.DefaultWritesPerSecond, limiters: map[string]*sellingapi.Limiter{}}
}

// SetSellingLimits sets the rates the worker holds each partner account to (reads and
// writes a second; AWS's published quotas by default) and how a throttled call is retried
// (sellingapi.WithThrottleRetries: attempts, base and maximum delay; zero keeps the
// defaults), and the endpoint (empty: SellingEndpointEnv or AWS's). Call it before the worker
// starts. A function, not a method: every exported method of Activities is an activity.
func SetSellingLimits(a *Activities, reads, writes float64, endpoint string, throttle ...sellingapi.Option) {
	a.selling.mu.Lock()
	defer a.selling.mu.Unlock()
	a.selling.reads, a.selling.writes, a.selling.throttle = reads, writes, throttle
	if endpoint != "" {
		a.selling.endpoint = endpoint
	}
	a.selling.limiters = map[string]*sellingapi.Limiter{}
}

var roleAccountPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/`)

// partnerAccount is the AWS account of the customer's role: the partner account whose
// quotas the Selling API counts.
func partnerAccount(roleARN string) string {
	if m := roleAccountPattern.FindStringSubmatch(roleARN); m != nil {
		return m[1]
	}
	return roleARN
}

// sellingClient returns the Selling API client of t's customer: signed with its assumed
// role's credentials (the activities' client factory), waiting on the partner account's
// shared Limiter. It does no I/O.
func (a *Activities) sellingClient(ctx context.Context, t customersync.Target) (SellingAPI, error) {
	c, err := a.aws.For(ctx, t)
	if err != nil {
		return nil, err
	}
	s := a.selling
	s.mu.Lock()
	account := partnerAccount(t.RoleARN)
	lim, ok := s.limiters[account]
	if !ok {
		lim = sellingapi.NewLimiter(s.reads, s.writes)
		s.limiters[account] = lim
	}
	opts := append([]sellingapi.Option{sellingapi.WithLimiter(lim)}, s.throttle...)
	if s.endpoint != "" {
		opts = append(opts, sellingapi.WithEndpoint(s.endpoint))
	}
	s.mu.Unlock()
	return sellingapi.New(c.Config, opts...), nil
}

// catalog is the Selling API catalog of t's environment: AWS (prod) or Sandbox (beta).
func catalog(t customersync.Target) *string {
	return aws.String(customersync.Env(t.Env).Catalog())
}

// classifySelling turns a Selling API error into one that tells the operator what to fix:
// a refused permission or an unusable role is non-retryable AccessDenied; throttling that
// outlasted the client's backoff is a retryable Throttled error (Temporal retries the
// activity later); anything else stays retryable as it is.
func classifySelling(t customersync.Target, op string, err error) error {
	if err == nil {
		return nil
	}
	var denied *sellingapi.AccessDeniedException
	var throttled *sellingapi.ThrottlingException
	var apiErr *sellingapi.APIError
	switch {
	case errors.As(err, &denied):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s for customer %s/%s: the role %s may not call partnercentral:%s in catalog %s: check that the Partner Central policy "+
				"(AWSPartnerCentralOpportunityManagement or equivalent) is attached to the role: %v",
			op, t.Customer, t.Env, t.RoleARN, denied.Operation, customersync.Env(t.Env).Catalog(), err),
			customersync.ErrAccessDenied, err)
	case errors.As(err, &throttled):
		return temporal.NewApplicationErrorWithCause(fmt.Sprintf(
			"%s for customer %s/%s: the Selling API is throttling partner account %s past the client's backoff: retried later: %v",
			op, t.Customer, t.Env, partnerAccount(t.RoleARN), err), customersync.ErrThrottled, err)
	case errors.As(err, &apiErr) && (apiErr.Code == "UnrecognizedClientException" || apiErr.Code == "InvalidSignatureException" ||
		apiErr.Code == "ExpiredTokenException" || apiErr.Code == "MissingAuthenticationTokenException"):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s for customer %s/%s: the Selling API does not accept the credentials of role %s (%s): check the role and its trust policy",
			op, t.Customer, t.Env, t.RoleARN, apiErr.Code), customersync.ErrAccessDenied, err)
	}
	// A failed AssumeRole surfaces through the credentials provider: the S3 classification
	// names the role and the trust policy.
	return classifyAWS(t, op, err)
}

// clientToken derives a Selling API idempotency token from parts: the same CRM change
// always gives the same token, so a retry after a crash between the call and the CRM
// write-back gets the first call's answer (the opportunity it created) instead of a second
// one. The API allows up to 64 characters.
func clientToken(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "oppsync-" + hex.EncodeToString(sum[:])[:56]
}

// The CRM key of an opportunity born from an AWS referral accepted over the API. The
// referral reaches the CRM as the engagement invitation (no opportunity exists until the
// partner accepts), keyed by the invitation's id; accepting it creates an opportunity with
// an id of its own. The connectors match records by ACE id (or by partner id only while a
// record has no ACE id), and an ACE id, once on a record, never changes (crm.ErrIDConflict),
// so the accepted opportunity keeps the invitation's id as its key in the CRM: the pull
// writes it under that id, and the push sends the CRM's changes to the opportunity the
// acceptance task created. Both look the other id up in the acceptance tasks
// (ListEngagementByAcceptingInvitationTasks), one read each, for these records only.

// acceptedInvitation returns the invitation whose acceptance created opportunity id, or "".
func acceptedInvitation(ctx context.Context, client SellingAPI, t customersync.Target, id string) (string, error) {
	out, err := client.ListEngagementByAcceptingInvitationTasks(ctx, &sellingapi.ListEngagementByAcceptingInvitationTasksInput{
		Catalog: catalog(t), OpportunityIdentifier: []string{id}})
	if err != nil {
		return "", classifySelling(t, "list the acceptance tasks of opportunity "+id, err)
	}
	for _, task := range out.TaskSummaries {
		if inv := aws.ToString(task.EngagementInvitationId); inv != "" && aws.ToString(task.OpportunityId) == id {
			return inv, nil
		}
	}
	return "", nil
}

// invitationOpportunity returns the opportunity the acceptance of invitation created, or "".
func invitationOpportunity(ctx context.Context, client SellingAPI, t customersync.Target, invitation string) (string, error) {
	out, err := client.ListEngagementByAcceptingInvitationTasks(ctx, &sellingapi.ListEngagementByAcceptingInvitationTasksInput{
		Catalog: catalog(t), EngagementInvitationIdentifier: []string{invitation}})
	if err != nil {
		return "", classifySelling(t, "list the acceptance tasks of AWS referral "+invitation, err)
	}
	for _, task := range out.TaskSummaries {
		if opp := aws.ToString(task.OpportunityId); opp != "" {
			return opp, nil
		}
	}
	return "", nil
}
