package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/temporal"

	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/sellingapi"
)

// Check walks the customer's access chain in order — AssumeRole with the External ID, then
// for the Selling API transport ListOpportunities (one opportunity), else S3
// ListBucket on the outbound folders, GetObject on one outbound file (one byte), KMS
// DescribeKey on ACE's key, CRM reachability — and stops at the first broken link, naming
// it and what to fix. It reads only: it never writes a test file into ACE's folders.
//
// A broken link is a result, not an error; a transient failure (throttling, 5xx, a reset)
// is a retryable error, so a flaky network does not look like a broken role.
func (a *Activities) Check(ctx context.Context, in customersync.CheckInput) (customersync.CheckReport, error) {
	t := in.Target
	log := a.logger(ctx, t)
	var rep customersync.CheckReport
	// step records the outcome of one link; it returns false when the walk must stop,
	// and a non-nil error when the failure is transient.
	step := func(name string, err error, okDetail string) (bool, error) {
		if err == nil {
			rep.Steps = append(rep.Steps, customersync.CheckStep{Name: name, OK: true, Detail: okDetail})
			return true, nil
		}
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NonRetryable() {
			rep.Steps = append(rep.Steps, customersync.CheckStep{Name: name, Detail: appErr.Message()})
			rep.Broken, rep.Diagnosis = name, fmt.Sprintf("%s is broken: %s", name, appErr.Message())
			rep.Link = brokenLink(name, err)
			log.Warn().Str("broken", name).Str("diagnosis", appErr.Message()).Msg("access check found a broken link")
			return false, nil
		}
		return false, err
	}

	entry, err := a.aws.For(ctx, t)
	switch {
	case err == nil && entry.Config.Credentials == nil:
		err = temporal.NewNonRetryableApplicationError(fmt.Sprintf("no credentials for role %s of customer %s/%s", t.RoleARN, t.Customer, t.Env), customersync.ErrAccessDenied, nil)
	case err == nil:
		_, err = entry.Config.Credentials.Retrieve(ctx)
		err = classifyAWS(t, "assume role "+t.RoleARN, err)
	}
	if ok, err := step(customersync.StepAssumeRole, err, "role "+t.RoleARN+" assumed with the External ID"); !ok {
		return rep, err
	}

	if in.Transport == customersync.TransportAPI {
		// The Selling API transport's link: one read of the partner's catalog.
		if ok, err := step(customersync.StepListOpportunities, a.checkSelling(ctx, t),
			"opportunities listed in catalog "+customersync.Env(t.Env).Catalog()); !ok {
			return rep, err
		}
	} else {
		var sample string
		var listErr error
		for _, folder := range in.Folders {
			out, err := entry.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(t.Bucket), Prefix: aws.String(folder), MaxKeys: aws.Int32(2)})
			if err != nil {
				listErr = classifyAWS(t, "list "+folder, err)
				break
			}
			for _, o := range out.Contents {
				if k := aws.ToString(o.Key); sample == "" && k != folder {
					sample = k
				}
			}
		}
		if ok, err := step(customersync.StepListBucket, listErr, "bucket "+t.Bucket+" listed"); !ok {
			return rep, err
		}

		if sample == "" {
			rep.Steps = append(rep.Steps, customersync.CheckStep{Name: customersync.StepGetObject, OK: true, Detail: "no outbound file to read yet: not checked"})
		} else {
			out, err := entry.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(sample), Range: aws.String("bytes=0-0")})
			if err == nil {
				_ = out.Body.Close()
			}
			if ok, err := step(customersync.StepGetObject, classifyAWS(t, "get "+sample, err), "read "+sample); !ok {
				return rep, err
			}
		}

		if in.KMSKeyARN == "" {
			rep.Steps = append(rep.Steps, customersync.CheckStep{Name: customersync.StepDescribeKey, OK: true, Detail: "no ACE KMS key ARN configured: not checked"})
		} else {
			_, err := entry.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(in.KMSKeyARN)})
			if ok, err := step(customersync.StepDescribeKey, classifyAWS(t, "describe KMS key "+in.KMSKeyARN, err), "key "+in.KMSKeyARN+" usable"); !ok {
				return rep, err
			}
		}

	}

	store, err := a.store(ctx, in.CRM)
	if err == nil {
		if perr := store.Ping(ctx); perr != nil {
			err = temporal.NewNonRetryableApplicationError(fmt.Sprintf("CRM does not answer: %v", perr), customersync.ErrCRMConfig, crmPingError{perr})
		}
	}
	if ok, err := step(customersync.StepCRM, err, "CRM reachable"); !ok {
		return rep, err
	}
	return rep, nil
}

// crmPingError marks the cause of a failed CRM ping, so that brokenLink can tell an
// unreachable CRM from one that refuses our credentials.
type crmPingError struct{ err error }

func (e crmPingError) Error() string { return e.err.Error() }
func (e crmPingError) Unwrap() error { return e.err }

// brokenLink is the keyword of a broken link (CheckReport.Link): the permission refused, or
// how the CRM failed.
func brokenLink(step string, err error) string {
	switch step {
	case customersync.StepAssumeRole:
		return customersync.BrokenLinkAssumeRole
	case customersync.StepListBucket:
		return customersync.BrokenLinkListBucket
	case customersync.StepGetObject:
		// S3 refuses a GetObject of an SSE-KMS object with AccessDenied when the role may
		// not use the object's KMS key; only AWS's message tells the two apart.
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && (strings.Contains(apiErr.ErrorMessage(), "kms:Decrypt") || strings.HasPrefix(apiErr.ErrorCode(), "KMS.")) {
			return customersync.BrokenLinkDecrypt
		}
		return customersync.BrokenLinkGetObject
	case customersync.StepDescribeKey:
		return customersync.BrokenLinkDescribeKey
	case customersync.StepListOpportunities:
		return customersync.BrokenLinkListOpportunities
	case customersync.StepCRM:
		var ping crmPingError
		switch {
		case !errors.As(err, &ping):
			return customersync.BrokenLinkCRMConfig // the CRM URL could not even be opened
		case crm.AuthFailed(ping.err):
			return customersync.BrokenLinkCRMAuth
		}
		return customersync.BrokenLinkCRMUnreachable
	}
	return customersync.BrokenLinkOther
}

// checkSelling lists one opportunity of the customer's catalog: the Selling API accepts the
// role's credentials and lets it read opportunities (partnercentral:ListOpportunities).
func (a *Activities) checkSelling(ctx context.Context, t customersync.Target) error {
	client, err := a.sellingClient(ctx, t)
	if err != nil {
		return err
	}
	_, err = client.ListOpportunities(ctx, &sellingapi.ListOpportunitiesInput{Catalog: catalog(t), MaxResults: aws.Int32(1)})
	return classifySelling(t, "list opportunities", err)
}
