package activities

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/oppsync/oppsync/customersync"
)

// memBucket is an in-memory S3 bucket that answers like S3 where the activities depend on
// it, with the error shapes the SDK returns (an *smithy.OperationError around the HTTP
// response error around the API error):
//   - an ETag is the quoted MD5 of the body, so a rewritten file has a new one;
//   - GetObject of a missing key fails with *types.NoSuchKey, HeadObject with *types.NotFound;
//   - DeleteObject with If-Match fails with 412 PreconditionFailed when the ETag differs and
//     404 NoSuchKey when the key is missing; without it a missing key is deleted all the same;
//   - PutObject with If-None-Match: * fails with 412 PreconditionFailed when the key exists;
//   - PutObjectTagging of a missing key fails with 404 NoSuchKey (a generic API error: the
//     SDK models NoSuchKey for GetObject only);
//   - ListObjectsV2 lists in key order under Prefix after StartAfter, pageSize keys a page,
//     and continues from NextContinuationToken.
type memBucket struct {
	mu      sync.Mutex
	objects map[string]*memObject
	// pageSize is how many keys a listing page holds at most (S3: 1000).
	pageSize int
	// requests counts the requests by operation, gets the GetObject requests by key and
	// puts the objects PutObject stored by key.
	requests map[string]int
	gets     map[string]int
	puts     map[string]int
	// before, when set, runs before each request, outside the lock, with the operation and
	// key: a test rewrites or deletes a file there, as ACE would between two requests. An
	// error fails the request unserved.
	before func(op, key string) error
	// after, when set, runs after a request was served: an error is returned instead of
	// the response (a reset connection after S3 stored the object).
	after func(op, key string) error
}

type memObject struct {
	body []byte
	etag string
	tags map[string]string
	// sse and kmsKey are the encryption a PutObject asked for, acl its canned ACL.
	sse    s3types.ServerSideEncryption
	kmsKey string
	acl    s3types.ObjectCannedACL
}

func newMemBucket() *memBucket {
	return &memBucket{objects: map[string]*memObject{}, pageSize: 1000, requests: map[string]int{}, gets: map[string]int{}, puts: map[string]int{}}
}

func etagOf(body []byte) string {
	sum := md5.Sum(body)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// write stores body under key as a writer other than OppSync (ACE) would, and returns
// its ETag.
func (b *memBucket) write(key string, body []byte) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[key] = &memObject{body: slices.Clone(body), etag: etagOf(body)}
	return b.objects[key].etag
}

func (b *memBucket) remove(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.objects, key)
}

// object returns a copy of the object at key, or nil.
func (b *memBucket) object(key string) *memObject {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objects[key]
	if !ok {
		return nil
	}
	c := *o
	return &c
}

// keys returns the keys under prefix, in order.
func (b *memBucket) keys(prefix string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func (b *memBucket) count(op string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests[op]
}

func (b *memBucket) getsOf(key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gets[key]
}

func (b *memBucket) putsOf(key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.puts[key]
}

// start counts a request and runs the before hook; the caller serves it if it returns nil.
func (b *memBucket) start(op, key string) error {
	b.mu.Lock()
	b.requests[op]++
	if op == "GetObject" {
		b.gets[key]++
	}
	before := b.before
	b.mu.Unlock()
	if before != nil {
		return before(op, key)
	}
	return nil
}

func (b *memBucket) finish(op, key string) error {
	b.mu.Lock()
	after := b.after
	b.mu.Unlock()
	if after != nil {
		return after(op, key)
	}
	return nil
}

// s3Error is an S3 error as the SDK returns it.
func s3Error(op string, status int, apiErr error) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: apiErr},
		RequestID:     "mem"}}
}

func genericS3Error(op string, status int, code, msg string) error {
	return s3Error(op, status, &smithy.GenericAPIError{Code: code, Message: msg})
}

func (b *memBucket) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	prefix := aws.ToString(in.Prefix)
	if err := b.start("ListObjectsV2", prefix); err != nil {
		return nil, err
	}
	after := aws.ToString(in.StartAfter)
	if tok := aws.ToString(in.ContinuationToken); tok != "" {
		k, ok := strings.CutPrefix(tok, "after:")
		if !ok {
			return nil, genericS3Error("ListObjectsV2", http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect")
		}
		after = k
	}
	limit := b.pageSize
	if in.MaxKeys != nil && int(*in.MaxKeys) < limit {
		limit = int(*in.MaxKeys)
	}
	b.mu.Lock()
	out := &s3.ListObjectsV2Output{Prefix: in.Prefix, StartAfter: in.StartAfter, ContinuationToken: in.ContinuationToken}
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i == limit {
			out.IsTruncated = aws.Bool(true)
			out.NextContinuationToken = aws.String("after:" + keys[i-1])
			break
		}
		o := b.objects[k]
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k), ETag: aws.String(o.etag), Size: aws.Int64(int64(len(o.body))),
			LastModified: aws.Time(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))})
	}
	if out.IsTruncated == nil {
		out.IsTruncated = aws.Bool(false)
	}
	out.KeyCount = aws.Int32(int32(len(out.Contents)))
	b.mu.Unlock()
	return out, b.finish("ListObjectsV2", prefix)
}

