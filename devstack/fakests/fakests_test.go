package fakests_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/oppsync/oppsync/devstack/fakests"
)

const (
	roleARN    = "arn:aws:iam::210987654321:role/oppsync-acme"
	externalID = "oppsync-3f1c9a7e"
)

var roleCreds = fakests.Credentials{AccessKeyID: "AKIAACMEUSER", SecretAccessKey: "acme-secret"}

// start serves a fresh fake with one role on a free loopback port.
func start(t *testing.T) (*fakests.Server, string) {
	t.Helper()
	srv := fakests.New()
	srv.AddRole(roleARN, externalID, roleCreds)
	u, stop, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return srv, u
}

// stsClient is a real SDK STS client pointed at the fake, signing with vendor keys.
func stsClient(t *testing.T, endpoint string) *sts.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-west-2"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAVENDOR", "vendor-secret", "")),
		config.WithRetryMaxAttempts(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	return sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func retrieve(t *testing.T, client *sts.Client, arn string, extID *string) (aws.Credentials, error) {
	t.Helper()
	provider := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(client, arn, func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = extID
	}))
	return provider.Retrieve(context.Background())
}

func TestAssumeRoleWithSDK(t *testing.T) {
	srv, endpoint := start(t)
	client := stsClient(t, endpoint)

	creds, err := retrieve(t, client, roleARN, aws.String(externalID))
	if err != nil {
		t.Fatalf("AssumeRole with the right External ID: %v", err)
	}
	if creds.AccessKeyID != roleCreds.AccessKeyID || creds.SecretAccessKey != roleCreds.SecretAccessKey || creds.SessionToken != "" {
		t.Errorf("got credentials %+v, want the role's %+v", creds, roleCreds)
	}
	if !creds.CanExpire || time.Until(creds.Expires) < 10*time.Minute {
		t.Errorf("credentials expire at %v, want about %v from now", creds.Expires, stscreds.DefaultDuration)
	}
	if creds.AccountID != "210987654321" {
		t.Errorf("AccountID = %q, want the role's account", creds.AccountID)
	}

	out, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("oppsync-worker"),
		ExternalId: aws.String(externalID), DurationSeconds: aws.Int32(900),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.AssumedRoleUser.Arn), "arn:aws:sts::210987654321:assumed-role/oppsync-acme/oppsync-worker"; got != want {
		t.Errorf("AssumedRoleUser.Arn = %q, want %q", got, want)
	}
	if id := aws.ToString(out.AssumedRoleUser.AssumedRoleId); !strings.HasPrefix(id, "AROA") || !strings.HasSuffix(id, ":oppsync-worker") {
		t.Errorf("AssumedRoleId = %q, want AROA…:oppsync-worker", id)
	}
	if d := time.Until(aws.ToTime(out.Credentials.Expiration)); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("expiration in %v, want 15m", d)
	}
	if srv.Requests() != 2 {
		t.Errorf("Requests() = %d, want 2", srv.Requests())
	}
}

func TestAssumeRoleDenied(t *testing.T) {
	_, endpoint := start(t)
	client := stsClient(t, endpoint)

	tests := []struct {
		name       string
		arn        string
		externalID *string
		wantCode   string
		wantInMsg  string
	}{
		{"wrong external id", roleARN, aws.String("guessed-id"), "AccessDenied", "sts:ExternalId"},
		{"missing external id", roleARN, nil, "AccessDenied", "requires one"},
		{"unknown role", "arn:aws:iam::210987654321:role/someone-else", aws.String(externalID), "AccessDenied", "not authorized to perform: sts:AssumeRole"},
		{"malformed role arn", "arn:aws:iam::2109:role/x", aws.String(externalID), "ValidationError", "RoleArn"},
		{"user, not role", "arn:aws:iam::210987654321:user/acme", aws.String(externalID), "ValidationError", "RoleArn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := retrieve(t, client, tc.arn, tc.externalID)
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("got %v, want a smithy.APIError", err)
			}
			if apiErr.ErrorCode() != tc.wantCode {
				t.Errorf("ErrorCode() = %q, want %q (%v)", apiErr.ErrorCode(), tc.wantCode, err)
			}
			if !strings.Contains(apiErr.ErrorMessage(), tc.wantInMsg) {
				t.Errorf("message %q does not mention %q", apiErr.ErrorMessage(), tc.wantInMsg)
			}
			if strings.Contains(apiErr.ErrorMessage(), "guessed-id") {
				t.Errorf("message echoes the supplied External ID: %q", apiErr.ErrorMessage())
			}
		})
	}
}

// TestWireFormat checks the raw XML against the shapes real STS sends.
func TestWireFormat(t *testing.T) {
	_, endpoint := start(t)
	post := func(form url.Values) (int, string) {
		resp, err := http.PostForm(endpoint, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	form := url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {roleARN},
		"RoleSessionName": {"s1"}, "ExternalId": {"nope-nope"}}

	status, body := post(form)
	if status != http.StatusForbidden {
		t.Errorf("wrong External ID: status %d, want 403", status)
	}
	for _, want := range []string{`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`,
		"<Type>Sender</Type>", "<Code>AccessDenied</Code>", "on resource: " + roleARN, "<RequestId>"} {
		if !strings.Contains(body, want) {
			t.Errorf("error body lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "nope-nope") {
		t.Errorf("error body echoes the External ID:\n%s", body)
	}

	form.Set("ExternalId", externalID)
	form.Set("RoleSessionName", "session-1")
	status, body = post(form)
	if status != http.StatusOK {
		t.Fatalf("status %d, body %s", status, body)
	}
	for _, want := range []string{`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>AKIAACMEUSER</AccessKeyId>`,
		"<Arn>arn:aws:sts::210987654321:assumed-role/oppsync-acme/session-1</Arn>", "<ResponseMetadata><RequestId>"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s:\n%s", want, body)
		}
	}

	form.Set("Action", "GetCallerIdentity")
	if status, body = post(form); status != http.StatusBadRequest || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Errorf("unsupported action: status %d, body %s", status, body)
	}
	form.Set("Action", "AssumeRole")
	form.Set("DurationSeconds", "60")
	if status, body = post(form); status != http.StatusBadRequest || !strings.Contains(body, "<Code>ValidationError</Code>") {
		t.Errorf("DurationSeconds=60: status %d, body %s", status, body)
	}
}

func TestLoadRoles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roles.json")
	src := fakests.New()
	src.AddRole(roleARN, externalID, roleCreds)
	data, err := json.Marshal(src.Roles())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	srv := fakests.New()
	if err := srv.LoadRoles(path); err != nil {
		t.Fatal(err)
	}
	endpoint, stop, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	creds, err := retrieve(t, stsClient(t, endpoint), roleARN, aws.String(externalID))
	if err != nil || creds.AccessKeyID != roleCreds.AccessKeyID {
		t.Fatalf("after LoadRoles: %+v, %v", creds, err)
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte(`[{"roleArn":"arn:aws:iam::1:role/x","credentials":{"accessKeyId":"a","secretAccessKey":"b"}}]`), 0o600)
	if err := fakests.New().LoadRoles(bad); err == nil {
		t.Error("LoadRoles accepted a malformed role ARN")
	}
}
