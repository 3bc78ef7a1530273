package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/oppsync/oppsync/ace"
)

// inboundUploader writes inbound files, and can write nowhere else: the key is always built
// here from an object's inbound folder and a sanitised name, so no caller can aim it at
// ACE's outbound or results folders.
type inboundUploader struct {
	s3        S3PutAPI
	bucket    string
	kmsKeyARN string
}

// key returns the inbound key of a file: ace.InboundKey builds it from the object's
// inbound folder, a sanitised name and a timestamp, and the check below makes sure no
// other folder can ever be written.
func (u inboundUploader) key(o ace.Object, name string, at time.Time) (string, error) {
	key := ace.InboundKey(o, name, at)
	if !strings.HasPrefix(key, ace.FolderOpportunityInbound) && !strings.HasPrefix(key, ace.FolderLeadInbound) {
		return "", fmt.Errorf("refusing to write %q: OppSync writes only to %s and %s", key, ace.FolderOpportunityInbound, ace.FolderLeadInbound)
	}
	if strings.Contains(strings.TrimPrefix(strings.TrimPrefix(key, ace.FolderOpportunityInbound), ace.FolderLeadInbound), "/") {
		return "", fmt.Errorf("refusing to write %q: inbound file names may not contain /", key)
	}
	return key, nil
}

// upload writes body as a new inbound file: with the canned ACL ACE requires, SSE-KMS under
// ACE's key, and If-None-Match: * so that a retried upload of the same change never makes a
// second file. It reports created=false when the file was already there.
func (u inboundUploader) upload(ctx context.Context, o ace.Object, name string, at time.Time, body []byte) (key string, created bool, err error) {
	key, err = u.key(o, name, at)
	if err != nil {
		return "", false, err
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(u.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/json"),
		ACL:           s3types.ObjectCannedACLBucketOwnerFullControl,
		IfNoneMatch:   aws.String("*"),
	}
	if u.kmsKeyARN != "" {
		in.ServerSideEncryption = s3types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(u.kmsKeyARN)
	}
	_, err = u.s3.PutObject(ctx, in)
	if isPreconditionFailed(err) {
		return key, false, nil
	}
	return key, err == nil, err
}

func isPreconditionFailed(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode() == "PreconditionFailed" || apiErr.ErrorCode() == "ConditionalRequestConflict") {
		return true
	}
	var httpErr interface{ HTTPStatusCode() int }
	return errors.As(err, &httpErr) && httpErr.HTTPStatusCode() == http.StatusPreconditionFailed
}
