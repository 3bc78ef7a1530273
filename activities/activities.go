// Package activities holds OppSync's Temporal activities: the only code that talks to a
// customer's ACE bucket (through the customer's role) and to its CRM. Their inputs and
// results are in package customersync.
package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/semaphore"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/logging"
	"github.com/oppsync/oppsync/metrics"
)

// Activities are OppSync's activities; register a *Activities with the worker.
// Its fields are the clients the activities use, injected by the worker's main.
type Activities struct {
	aws Clients
	log zerolog.Logger

	// mem bounds the bytes of outbound file bodies the worker holds at once, across every
	// customer's batches; outboundMemory is its size.
	mem            *semaphore.Weighted
	outboundMemory int64

	// selling holds the Selling API transport's per-partner-account limiters.
	selling *sellingClients

	mu     sync.Mutex
	stores map[string]crm.Store
}

// New returns the activities, reaching each customer's AWS account through its role with
// opts (NewRoleClients) and logging to log. The worker holds at most DefaultOutboundMemory
// bytes of outbound bodies at once (see LimitOutboundMemory).
func New(opts AWSOptions, log zerolog.Logger) *Activities {
	return NewWithClients(NewRoleClients(opts), log)
}

// NewWithClients returns the activities with the AWS clients that clients gives per
// customer (a test's in-memory bucket, say), logging to log.
func NewWithClients(clients Clients, log zerolog.Logger) *Activities {
	return &Activities{aws: clients, log: log, stores: map[string]crm.Store{}, selling: newSellingClients(),
		mem: newMemory(DefaultOutboundMemory), outboundMemory: DefaultOutboundMemory}
}

// LimitOutboundMemory sets how many bytes of outbound file bodies the worker holds at once
// (at least one maximal file, ace.MaxOutboundFileBytes). Call it before the worker starts.
// It is a function, not a method: every exported method of Activities is an activity.
func LimitOutboundMemory(a *Activities, n int64) {
	n = max(n, ace.MaxOutboundFileBytes)
	a.mem, a.outboundMemory = newMemory(n), n
}

// Close closes every CRM store the activities opened.
// aliveInCRM returns ctx with the connectors' calls under it keeping the activity
// heartbeating (crm.WithProgress, crm.ProgressWhile): a live attempt waiting on a slow CRM
// answer is never timed out and retried on another worker while its write is in flight.
// For activities whose heartbeat details nothing reads back.
func aliveInCRM(ctx context.Context) context.Context {
	return crm.WithProgress(ctx, func() { activity.RecordHeartbeat(ctx) })
}

func (a *Activities) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for u, s := range a.stores {
		errs = append(errs, s.Close())
		delete(a.stores, u)
	}
	return errors.Join(errs...)
}

// logger returns a logger carrying the customer, the environment and the Temporal ids.
func (a *Activities) logger(ctx context.Context, t customersync.Target) zerolog.Logger {
	info := activity.GetInfo(ctx)
	return a.log.With().
		Str("customer", t.Customer).Str("env", t.Env).
		Str("workflow_id", info.WorkflowExecution.ID).Str("run_id", info.WorkflowExecution.RunID).
		Str("activity", info.ActivityType.Name).Str("activity_id", info.ActivityID).
		Int32("attempt", info.Attempt).Logger()
}

// store opens (once per worker) the CRM store at rawURL.
func (a *Activities) store(ctx context.Context, rawURL string) (crm.Store, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.stores[rawURL]; ok {
		return s, nil
	}
	s, err := crm.Open(ctx, rawURL)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("open CRM %s: %v", crm.Redact(rawURL), err), customersync.ErrCRMConfig, nil)
	}
	a.stores[rawURL] = s
	return s, nil
}

