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

// awsClients keeps, per customer role, a credentials cache and an S3 client in worker memory:
// credentials never leave the process and never enter workflow history.
type awsClients struct {
	opts AWSOptions
	sts  *sts.Client

	mu      sync.Mutex
	entries map[clientKey]*clientEntry
}

type clientKey struct {
	roleARN, externalID, region string
}

type clientEntry struct {
	creds *aws.CredentialsCache
	s3    S3API
	kms   KMSAPI
	// put is used only through inboundUploader, which confines writes to inbound folders.
	put putter
}

// KMSAPI is the part of the KMS client the activities use.
type KMSAPI interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

func newAWSClients(opts AWSOptions) *awsClients {
	if opts.SessionName == "" {
		opts.SessionName = "oppsync"
	}
	return &awsClients{opts: opts, sts: sts.NewFromConfig(opts.Base), entries: map[clientKey]*clientEntry{}}
}

func (c *awsClients) entry(t customersync.Target) *clientEntry {
	k := clientKey{t.RoleARN, t.ExternalID, t.Region}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		return e
	}
	provider := stscreds.NewAssumeRoleProvider(c.sts, t.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = aws.String(t.ExternalID)
		o.RoleSessionName = c.opts.SessionName
	})
	creds := aws.NewCredentialsCache(provider)
	client := s3.NewFromConfig(c.opts.Base, func(o *s3.Options) {
		o.Credentials = creds
		o.Region = t.Region
		o.UsePathStyle = c.opts.S3PathStyle
		if c.opts.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(c.opts.S3Endpoint)
		}
		if c.opts.HTTPClient != nil {
			o.HTTPClient = c.opts.HTTPClient
		}
	})
	kmsClient := kms.NewFromConfig(c.opts.Base, func(o *kms.Options) {
		o.Credentials = creds
		o.Region = t.Region
	})
	e := &clientEntry{creds: creds, s3: client, kms: kmsClient, put: client}
	c.entries[k] = e
	return e
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
