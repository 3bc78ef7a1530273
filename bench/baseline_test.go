package bench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/sqlite"
	"github.com/oppsync/oppsync/devstack"
)

// baselineResult is what one run of the sequential loop measured.
type baselineResult struct {
	elapsed  time.Duration
	files    int
	records  int
	requests s3Requests
	cpu      cpuUse
}

func (r baselineResult) recordsPerSec() float64 { return float64(r.records) / r.elapsed.Seconds() }

// baselineS3 is the part of the S3 client the sequential loop uses.
type baselineS3 interface {
	s3.ListObjectsV2APIClient
	GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObjectTagging(ctx context.Context, in *s3.PutObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error)
}

// runBaseline syncs a fresh backlog of files×records, in a fresh customer bucket, with the
// sequential loop in this process, reaching S3 through counter (the same path as the
// worker's) with the same assumed-role credentials as OppSync.
func runBaseline(b *testing.B, s *benchStack, kind string, counter *s3Counter, files, records int) baselineResult {
	b.Helper()
	ctx := context.Background()
	cust, err := s.NewCustomer(ctx, s.name(kind))
	if err != nil {
		b.Fatal(err)
	}
	putBacklog(b, s, cust.Bucket, files, records)

	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "crm.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	client, creds := baselineClient(b, s, cust, counter.URL)
	// Assume the role before timing, as OppSync's first cycle does before its clock starts.
	if _, err := creds.Retrieve(ctx); err != nil {
		b.Fatalf("baseline: assume role %s: %v", cust.RoleARN, err)
	}

	before := counter.snapshot(cust.Bucket)
	cpu := s.startCPU(nil)
	start := time.Now()
	res, err := sequentialSync(ctx, client, cust.Bucket, store)
	res.elapsed = time.Since(start)
	res.cpu = cpu.stop()
	res.requests = counter.snapshot(cust.Bucket).since(before)
	if err != nil {
		b.Fatalf("baseline: %v", err)
	}
	if res.files != files || res.records != files*records {
		b.Fatalf("baseline synced %d files, %d records; want %d files, %d records", res.files, res.records, files, files*records)
	}
	return res
}

// baselineClient builds the S3 client of the loop: the customer's role assumed through STS
// with its External ID, signing requests to endpoint.
func baselineClient(b *testing.B, stack *benchStack, cust *devstack.Customer, endpoint string) (*s3.Client, *aws.CredentialsCache) {
	b.Helper()
	cfg := stack.awsConfig(b)
	creds := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), cust.RoleARN,
		func(o *stscreds.AssumeRoleOptions) {
			o.ExternalID = aws.String(cust.ExternalID)
			o.RoleSessionName = "oppsync-bench-baseline"
		}))
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.Credentials = creds
		o.Region = stack.Region
		o.UsePathStyle = true
		o.BaseEndpoint = aws.String(endpoint)
	})
	return client, creds
}

// sequentialSync is what AWS's sample reader (aws-samples/partner-crm-integration-samples)
// does, one file at a time: list each outbound folder; for every object read its tags and
// skip it when it is tagged partner_processed=true, else download it, parse it, write its
// records to the CRM and tag it partner_processed=true.
func sequentialSync(ctx context.Context, client baselineS3, bucket string, store crm.Store) (baselineResult, error) {
	var res baselineResult
	for _, folder := range []string{ace.FolderOpportunityOutbound, ace.FolderLeadOutbound} {
		pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(folder)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return res, fmt.Errorf("list %s: %w", folder, err)
			}
			for _, o := range page.Contents {
				key := aws.ToString(o.Key)
				done, n, err := syncOne(ctx, client, bucket, key, store)
				if err != nil {
					return res, err
				}
				if done {
					res.files++
					res.records += n
				}
			}
		}
	}
	return res, nil
}

// syncOne handles one object of the sequential loop; it reports whether it synced the file
// and how many records the file held.
func syncOne(ctx context.Context, client baselineS3, bucket, key string, store crm.Store) (bool, int, error) {
	tags, err := client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return false, 0, fmt.Errorf("get tags of %s: %w", key, err)
	}
	for _, tag := range tags.TagSet {
		if aws.ToString(tag.Key) == ace.ProcessedTagKey && aws.ToString(tag.Value) == ace.ProcessedTagValue {
			return false, 0, nil
		}
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return false, 0, fmt.Errorf("get %s: %w", key, err)
	}
	body, err := io.ReadAll(out.Body)
	_ = out.Body.Close()
	if err != nil {
		return false, 0, fmt.Errorf("read %s: %w", key, err)
	}
	file, err := ace.ParseOutbound(key, body)
	if err != nil {
		return false, 0, err
	}
	if err := file.Problem(); err != nil {
		return false, 0, err
	}
	up, err := store.Upsert(ctx, crm.Source{Key: key, ETag: aws.ToString(out.ETag)}, file.Records)
	if err != nil {
		return false, 0, fmt.Errorf("write %s to the CRM: %w", key, err)
	}
	_, err = client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String(ace.ProcessedTagKey), Value: aws.String(ace.ProcessedTagValue)}}},
	})
	if err != nil {
		return false, 0, fmt.Errorf("tag %s: %w", key, err)
	}
	return true, up.Total(), nil
}
