package fakesm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/oppsync/oppsync/devstack/fakesm"
)

const (
	region  = "us-west-2"
	account = "111122223333"
)

// start serves a fresh fake on a free loopback port and returns it with a real SDK client.
func start(t *testing.T) (*fakesm.Server, string, *secretsmanager.Client) {
	t.Helper()
	srv := fakesm.New(region, account)
	endpoint, stop, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAVENDOR", "vendor-secret", "")),
		config.WithRetryMaxAttempts(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	return srv, endpoint, secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func get(t *testing.T, c *secretsmanager.Client, in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
	t.Helper()
	return c.GetSecretValue(context.Background(), in)
}

func TestGetSecretValueWithSDK(t *testing.T) {
	srv, _, c := start(t)
	arn := srv.Put("oppsync/acme/hubspot", `{"token":"pat-1"}`)
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-west-2:111122223333:secret:oppsync/acme/hubspot-") || len(arn) != len("arn:aws:secretsmanager:us-west-2:111122223333:secret:oppsync/acme/hubspot-")+6 {
		t.Fatalf("ARN %s, want the name and a six-character suffix", arn)
	}
	partial := strings.TrimSuffix(arn, arn[len(arn)-7:])
	for _, id := range []string{arn, partial, "oppsync/acme/hubspot"} {
		out, err := get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetSecretValue(%s): %v", id, err)
		}
		if aws.ToString(out.SecretString) != `{"token":"pat-1"}` || aws.ToString(out.ARN) != arn ||
			aws.ToString(out.Name) != "oppsync/acme/hubspot" || aws.ToString(out.VersionId) == "" ||
			len(out.VersionStages) != 1 || out.VersionStages[0] != fakesm.StageCurrent || out.CreatedDate == nil {
			t.Errorf("GetSecretValue(%s) = %+v", id, out)
		}
	}

	// Rotation: the ARN stays, the old value is AWSPREVIOUS.
	first, _ := get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if again := srv.Put("oppsync/acme/hubspot", `{"token":"pat-2"}`); again != arn {
		t.Errorf("rotation changed the ARN: %s", again)
	}
	cur, err := get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil || aws.ToString(cur.SecretString) != `{"token":"pat-2"}` {
		t.Fatalf("after rotation: %v, %v", cur, err)
	}
	prev, err := get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(fakesm.StagePrevious)})
	if err != nil || aws.ToString(prev.SecretString) != `{"token":"pat-1"}` || aws.ToString(prev.VersionId) != aws.ToString(first.VersionId) {
		t.Errorf("AWSPREVIOUS: %+v, %v", prev, err)
	}
	byID, err := get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: first.VersionId})
	if err != nil || aws.ToString(byID.SecretString) != `{"token":"pat-1"}` {
		t.Errorf("by VersionId: %+v, %v", byID, err)
	}
	if srv.Requests() != 7 {
		t.Errorf("requests = %d, want 7", srv.Requests())
	}
}

func TestNotFoundIsTheSDKsTypedError(t *testing.T) {
	srv, _, c := start(t)
	arn := srv.Put("gone", "v")
	srv.Delete("gone")
	for _, id := range []string{arn, "never-created", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:gone", "arn:aws:secretsmanager:us-west-2:999999999999:secret:gone"} {
		_, err := get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("GetSecretValue(%s) = %v, want *types.ResourceNotFoundException", id, err)
		}
	}
	// Signed for another region: that region's Secrets Manager holds none of these secrets.
	_, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)},
		func(o *secretsmanager.Options) { o.Region = "eu-west-1" })
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
		t.Errorf("signed for eu-west-1: %v", err)
	}
	srv.Put("s", "v")
	_, err = get(t, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s"), VersionStage: aws.String(fakesm.StagePrevious)})
	if !errors.As(err, &ae) || ae.ErrorCode() != "ResourceNotFoundException" {
		t.Errorf("AWSPREVIOUS of a secret never rotated: %v", err)
	}
}

// TestWireProtocol checks the raw JSON 1.1 exchange, as a non-SDK client would see it.
func TestWireProtocol(t *testing.T) {
	srv, endpoint, _ := start(t)
	arn := srv.Put("raw", "value")
	post := func(target, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			t.Errorf("Content-Type %q", ct)
		}
		return resp.StatusCode, out
	}
	status, out := post(fakesm.TargetGetSecretValue, `{"SecretId":"`+arn+`"}`)
	if status != 200 || out["SecretString"] != "value" || out["ARN"] != arn || out["Name"] != "raw" || out["VersionId"] == nil {
		t.Errorf("GetSecretValue: %d %v", status, out)
	}
	status, out = post(fakesm.TargetGetSecretValue, `{"SecretId":"nope"}`)
	if status != 400 || out["__type"] != "ResourceNotFoundException" || out["message"] == "" {
		t.Errorf("not found: %d %v", status, out)
	}
	status, out = post("secretsmanager.PutSecretValue", `{"SecretId":"raw","SecretString":"x"}`)
	if status != 400 || out["__type"] != "UnknownOperationException" {
		t.Errorf("other operation: %d %v", status, out)
	}
	status, out = post(fakesm.TargetGetSecretValue, `not json`)
	if status != 400 || out["__type"] != "SerializationException" {
		t.Errorf("bad body: %d %v", status, out)
	}
}
