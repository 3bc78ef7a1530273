package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/oppsync/oppsync/customersync"
	"go.temporal.io/sdk/temporal"
)

// S3API is the part of the S3 client the activities use.
type S3API interface {
	s3.ListObjectsV2APIClient
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	PutObjectTagging(ctx context.Context, in *s3.PutObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error)
}

// AWSOptions configures how the worker reaches AWS.
type AWSOptions struct {
	// Base is the worker's own AWS configuration (its identity signs the AssumeRole calls;
	// AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_S3 are honoured through it).
	Base aws.Config
	// S3PathStyle forces path-style S3 addressing (needed by local S3 servers).
	S3PathStyle bool
	// S3Endpoint, when set, overrides the S3 endpoint of Base (e.g. a fault-injection proxy).
	S3Endpoint string
	// HTTPClient, when set, carries every S3 request (the benchmark counts requests with it).
	HTTPClient aws.HTTPClient
	// SessionName is the RoleSessionName of assumed roles; it shows in the customer's CloudTrail.
	SessionName string
}

// Clients gives the activities the AWS clients of one customer: its ACE bucket, ACE's KMS
// key and the AWS configuration they are built from, all reached through the customer's
// role. RoleClients, the worker's, assumes the role; a test passes in-memory fakes.
type Clients interface {
	// For returns the clients of t's customer. Its error names the customer and what to
	// fix; one no retry can cure is a non-retryable temporal.ApplicationError.
	For(ctx context.Context, t customersync.Target) (CustomerClients, error)
}

// CustomerClients are the AWS clients of one customer.
type CustomerClients struct {
	// Config is the customer's AWS configuration: the worker's own with the customer's
	// region and the credentials of its assumed role (cached, refreshed before they expire).
	// A client of another AWS API reached through the same role (the Partner Central
	// Selling API) is built from it, e.g. with its package's NewFromConfig; Region is the
	// bucket's, so a client of an API served elsewhere sets its own.
	Config aws.Config
	// S3 reads and acknowledges files in the customer's ACE bucket.
	S3 S3API
	// KMS describes ACE's key (Check).
	KMS KMSAPI
	// Put writes inbound files. The activities use it only through inboundUploader, which
	// confines writes to the inbound folders.
	Put S3PutAPI
}

// S3PutAPI is the only S3 write OppSync makes into a customer's bucket besides
// acknowledging outbound and result files: inbound files.
type S3PutAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// KMSAPI is the part of the KMS client the activities use.
type KMSAPI interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

// RoleClients are the worker's Clients: per customer role (role ARN, External ID, region)
// it assumes the role through STS with the External ID, caches the credentials and keeps
// the clients, all in worker memory: credentials never leave the process and never enter
// workflow history.
type RoleClients struct {
	opts AWSOptions
	sts  *sts.Client

	mu      sync.Mutex
	entries map[clientKey]CustomerClients
}

type clientKey struct {
	roleARN, externalID, region string
}

// NewRoleClients returns the Clients that reach each customer's account through its role,
// with opts.
func NewRoleClients(opts AWSOptions) *RoleClients {
	if opts.SessionName == "" {
		opts.SessionName = "oppsync"
	}
	return &RoleClients{opts: opts, sts: sts.NewFromConfig(opts.Base), entries: map[clientKey]CustomerClients{}}
}

// For returns the clients of t's role, made on first use. It does no I/O: the role is
// assumed on the first request that needs its credentials.
func (c *RoleClients) For(_ context.Context, t customersync.Target) (CustomerClients, error) {
	k := clientKey{t.RoleARN, t.ExternalID, t.Region}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		return e, nil
	}
	provider := stscreds.NewAssumeRoleProvider(c.sts, t.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = aws.String(t.ExternalID)
		o.RoleSessionName = c.opts.SessionName
	})
	cfg := c.opts.Base.Copy()
	cfg.Credentials = aws.NewCredentialsCache(provider)
	cfg.Region = t.Region
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = c.opts.S3PathStyle
		if c.opts.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(c.opts.S3Endpoint)
		}
		if c.opts.HTTPClient != nil {
			o.HTTPClient = c.opts.HTTPClient
		}
	})
	e := CustomerClients{Config: cfg, S3: client, KMS: kms.NewFromConfig(cfg), Put: client}
	c.entries[k] = e
	return e, nil
}

// classifyAWS turns an AWS error into an error that tells the operator what to fix, and
// marks the ones no retry can cure as non-retryable. Everything else (throttling, 5xx,
// timeouts, resets) stays retryable.
func classifyAWS(t customersync.Target, op string, err error) error {
	if err == nil {
		return nil
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("%s for customer %s/%s: %w", op, t.Customer, t.Env, err)
	}
	var stsFailure bool
	var opErr *smithy.OperationError
	if errors.As(err, &opErr) && opErr.Service() == "STS" {
		stsFailure = true
	}
	switch code := apiErr.ErrorCode(); code {
	case "AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "SignatureDoesNotMatch",
		"ExpiredToken", "InvalidAccessKeyId", "AllAccessDisabled", "RegionDisabledException":
		var hint string
		if stsFailure {
			hint = fmt.Sprintf("AssumeRole on %s was refused: check that the role exists, that its trust policy names our AWS account and that the External ID we hold matches its sts:ExternalId condition", t.RoleARN)
		} else {
			hint = fmt.Sprintf("the role %s may not %s on bucket %s: check that ACE's policy is attached to the role", t.RoleARN, op, t.Bucket)
		}
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s for customer %s/%s: %s (%s)", op, t.Customer, t.Env, hint, code),
			customersync.ErrAccessDenied, err)
	case "NotFoundException", "DisabledException", "KMSInvalidStateException":
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s for customer %s/%s: the KMS key is missing or not usable (%s): check the ACE KMS key ARN", op, t.Customer, t.Env, code),
			customersync.ErrAccessDenied, err)
	case "NoSuchBucket":
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s for customer %s/%s: bucket %s does not exist in region %s: check the bucket name and region ACE gave", op, t.Customer, t.Env, t.Bucket, t.Region),
			customersync.ErrBucketMissing, err)
	}
	var httpErr interface{ HTTPStatusCode() int }
	if errors.As(err, &httpErr) && httpErr.HTTPStatusCode() == http.StatusForbidden {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s for customer %s/%s: forbidden (%s): check the role's permissions on bucket %s", op, t.Customer, t.Env, apiErr.ErrorCode(), t.Bucket),
			customersync.ErrAccessDenied, err)
	}
	return fmt.Errorf("%s for customer %s/%s: %w", op, t.Customer, t.Env, err)
}