func (b *memBucket) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	key := aws.ToString(in.Key)
	if err := b.start("GetObject", key); err != nil {
		return nil, err
	}
	o := b.object(key)
	if o == nil {
		return nil, s3Error("GetObject", http.StatusNotFound, &s3types.NoSuchKey{Message: aws.String("The specified key does not exist.")})
	}
	body := o.body
	if r := aws.ToString(in.Range); r != "" {
		var from, to int
		if _, err := fmt.Sscanf(r, "bytes=%d-%d", &from, &to); err != nil || from > to || from >= len(body) {
			return nil, genericS3Error("GetObject", http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
		}
		body = body[from:min(to+1, len(body))]
	}
	out := &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(body)), ETag: aws.String(o.etag), ContentLength: aws.Int64(int64(len(body)))}
	return out, b.finish("GetObject", key)
}

func (b *memBucket) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	key := aws.ToString(in.Key)
	if err := b.start("HeadObject", key); err != nil {
		return nil, err
	}
	o := b.object(key)
	if o == nil {
		return nil, s3Error("HeadObject", http.StatusNotFound, &s3types.NotFound{})
	}
	return &s3.HeadObjectOutput{ETag: aws.String(o.etag), ContentLength: aws.Int64(int64(len(o.body)))}, b.finish("HeadObject", key)
}

func (b *memBucket) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	key := aws.ToString(in.Key)
	if err := b.start("DeleteObject", key); err != nil {
		return nil, err
	}
	b.mu.Lock()
	o, ok := b.objects[key]
	switch match := aws.ToString(in.IfMatch); {
	case match != "" && !ok:
		b.mu.Unlock()
		return nil, genericS3Error("DeleteObject", http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	case match != "" && match != o.etag:
		b.mu.Unlock()
		return nil, genericS3Error("DeleteObject", http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	delete(b.objects, key)
	b.mu.Unlock()
	return &s3.DeleteObjectOutput{}, b.finish("DeleteObject", key)
}

func (b *memBucket) PutObjectTagging(_ context.Context, in *s3.PutObjectTaggingInput, _ ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error) {
	key := aws.ToString(in.Key)
	if err := b.start("PutObjectTagging", key); err != nil {
		return nil, err
	}
	b.mu.Lock()
	o, ok := b.objects[key]
	if !ok {
		b.mu.Unlock()
		return nil, genericS3Error("PutObjectTagging", http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	o.tags = map[string]string{}
	for _, t := range in.Tagging.TagSet {
		o.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	b.mu.Unlock()
	return &s3.PutObjectTaggingOutput{}, b.finish("PutObjectTagging", key)
}

func (b *memBucket) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	key := aws.ToString(in.Key)
	if err := b.start("PutObject", key); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if _, exists := b.objects[key]; exists && aws.ToString(in.IfNoneMatch) == "*" {
		b.mu.Unlock()
		return nil, genericS3Error("PutObject", http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	o := &memObject{body: body, etag: etagOf(body), sse: in.ServerSideEncryption, kmsKey: aws.ToString(in.SSEKMSKeyId), acl: in.ACL}
	b.objects[key] = o
	b.puts[key]++
	b.mu.Unlock()
	return &s3.PutObjectOutput{ETag: aws.String(o.etag)}, b.finish("PutObject", key)
}

// memKeys is an in-memory KMS holding the keys named: DescribeKey of another fails with
// NotFoundException, as KMS does.
type memKeys map[string]bool

func (k memKeys) DescribeKey(_ context.Context, in *kms.DescribeKeyInput, _ ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	id := aws.ToString(in.KeyId)
	if !k[id] {
		return nil, &smithy.OperationError{ServiceID: "KMS", OperationName: "DescribeKey", Err: &kmstypes.NotFoundException{Message: aws.String("Key '" + id + "' does not exist")}}
	}
	return &kms.DescribeKeyOutput{KeyMetadata: &kmstypes.KeyMetadata{KeyId: aws.String(id), Enabled: true}}, nil
}

// memClients gives every customer the same in-memory bucket and KMS keys, with fixed
// credentials (or creds, when set: a role that cannot be assumed).
type memClients struct {
	bucket *memBucket
	keys   memKeys
	creds  aws.CredentialsProvider
}

func (c *memClients) For(_ context.Context, t customersync.Target) (CustomerClients, error) {
	creds := c.creds
	if creds == nil {
		creds = credentials.NewStaticCredentialsProvider("AKIDMEM", "secret", "")
	}
	return CustomerClients{Config: aws.Config{Region: t.Region, Credentials: creds}, S3: c.bucket, KMS: c.keys, Put: c.bucket}, nil
}

// Compile-time checks: the fakes are what the activities use.
var (
	_ S3API    = (*memBucket)(nil)
	_ S3PutAPI = (*memBucket)(nil)
	_ KMSAPI   = memKeys(nil)
	_ Clients  = (*memClients)(nil)
	_ Clients  = (*RoleClients)(nil)
)
