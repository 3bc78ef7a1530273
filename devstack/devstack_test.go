package devstack_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm/secret"
	"github.com/oppsync/oppsync/devstack"
	"github.com/oppsync/oppsync/devstack/sellingcontract"
)

// startStack starts a stack for the test, skipping when the tools are missing, except in
// CI, where a missing tool must fail the build rather than silently skip the suite.
func startStack(t *testing.T, opts devstack.Options) *devstack.Stack {
	t.Helper()
	binDir, err := devstack.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := devstack.ToolsPresent(binDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	opts.Dir = t.TempDir()
	opts.Logf = t.Logf
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Stop)
	return stack
}

// partnerS3 is what OppSync does: assume the customer's role through STS with the External
// ID, using vendor credentials from the environment the stack describes, and use the
// temporary credentials against the customer's bucket.
func partnerS3(t *testing.T, stack *devstack.Stack, roleARN, externalID string) (*s3.Client, aws.CredentialsProvider) {
	t.Helper()
	for _, kv := range stack.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	provider := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), roleARN,
		func(o *stscreds.AssumeRoleOptions) { o.ExternalID = aws.String(externalID) }))
	cfg.Credentials = provider
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), provider
}

func wantAccessDenied(t *testing.T, what string, err error) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" {
		t.Errorf("%s: got %v, want AccessDenied", what, err)
	}
}

