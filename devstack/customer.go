package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/devstack/fakests"
)

// Dummy "vendor" credentials: OppSync's own identity, which only signs its STS AssumeRole
// calls. The fake STS does not check signatures, so any value works.
const (
	vendorAccessKeyID = "AKIAOPPSYNCVENDOR000"
	vendorSecretKey   = "oppsync-local-vendor-secret-not-checked"
)

// Customer is one ACE customer set up on the stack the way ACE sets up a partner: a bucket
// owned by "ACE" (the S3 root user) and a role OppSync assumes, with an External ID, to get
// a non-admin S3 user whose access the bucket policy limits.
type Customer struct {
	// Name is the customer's name as passed to NewCustomer (in ACE, the partner's SPMS id).
	Name string
	// Bucket is the customer's ACE bucket, ace-apn-<name>-beta-us-west-2.
	Bucket string
	// RoleARN and ExternalID are what OppSync assumes through STS to reach the bucket.
	RoleARN    string
	ExternalID string
	// KMSKeyARN is ACE's key for the bucket (the stack's ACE key).
	KMSKeyARN string
	// AccessKeyID and SecretAccessKey are the S3 user behind the role. Only tests should use
	// them directly; OppSync gets them from AssumeRole.
	AccessKeyID     string
	SecretAccessKey string
}

// customerName is what fits into a bucket name (lowercase DNS label characters) and keeps
// ace-apn-<name>-beta-us-west-2 within S3's 63 characters.
var customerName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

// NewCustomer sets up customer name: an S3 user, the bucket ace-apn-<name>-beta-us-west-2
// with a policy that behaves like ACE's (see bucketPolicy), and a role in the fake STS whose
// credentials are the user's. Calling it again for the same name (also in a reused
// Options.Dir) gives the user new keys and the role a new External ID.
func (s *Stack) NewCustomer(ctx context.Context, name string) (*Customer, error) {
	if !customerName.MatchString(name) {
		return nil, fmt.Errorf("devstack: customer name %q: want 1-40 lowercase letters, digits and inner hyphens (it goes into the bucket name)", name)
	}
	c := &Customer{
		Name:            name,
		Bucket:          "ace-apn-" + name + "-beta-" + Region,
		RoleARN:         fmt.Sprintf("arn:aws:iam::%s:role/oppsync-%s", randomDigits(12), name),
		ExternalID:      "oppsync-" + strings.ToLower(randomKey(24)),
		KMSKeyARN:       s.ACEKeyARN,
		AccessKeyID:     "AKIA" + randomKey(16),
		SecretAccessKey: randomSecret(),
	}
	if err := s.createS3User(ctx, c.AccessKeyID, c.SecretAccessKey); err != nil {
		return nil, fmt.Errorf("devstack: customer %s: %w", name, err)
	}

	root := s.RootS3(ctx)
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket: aws.String(c.Bucket),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(Region),
		},
	})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return nil, fmt.Errorf("devstack: customer %s: create bucket %s: %w (S3 log %s)", name, c.Bucket, err, s.logPath("versitygw"))
	}
	policy, err := bucketPolicy(c.Bucket, c.AccessKeyID)
	if err != nil {
		return nil, err
	}
	if _, err := root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(c.Bucket), Policy: aws.String(policy)}); err != nil {
		return nil, fmt.Errorf("devstack: customer %s: put policy on bucket %s: %w (S3 log %s)", name, c.Bucket, err, s.logPath("versitygw"))
	}

	// No session token: versitygw's internal IAM rejects any request carrying an
	// X-Amz-Security-Token it did not mint (InvalidToken), so the role hands out the user's
	// long-term keys as they are.
	s.STS.AddRole(c.RoleARN, c.ExternalID, fakests.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey})
	s.logf("devstack: customer %s: bucket %s, role %s", name, c.Bucket, c.RoleARN)
	return c, nil
}

// createS3User creates a non-admin versitygw user through the admin CLI, replacing a user
// of the same key left over from an earlier run.
func (s *Stack) createS3User(ctx context.Context, accessKey, secret string) error {
	admin := func(args ...string) error {
		all := append([]string{"admin", "--region", Region, "--endpoint-url", s.adminURL}, args...)
		cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, VersityGWBin), all...)
		// Root credentials through the environment, so they do not show in ps.
		cmd.Env = append(cmd.Environ(), "ADMIN_ACCESS_KEY_ID="+s.S3RootAccessKey, "ADMIN_SECRET_ACCESS_KEY="+s.S3RootSecret)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("versitygw admin %s: %w: %s", args[0], err, strings.TrimSpace(out.String()))
		}
		return nil
	}
	err := admin("create-user", "--access", accessKey, "--secret", secret, "--role", "user")
	if err != nil && strings.Contains(err.Error(), "exists") {
		if err = admin("delete-user", "--access", accessKey); err == nil {
			err = admin("create-user", "--access", accessKey, "--secret", secret, "--role", "user")
		}
	}
	if err != nil {
		return fmt.Errorf("create S3 user: %w (S3 log %s)", err, s.logPath("versitygw"))
	}
	return nil
}

