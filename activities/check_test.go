package activities

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/temporal"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/customersync"
)

// Check walks the links in order and stops at the first broken one, naming it.
func TestCheckStopsAtTheFirstBrokenLink(t *testing.T) {
	stsDenied := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized"}}
	})
	for _, tc := range []struct {
		name      string
		creds     aws.CredentialsProvider
		kmsKey    string
		crmURL    string // "" = the fixture's
		broken    string
		wantSteps int
	}{
		{"all links fine", nil, testKMSKey, "", "", 5},
		{"role refused", stsDenied, testKMSKey, "", customersync.StepAssumeRole, 1},
		{"KMS key missing", nil, testKMSKey + "-other", "", customersync.StepDescribeKey, 4},
		{"CRM URL unusable", nil, testKMSKey, "nope:///x", customersync.StepCRM, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.clients.creds = tc.creds
			f.bucket.write(opp1, outboundFile(t, ace.ObjectOpportunity, rec{"O1", "one", ""}))
			crmURL := tc.crmURL
			if crmURL == "" {
				crmURL = f.crmURL
			}
			var rep customersync.CheckReport
			if err := f.run(f.acts.Check, customersync.CheckInput{Target: f.target, KMSKeyARN: tc.kmsKey, CRM: crmURL,
				Folders: []string{ace.FolderOpportunityOutbound}}, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Broken != tc.broken || len(rep.Steps) != tc.wantSteps {
				t.Fatalf("report %+v; want broken %q after %d steps", rep, tc.broken, tc.wantSteps)
			}
			if tc.broken != "" && !strings.Contains(rep.Diagnosis, tc.broken) {
				t.Errorf("diagnosis %q does not name %s", rep.Diagnosis, tc.broken)
			}
			if tc.broken == "" && f.bucket.getsOf(opp1) != 1 {
				t.Errorf("the sample file was read %d times, want once", f.bucket.getsOf(opp1))
			}
		})
	}
}

// RoleClients keeps one set of clients per role (ARN, External ID, region), built on the
// customer's own configuration: its region, and the cached assumed-role credentials that a
// further API client (the Partner Central Selling API) takes from Config.
func TestRoleClientsPerRole(t *testing.T) {
	rc := NewRoleClients(AWSOptions{Base: aws.Config{Region: "eu-central-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDWORKER", "s", "")}})
	target := customersync.Target{Customer: "acme", Env: "prod", RoleARN: "arn:aws:iam::111122223333:role/ace", ExternalID: "e1", Bucket: "b", Region: "us-west-2"}
	ctx := context.Background()
	a, err := rc.For(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := rc.For(ctx, target)
	if a.S3 != again.S3 || a.Config.Credentials != again.Config.Credentials {
		t.Errorf("the same role got new clients: its credentials would be assumed again")
	}
	other := target
	other.ExternalID = "e2"
	b, _ := rc.For(ctx, other)
	if a.S3 == b.S3 || a.Config.Credentials == b.Config.Credentials {
		t.Errorf("another External ID shares the first one's clients")
	}
	if a.Config.Region != "us-west-2" {
		t.Errorf("Config.Region = %q, want the customer's", a.Config.Region)
	}
	if _, ok := a.Config.Credentials.(*aws.CredentialsCache); !ok {
		t.Errorf("Config.Credentials is %T, want the cached assumed-role credentials", a.Config.Credentials)
	}
	if a.Put == nil || a.KMS == nil {
		t.Errorf("clients missing: %+v", a)
	}
}

// SyncFile syncs and deletes a good file; a bad one fails non-retryably as ErrBadFile,
// stays in place, and its good records land all the same.
func TestSyncFile(t *testing.T) {
	f := newFixture(t)
	f.bucket.write(opp1, outboundFile(t, ace.ObjectOpportunity, rec{"O1", "one", ""}))
	f.bucket.write(opp2, outboundFile(t, ace.ObjectOpportunity, rec{"O2", "two", ""}, rec{"", "no id", ""}))
	var res customersync.SyncFileResult
	if err := f.run(f.acts.SyncFile, customersync.SyncFileInput{Target: f.target, CRM: f.crmURL, Object: f.refs(opp1)[0]}, &res); err != nil {
		t.Fatal(err)
	}
	if !res.Acked || res.Inserted != 1 || f.bucket.object(opp1) != nil {
		t.Errorf("good file: %+v, still in the bucket: %v", res, f.bucket.object(opp1) != nil)
	}
	err := f.run(f.acts.SyncFile, customersync.SyncFileInput{Target: f.target, CRM: f.crmURL, Object: f.refs(opp2)[0]}, &res)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != customersync.ErrBadFile || !appErr.NonRetryable() {
		t.Fatalf("bad file: %v, want a non-retryable %s", err, customersync.ErrBadFile)
	}
	if f.bucket.object(opp2) == nil || f.records(ace.ObjectOpportunity)["O2"].Name != "two" {
		t.Errorf("bad file: want it left in place and its good record in the CRM")
	}
}