func TestStack(t *testing.T) {
	start := time.Now()
	stack := startStack(t, devstack.Options{
		Toxiproxy:        true,
		SearchAttributes: map[string]string{"CustomerId": "Keyword"},
	})
	t.Logf("stack up in %v", time.Since(start))
	ctx := context.Background()

	cust, err := stack.NewCustomer(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if cust.Bucket != "ace-apn-acme-beta-us-west-2" || cust.KMSKeyARN != stack.ACEKeyARN {
		t.Errorf("customer %+v", cust)
	}

	t.Run("temporal serving", func(t *testing.T) {
		c, err := client.Dial(client.Options{
			HostPort:  stack.TemporalAddress,
			Namespace: stack.Namespace,
			Logger:    tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			t.Fatalf("CheckHealth: %v", err)
		}
	})

	t.Run("temporal database is a write-ahead log", func(t *testing.T) {
		// SQLite's default rollback journal syncs the disk several times per Temporal write;
		// in WAL mode SQLite keeps temporal.db-wal beside the database while it is open.
		wal := filepath.Join(filepath.Dir(stack.LogDir()), "temporal.db-wal")
		if _, err := os.Stat(wal); err != nil {
			t.Errorf("the dev server's database is not in WAL mode (%v): want --sqlite-pragma %v", err, devstack.DefaultTemporalPragmas)
		}
	})

	t.Run("kms has ACE's key", func(t *testing.T) {
		k := kms.New(kms.Options{Region: stack.Region, BaseEndpoint: aws.String(stack.KMSEndpoint),
			Credentials: aws.AnonymousCredentials{}})
		out, err := k.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(devstack.ACEKeyAlias), NumberOfBytes: aws.Int32(32)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.KeyId) != stack.ACEKeyARN {
			t.Errorf("data key under %s, want %s", aws.ToString(out.KeyId), stack.ACEKeyARN)
		}
	})

	t.Run("wrong external id is denied", func(t *testing.T) {
		_, provider := partnerS3(t, stack, cust.RoleARN, "oppsync-not-the-right-one")
		_, err := provider.Retrieve(ctx)
		wantAccessDenied(t, "AssumeRole with a wrong External ID", err)
	})

	t.Run("partner through the role", func(t *testing.T) {
		before := stack.STS.Requests()
		s3c, provider := partnerS3(t, stack, cust.RoleARN, cust.ExternalID)
		creds, err := provider.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if creds.Source != stscreds.ProviderName || stack.STS.Requests() == before {
			t.Fatalf("credentials did not come from the fake STS: %+v", creds)
		}
		if creds.AccessKeyID == stack.S3RootAccessKey {
			t.Fatal("the role handed out the root keys")
		}
		bucket := aws.String(cust.Bucket)
		acl := types.ObjectCannedACLBucketOwnerFullControl
		inbound := ace.FolderOpportunityInbound + "opp_1.json"

		// Allowed: put with the ACL, list, get.
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(inbound),
			Body: strings.NewReader(`{"version":"2.0"}`), ACL: acl}); err != nil {
			t.Fatalf("put %s with bucket-owner-full-control: %v", inbound, err)
		}
		list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String(ace.FolderOpportunityInbound)})
		if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != inbound {
			t.Fatalf("list %s: %v, %+v", ace.FolderOpportunityInbound, err, list)
		}
		get, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String(inbound)})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(get.Body)
		get.Body.Close()
		if string(body) != `{"version":"2.0"}` {
			t.Errorf("get: %q", body)
		}

		// Denied like ACE: a put without the ACL, and any put into ACE's folders.
		_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(ace.FolderOpportunityInbound + "opp_2.json"),
			Body: strings.NewReader(`{}`)})
		wantAccessDenied(t, "put without ACL", err)
		for _, folder := range []string{ace.FolderOpportunityOutbound, ace.FolderLeadOutbound, ace.FolderOpportunityResults, ace.FolderLeadResults} {
			_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(folder + "x.json"),
				Body: strings.NewReader(`{}`), ACL: acl})
			wantAccessDenied(t, "put into "+folder, err)
		}

		// ACE writes outbound; the partner reads, tags and deletes it.
		outbound := ace.FolderOpportunityOutbound + "ace_1.json"
		if err := stack.PutAsACE(ctx, cust.Bucket, outbound, []byte(`{"opportunities":[]}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := s3c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: bucket, Key: aws.String(outbound),
			Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String(ace.ProcessedTagKey), Value: aws.String(ace.ProcessedTagValue)}}}}); err != nil {
			t.Fatalf("tag %s: %v", outbound, err)
		}
		tags, err := s3c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: bucket, Key: aws.String(outbound)})
		if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != ace.ProcessedTagKey {
			t.Errorf("tags of %s: %v, %+v", outbound, err, tags)
		}
		for _, key := range []string{outbound, inbound} {
			if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String(key)}); err != nil {
				t.Errorf("delete %s: %v", key, err)
			}
		}
		left, err := stack.RootS3(ctx).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket})
		if err != nil || len(left.Contents) != 0 {
			t.Errorf("after deletes: %v, %d objects left", err, len(left.Contents))
		}

		// Another customer's bucket is out of reach.
		other, err := stack.NewCustomer(ctx, "globex")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(other.Bucket)})
		wantAccessDenied(t, "list another customer's bucket", err)
	})

	t.Run("secrets manager resolves a CRM credential", func(t *testing.T) {
		// Env points the default AWS configuration at the stack's Secrets Manager, as a
		// worker started with it resolves a connector's NAME_secret= reference.
		partnerS3(t, stack, cust.RoleARN, cust.ExternalID) // sets the stack's environment
		if !slices.Contains(stack.Env(), "AWS_ENDPOINT_URL_SECRETS_MANAGER="+stack.SecretsManagerEndpoint) {
			t.Fatalf("Env lacks the Secrets Manager endpoint: %v", stack.Env())
		}
		arn := stack.PutSecret("oppsync/acme/hubspot", `{"token":"pat-local"}`)
		if again := stack.PutSecret("oppsync/acme/hubspot", `{"token":"pat-local-2"}`); again != arn {
			t.Errorf("PutSecret on an existing secret changed its ARN: %s, then %s", arn, again)
		}
		ref, err := secret.Parse("token_secret", arn+"#token")
		if err != nil {
			t.Fatal(err)
		}
		before := stack.SecretsManager.Requests()
		v, err := secret.NewResolver(nil, 0).Resolve(ctx, ref)
		if err != nil || v != "pat-local-2" {
			t.Fatalf("Resolve(%s) = %q, %v", ref, v, err)
		}
		if stack.SecretsManager.Requests() != before+1 {
			t.Error("the value did not come from the stack's Secrets Manager")
		}
	})

	t.Run("selling API knows the role's account", func(t *testing.T) {
		if !slices.Contains(stack.Env(), "AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING="+stack.SellingAPIEndpoint) {
			t.Fatalf("Env lacks the Selling API endpoint: %v", stack.Env())
		}
		account := strings.Split(cust.RoleARN, ":")[4]
		invitation, err := stack.SellingAPI.CreateReferral(sellingcontract.Referral{AccountID: account, Opportunity: map[string]any{
			"Customer": map[string]any{"Account": map[string]any{"CompanyName": "Example Corp", "Industry": "Other", "WebsiteUrl": "https://example.com",
				"Address": map[string]any{"CountryCode": "US"}}},
			"Project":   map[string]any{"Title": "Migration", "CustomerBusinessProblem": "Capacity runs out every quarter on premises."},
			"LifeCycle": map[string]any{"TargetCloseDate": "2030-01-31"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		_, provider := partnerS3(t, stack, cust.RoleARN, cust.ExternalID)
		creds, err := provider.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		body := `{"Catalog":"AWS","ParticipantType":"RECEIVER"}`
		req, _ := http.NewRequest(http.MethodPost, stack.SellingAPIEndpoint+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "AWSPartnerCentralSelling.ListEngagementInvitations")
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), sellingcontract.SigningName, "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), invitation) {
			t.Fatalf("ListEngagementInvitations as the role: %d %s (want the referral %s to account %s)", resp.StatusCode, raw, invitation, account)
		}
	})

	t.Run("toxiproxy latency", func(t *testing.T) {
		endpoint, proxy, err := stack.ProxyS3(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := proxy.AddToxic("slow", "latency", "downstream", 1, toxiproxy.Attributes{"latency": 300}); err != nil {
			t.Fatal(err)
		}
		root := stack.RootS3(ctx)
		viaProxy := s3.New(root.Options(), func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint) })
		began := time.Now()
		if _, err := viaProxy.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(cust.Bucket)}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(began); d < 300*time.Millisecond {
			t.Errorf("HeadBucket through the proxy took %v, want ≥ 300ms of injected latency", d)
		}
	})
}

func TestStartWithoutTools(t *testing.T) {
	_, err := devstack.Start(context.Background(), devstack.Options{Dir: t.TempDir(), BinDir: t.TempDir()})
	if !errors.Is(err, devstack.ErrToolsMissing) {
		t.Fatalf("got %v, want ErrToolsMissing", err)
	}
	for _, want := range []string{"temporal", "versitygw", "local-kms", "make tools"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), devstack.ToxiproxyBin+",") {
		t.Errorf("error %q asks for toxiproxy without Options.Toxiproxy", err)
	}
}

// TestRestartSameDir checks that a stack restarted on the same Dir (as `make demo` does)
// keeps its buckets, objects and ACE key, and that customers can be set up again.
func TestRestartSameDir(t *testing.T) {
	first := startStack(t, devstack.Options{})
	dir := filepath.Dir(first.LogDir())
	ctx := context.Background()
	cust, err := first.NewCustomer(ctx, "initech")
	if err != nil {
		t.Fatal(err)
	}
	key := ace.FolderOpportunityOutbound + "kept.json"
	if err := first.PutAsACE(ctx, cust.Bucket, key, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	first.Stop()
	first.Stop() // safe twice

	second, err := devstack.Start(ctx, devstack.Options{Dir: dir, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Stop)
	if second.ACEKeyARN != first.ACEKeyARN {
		t.Errorf("ACE key changed across restarts: %s, then %s", first.ACEKeyARN, second.ACEKeyARN)
	}
	again, err := second.NewCustomer(ctx, "initech")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.RootS3(ctx).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(again.Bucket), Key: aws.String(key)}); err != nil {
		t.Errorf("object from the first run: %v", err)
	}
	s3c, _ := partnerS3(t, second, again.RoleARN, again.ExternalID)
	if _, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(again.Bucket), Key: aws.String(key)}); err != nil {
		t.Errorf("partner get after restart: %v", err)
	}
}

// TestStartupFailureNamesLog checks that a server dying at startup is reported with its log
// file and the log's last lines, and that nothing is left running.
func TestStartupFailureNamesLog(t *testing.T) {
	bin := t.TempDir()
	for _, name := range []string{devstack.TemporalBin, devstack.VersityGWBin, devstack.LocalKMSBin} {
		script := "#!/bin/sh\nsleep 30\n"
		if name == devstack.VersityGWBin {
			script = "#!/bin/sh\necho 'listen: address already in use' >&2\nexit 3\n"
		}
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began := time.Now()
	_, err := devstack.Start(ctx, devstack.Options{Dir: dir, BinDir: bin})
	if err == nil {
		t.Fatal("Start succeeded with a failing versitygw")
	}
	for _, want := range []string{"versitygw exited during startup", filepath.Join(dir, "logs", "versitygw.log"), "address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if d := time.Since(began); d > 8*time.Second {
		t.Errorf("Start took %v to give up; the stand-ins should have been killed at once", d)
	}
}