// ListOutbound lists the outbound files in the given folders: one paginated LIST per folder
// (after the folder's StartAfter) and nothing else, so an idle cycle costs one request per
// folder; plus one HEAD per Include key.
func (a *Activities) ListOutbound(ctx context.Context, in customersync.ListInput) (customersync.ListResult, error) {
	c, err := a.aws.For(ctx, in.Target)
	if err != nil {
		return customersync.ListResult{}, err
	}
	client := c.S3
	var res customersync.ListResult
	seen := map[string]bool{}
	add := func(folder, key, etag string, size int64) (full bool) {
		if skipped, ok := in.Skip[key]; ok {
			seen[key] = true
			if skipped == etag {
				if res.Last == nil {
					res.Last = map[string]string{}
				}
				res.Last[folder] = max(res.Last[folder], key)
				return false
			}
		}
		if in.MaxObjects > 0 && len(res.Objects) >= in.MaxObjects {
			res.Truncated = true
			return true
		}
		res.Objects = append(res.Objects, customersync.ObjectRef{Key: key, ETag: etag, Size: size})
		if res.Last == nil {
			res.Last = map[string]string{}
		}
		res.Last[folder] = max(res.Last[folder], key)
		return false
	}
	for _, key := range in.Include {
		folder := folderOf(in.Folders, key)
		if folder == "" || key > in.StartAfter[folder] {
			continue // listed anyway
		}
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(in.Target.Bucket), Key: aws.String(key)})
		var notFound *s3types.NotFound
		var noKey *s3types.NoSuchKey
		if errors.As(err, &notFound) || errors.As(err, &noKey) {
			continue
		}
		if err != nil {
			return customersync.ListResult{}, classifyAWS(in.Target, "head "+key, err)
		}
		if in.Skip[key] == aws.ToString(head.ETag) {
			continue
		}
		res.Objects = append(res.Objects, customersync.ObjectRef{Key: key, ETag: aws.ToString(head.ETag), Size: aws.ToInt64(head.ContentLength)})
	}
	for _, folder := range in.Folders {
		lin := &s3.ListObjectsV2Input{Bucket: aws.String(in.Target.Bucket), Prefix: aws.String(folder)}
		if after := in.StartAfter[folder]; after != "" {
			lin.StartAfter = aws.String(after)
		}
		pages := s3.NewListObjectsV2Paginator(client, lin)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return customersync.ListResult{}, classifyAWS(in.Target, "list "+folder, err)
			}
			for _, o := range page.Contents {
				key := aws.ToString(o.Key)
				if strings.HasSuffix(key, "/") { // a folder marker, not a file
					continue
				}
				if add(folder, key, aws.ToString(o.ETag), aws.ToInt64(o.Size)) {
					return res, nil
				}
			}
		}
	}
	for key := range in.Skip {
		// A key at or before its folder's StartAfter was not listed: not known missing.
		if folder := folderOf(in.Folders, key); !seen[key] && (folder == "" || key > in.StartAfter[folder]) {
			res.Missing = append(res.Missing, key)
		}
	}
	slices.Sort(res.Missing)
	return res, nil
}

// folderOf returns the folder of folders that key is in, or "".
func folderOf(folders []string, key string) string {
	for _, f := range folders {
		if strings.HasPrefix(key, f) {
			return f
		}
	}
	return ""
}

// SyncFile reads one outbound file, writes its records to the CRM and acknowledges the file.
//
// It is one activity rather than fetch, transform and upsert activities because the body
// must not cross workflow history. It is idempotent: a retry after a crash anywhere re-reads
// the file and re-applies the same records, which the CRM store turns into no-ops; a file
// already deleted by an earlier attempt is reported as Gone.
//
// A file that cannot be synced as it is fails with the non-retryable ErrBadFile and is left
// in place; records that could be read are still synced and counted in the error's details.
func (a *Activities) SyncFile(ctx context.Context, in customersync.SyncFileInput) (_ customersync.SyncFileResult, err error) {
	t := in.Target
	log := a.logger(ctx, t).With().Str("key", in.Object.Key).Logger()
	res := customersync.SyncFileResult{Key: in.Object.Key, ETag: in.Object.ETag}
	defer func() {
		// Count a quarantined file, and the records of it that were synced all the same.
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == customersync.ErrBadFile {
			h := activity.GetMetricsHandler(ctx)
			object := objectOf(in.Object.Key, res)
			metrics.FileQuarantined(h, object)
			metrics.RecordsWritten(h, object, recordCounts(res))
		}
	}()

	if err := ace.CheckSize(in.Object.Key, in.Object.Size); err != nil {
		return res, badFile(log, err, res)
	}
	store, err := a.store(ctx, in.CRM)
	if err != nil {
		return res, err
	}
	activity.RecordHeartbeat(ctx, "get")
	body, etag, err := a.get(ctx, t, in.Object.Key)
	if errors.Is(err, errGone) {
		log.Info().Msg("file already gone: synced by an earlier attempt or removed by ACE")
		res.Gone = true
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.ETag = etag

	file, err := ace.ParseOutbound(in.Object.Key, body)
	if err != nil {
		return res, badFile(log, err, res)
	}
	res.Object = string(file.Object)
	activity.RecordHeartbeat(ctx, "upsert")
	up, err := store.Upsert(ctx, crm.Source{Key: in.Object.Key, ETag: etag}, file.Records)
	res.Records, res.Inserted, res.Updated, res.Unchanged, res.Stale = up.Total(), up.Inserted, up.Updated, up.Unchanged, up.Stale
	res.Rejected = len(file.Rejected)
	var refused crm.RecordsRejecter
	if err != nil && errors.As(err, &refused) && !crm.Retryable(err) {
		// The CRM refused some records (validation, picklist, permission) and took the rest:
		// quarantine the file with the CRM's own words, for a re-drive after the fix.
		res.Rejected += refused.RejectedRecords()
		return res, badFile(log, err, res)
	}
	if err != nil {
		return res, crmError(t, fmt.Sprintf("write %d records of %s to the CRM", len(file.Records), in.Object.Key), err)
	}
	if problem := file.Problem(); problem != nil {
		return res, badFile(log, problem, res)
	}

	activity.RecordHeartbeat(ctx, "ack")
	if err := a.ack(ctx, t, in.Object.Key, in.Ack); err != nil {
		return res, err
	}
	res.Acked = true
	metrics.FileSynced(activity.GetMetricsHandler(ctx), res.Object, recordCounts(res))
	log.Info().Str("object", res.Object).Int("records", res.Records).Int("inserted", res.Inserted).
		Int("updated", res.Updated).Int("unchanged", res.Unchanged).Int("stale", res.Stale).Msg("file synced")
	return res, nil
}

var errGone = errors.New("object is gone")

// crmError describes a CRM failure for the operator and makes it non-retryable when the
// connector says no retry can cure it (credentials, permissions, configuration). The CRM's
// error stays the cause: the SDK's "Activity error" log line renders it with
// logging.SafeError, which needs its type to leave the CRM's message out.
func crmError(t customersync.Target, op string, err error) error {
	msg := fmt.Sprintf("%s for customer %s/%s: %v", op, t.Customer, t.Env, err)
	// A call cut short by the attempt's own end (the worker stopping, or a heartbeat that
	// found the attempt timed out) says nothing of the CRM's settings: retryable.
	if !crm.Retryable(err) && !errors.Is(err, context.Canceled) {
		return temporal.NewNonRetryableApplicationError(msg, customersync.ErrCRMConfig, err)
	}
	return fmt.Errorf("%s for customer %s/%s: %w", op, t.Customer, t.Env, err)
}

// get downloads one object, refusing bodies over ace.MaxOutboundFileBytes.
func (a *Activities) get(ctx context.Context, t customersync.Target, key string) ([]byte, string, error) {
	c, err := a.aws.For(ctx, t)
	if err != nil {
		return nil, "", err
	}
	out, err := c.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(key)})
	if err != nil {
		var noKey *s3types.NoSuchKey
		if errors.As(err, &noKey) {
			return nil, "", errGone
		}
		return nil, "", classifyAWS(t, "get "+key, err)
	}
	defer func() { _ = out.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(out.Body, ace.MaxOutboundFileBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s for customer %s/%s: %w", key, t.Customer, t.Env, err)
	}
	if err := ace.CheckSize(key, int64(len(body))); err != nil {
		return nil, "", temporal.NewNonRetryableApplicationError(err.Error(), customersync.ErrBadFile, nil)
	}
	return body, aws.ToString(out.ETag), nil
}