// bucketPolicy makes a bucket behave like ACE's for the partner's user (principal = its
// access key id, as versitygw's internal IAM names users). Source: AWS Partner Central CRM
// integration guide, technical-faq-s3 and custom-opportunity-sharing:
//   - the role may list the bucket and get, put and delete objects and their tags;
//   - only ACE writes the outbound and results folders: a partner PUT there is AccessDenied;
//   - every partner PUT must carry the canned ACL bucket-owner-full-control, otherwise it
//     is AccessDenied.
//
// versitygw v1.8.0 enforces the Deny statements including the s3:x-amz-acl condition.
func bucketPolicy(bucket, principal string) (string, error) {
	type statement struct {
		Sid       string
		Effect    string
		Principal map[string][]string
		Action    []string
		Resource  []string
		Condition map[string]map[string]string `json:",omitempty"`
	}
	who := map[string][]string{"AWS": {principal}}
	arn := "arn:aws:s3:::" + bucket
	var aceOnly []string
	for _, folder := range []string{ace.FolderOpportunityOutbound, ace.FolderLeadOutbound, ace.FolderOpportunityResults, ace.FolderLeadResults} {
		aceOnly = append(aceOnly, arn+"/"+folder+"*")
	}
	policy := struct {
		Version   string
		Statement []statement
	}{
		Version: "2012-10-17",
		Statement: []statement{
			{Sid: "PartnerListsBucket", Effect: "Allow", Principal: who,
				Action: []string{"s3:ListBucket"}, Resource: []string{arn}},
			{Sid: "PartnerReadsWritesObjects", Effect: "Allow", Principal: who,
				Action: []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject",
					"s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObjectTagging"},
				Resource: []string{arn + "/*"}},
			{Sid: "OnlyACEWritesOutboundAndResults", Effect: "Deny", Principal: who,
				Action: []string{"s3:PutObject"}, Resource: aceOnly},
			{Sid: "PartnerPutsNeedBucketOwnerFullControl", Effect: "Deny", Principal: who,
				Action: []string{"s3:PutObject"}, Resource: []string{arn + "/*"},
				Condition: map[string]map[string]string{"StringNotEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
		},
	}
	b, err := json.Marshal(policy)
	if err != nil {
		return "", fmt.Errorf("devstack: bucket policy: %w", err)
	}
	return string(b), nil
}

// RootS3 returns an S3 client acting as the S3 root user (path-style, us-west-2), which
// plays ACE: it owns the buckets and bypasses their policies. ctx is unused today; it is
// there so the client may later be built from loaded configuration.
func (s *Stack) RootS3(ctx context.Context) *s3.Client {
	_ = ctx
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.S3Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.S3RootAccessKey, s.S3RootSecret, ""),
	})
}

// PutAsACE writes an object as ACE does, e.g. an outbound file: as the bucket owner, past
// the bucket policy that keeps the partner out of those folders.
func (s *Stack) PutAsACE(ctx context.Context, bucket, key string, body []byte) error {
	_, err := s.RootS3(ctx).PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("devstack: put s3://%s/%s as ACE: %w", bucket, key, err)
	}
	return nil
}

// Env returns the environment (KEY=VALUE) a worker process needs to use the stack: the
// Temporal address and namespace, the AWS endpoints (Secrets Manager's too, where CRM
// credentials referenced by ARN are resolved, and the Selling API's) and region, path-style S3, dummy vendor
// credentials that only sign STS and Secrets Manager calls (the fakes do not check them),
// and the vendor's KMS key for payload encryption.
func (s *Stack) Env() []string {
	return []string{
		"TEMPORAL_ADDRESS=" + s.TemporalAddress,
		"TEMPORAL_NAMESPACE=" + s.Namespace,
		"AWS_ENDPOINT_URL_S3=" + s.S3Endpoint,
		"AWS_ENDPOINT_URL_STS=" + s.STSEndpoint,
		"AWS_ENDPOINT_URL_KMS=" + s.KMSEndpoint,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + s.SecretsManagerEndpoint,
		"AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING=" + s.SellingAPIEndpoint,
		"AWS_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=" + vendorAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + vendorSecretKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"OPPSYNC_S3_PATH_STYLE=true",
		// Several local workers (tests, the demo) run at once: each gets a free port for
		// /metrics and /healthz, and logs it.
		"OPPSYNC_HTTP_LISTEN=127.0.0.1:0",
		codec.EnvKMSKey + "=" + PayloadKeyAlias,
	}
}

func (s *Stack) logPath(name string) string { return filepath.Join(s.logDir, name+".log") }
