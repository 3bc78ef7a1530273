package activities

import (
	"errors"
	"testing"

	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/temporal"
)

// authRefused is a connector error saying the CRM refused our credentials.
type authRefused struct{}

func (authRefused) Error() string    { return "HTTP 401" }
func (authRefused) AuthFailed() bool { return true }

func TestBrokenLinkKeywords(t *testing.T) {
	target := Target{Customer: "acme", Env: "prod", RoleARN: "arn:aws:iam::111122223333:role/r", Bucket: "b"}
	s3Denied := func(msg string) error {
		return classifyAWS(target, "get opportunity-outbound/a.json", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject",
			Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: msg}})
	}
	ping := func(err error) error {
		return temporal.NewNonRetryableApplicationError("CRM does not answer", ErrCRMConfig, crmPingError{err})
	}
	tests := []struct {
		step string
		err  error
		want string
	}{
		{StepAssumeRole, errors.New("refused"), LinkAssumeRole},
		{StepListBucket, errors.New("denied"), LinkListBucket},
		{StepGetObject, s3Denied("Access Denied"), LinkGetObject},
		{StepGetObject, s3Denied("User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: kms:Decrypt on the resource"), LinkDecrypt},
		{StepDescribeKey, errors.New("not found"), LinkDescribeKey},
		{StepCRM, ping(authRefused{}), LinkCRMAuth},
		{StepCRM, ping(errors.New("dial tcp 127.0.0.1:1: connection refused")), LinkCRMUnreachable},
		{StepCRM, temporal.NewNonRetryableApplicationError("open CRM x://: unknown scheme", ErrCRMConfig, nil), LinkCRMConfig},
	}
	for _, tt := range tests {
		if got := brokenLink(tt.step, tt.err); got != tt.want {
			t.Errorf("brokenLink(%s, %v) = %q, want %q", tt.step, tt.err, got, tt.want)
		}
	}
	// Reports recorded before Link existed still name a keyword.
	if got := (CheckReport{Broken: StepAssumeRole}).LinkOf(); got != LinkAssumeRole {
		t.Errorf("LinkOf of an old report = %q", got)
	}
}