// ack acknowledges a synced outbound file: deleted (ACE archives a copy) or tagged.
func (a *Activities) ack(ctx context.Context, t customersync.Target, key string, mode customersync.AckMode) error {
	c, err := a.aws.For(ctx, t)
	if err != nil {
		return err
	}
	client := c.S3
	switch mode {
	case customersync.AckTag:
		_, err := client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
			Bucket: aws.String(t.Bucket), Key: aws.String(key),
			Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String(ace.ProcessedTagKey), Value: aws.String(ace.ProcessedTagValue)}}},
		})
		if isNoSuchKey(err) {
			return nil // removed by ACE since it was read: nothing left to mark
		}
		return classifyAWS(t, "tag "+key, err)
	default:
		_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(key)})
		return classifyAWS(t, "delete "+key, err)
	}
}

// isNoSuchKey reports whether S3 answered that the key does not exist. The SDK types the
// error (*types.NoSuchKey) for GetObject only; PutObjectTagging and a conditional
// DeleteObject return it as an API error with the code NoSuchKey.
func isNoSuchKey(err error) bool {
	var noKey *s3types.NoSuchKey
	var apiErr smithy.APIError
	return errors.As(err, &noKey) || (errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchKey")
}

// badFile logs why a file is quarantined and returns the non-retryable error saying so,
// with what was synced from it as details. The log line carries the error's safe form
// (logging.SafeError: a CRM's refusal without the values it quotes); the error keeps the
// full text for the quarantine reason, and its cause for the SDK's own log line.
func badFile(log zerolog.Logger, err error, res customersync.SyncFileResult) error {
	log.Warn().Str("error", logging.SafeError(err)).Int("records_synced", res.Records).Int("records_rejected", res.Rejected).Msg("file quarantined")
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == customersync.ErrBadFile {
		return temporal.NewNonRetryableApplicationError(appErr.Message(), customersync.ErrBadFile, errors.Unwrap(appErr), res)
	}
	var cause error
	if safer := logging.LogSafer(nil); errors.As(err, &safer) {
		cause = err
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), customersync.ErrBadFile, cause, res)
}

// recordCounts is what a file wrote to the CRM, for the metrics.
func recordCounts(r customersync.SyncFileResult) metrics.RecordCounts {
	return metrics.RecordCounts{Inserted: r.Inserted, Updated: r.Updated, Unchanged: r.Unchanged, Stale: r.Stale}
}

// objectOf names a file's kind of record for the metrics, from its folder when the file
// could not be parsed.
func objectOf(key string, r customersync.SyncFileResult) string {
	switch {
	case r.Object != "":
		return r.Object
	case strings.HasPrefix(key, ace.FolderOpportunityOutbound):
		return string(ace.ObjectOpportunity)
	case strings.HasPrefix(key, ace.FolderLeadOutbound):
		return string(ace.ObjectLead)
	}
	return "unknown"
}
