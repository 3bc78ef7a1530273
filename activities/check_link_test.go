package activities

import (
	"errors"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/oppsync/oppsync/customersync"
	"go.temporal.io/sdk/temporal"
)

// authRefused is a connector error saying the CRM refused our credentials.
type authRefused struct{}

func (authRefused) Error() string    { return "HTTP 401" }
func (authRefused) AuthFailed() bool { return true }

func TestBrokenLinkKeywords(t *testing.T) {
	target := customersync.Target{Customer: "acme", Env: "prod", RoleARN: "arn:aws:iam::111122223333:role/r", Bucket: "b"}
	s3Denied := func(msg string) error {
		return classifyAWS(target, "get opportunity-outbound/a.json", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject",
			Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: msg}})
	}
	ping := func(err error) error {
		return temporal.NewNonRetryableApplicationError("CRM does not answer", customersync.ErrCRMConfig, crmPingError{err})
	}
	tests := []struct {
		step string
		err  error
		want string
	}{
		{customersync.StepAssumeRole, errors.New("refused"), customersync.BrokenLinkAssumeRole},
		{customersync.StepListBucket, errors.New("denied"), customersync.BrokenLinkListBucket},
		{customersync.StepGetObject, s3Denied("Access Denied"), customersync.BrokenLinkGetObject},
		{customersync.StepGetObject, s3Denied("User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: kms:Decrypt on the resource"), customersync.BrokenLinkDecrypt},
		{customersync.StepDescribeKey, errors.New("not found"), customersync.BrokenLinkDescribeKey},
		{customersync.StepCRM, ping(authRefused{}), customersync.BrokenLinkCRMAuth},
		{customersync.StepCRM, ping(errors.New("dial tcp 127.0.0.1:1: connection refused")), customersync.BrokenLinkCRMUnreachable},
		{customersync.StepCRM, temporal.NewNonRetryableApplicationError("open CRM x://: unknown scheme", customersync.ErrCRMConfig, nil), customersync.BrokenLinkCRMConfig},
	}
	for _, tt := range tests {
		if got := brokenLink(tt.step, tt.err); got != tt.want {
			t.Errorf("brokenLink(%s, %v) = %q, want %q", tt.step, tt.err, got, tt.want)
		}
	}
	// Reports recorded before Link existed still name a keyword.
	if got := (customersync.CheckReport{Broken: customersync.StepAssumeRole}).LinkOf(); got != customersync.BrokenLinkAssumeRole {
		t.Errorf("LinkOf of an old report = %q", got)
	}
}
