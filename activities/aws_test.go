package activities

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/oppsync/oppsync/customersync"
	"go.temporal.io/sdk/temporal"
)

func TestClassifyAWS(t *testing.T) {
	target := customersync.Target{Customer: "acme", Env: "prod", RoleARN: "arn:aws:iam::111122223333:role/r", ExternalID: "ext-secret-1", Bucket: "b", Region: "us-west-2"}
	apiErr := func(service, code string) error {
		return &smithy.OperationError{ServiceID: service, OperationName: "Op", Err: &smithy.GenericAPIError{Code: code, Message: "m"}}
	}
	tests := []struct {
		name      string
		err       error
		wantType  string // "" = retryable plain error
		wantInMsg string
	}{
		{"STS access denied", apiErr("STS", "AccessDenied"), customersync.ErrAccessDenied, "External ID"},
		{"S3 access denied", apiErr("S3", "AccessDenied"), customersync.ErrAccessDenied, "ACE's policy"},
		{"KMS access denied", apiErr("KMS", "AccessDeniedException"), customersync.ErrAccessDenied, "ACE's policy"},
		{"bad vendor key", apiErr("STS", "InvalidClientTokenId"), customersync.ErrAccessDenied, "trust policy"},
		{"no bucket", apiErr("S3", "NoSuchBucket"), customersync.ErrBucketMissing, "does not exist"},
		{"throttled", apiErr("S3", "SlowDown"), "", "SlowDown"},
		{"network", errors.New("connection reset by peer"), "", "connection reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classifyAWS(target, "list opportunity-outbound/", tt.err)
			var appErr *temporal.ApplicationError
			isApp := errors.As(err, &appErr)
			switch {
			case tt.wantType == "" && isApp:
				t.Fatalf("transient error became an application error %q: it would not retry", appErr.Type())
			case tt.wantType != "" && (!isApp || appErr.Type() != tt.wantType || !appErr.NonRetryable()):
				t.Fatalf("classifyAWS = %v, want non-retryable %s", err, tt.wantType)
			}
			if !strings.Contains(err.Error(), tt.wantInMsg) || !strings.Contains(err.Error(), "acme/prod") {
				t.Fatalf("message %q should name the customer and say %q", err, tt.wantInMsg)
			}
			if strings.Contains(err.Error(), target.ExternalID) {
				t.Fatalf("message repeats the External ID: %q", err)
			}
		})
	}
}
