package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/logging"
	"github.com/oppsync/oppsync/metrics"
)

// Bounds of one outbound batch (SyncBatch). A listing page is split into batches of at most
// DefaultBatchFiles files and DefaultBatchBytes bytes of bodies:
//   - 256 files keep a batch's input and result well under Temporal's payload limits (a key
//     and an ETag are ~100 bytes) while one batch takes a whole hourly export of a busy
//     partner (ACE writes a file per export and object);
//   - 32 MiB of bodies bound what a batch holds in memory at once: parsed, a body takes
//     about 2.5 times its size, so a worker's DefaultOutboundMemory (128 MiB of bodies)
//     admits four full batches at once, ~450 MiB of heap at worst (see the worker's
//     Kubernetes memory limit). A single file is at most ace.MaxOutboundFileBytes (10 MiB).
const (
	DefaultBatchFiles = 256
	DefaultBatchBytes = 32 << 20
	// DefaultOutboundMemory is how many bytes of outbound file bodies one worker holds at
	// once, across all its customers' batches (worker flag --outbound-memory).
	DefaultOutboundMemory = 128 << 20
)

// SplitBatches splits a listing into batches of at most maxFiles files and maxBytes bytes
// of bodies (by the sizes S3 listed), keeping the listing order. A file larger than
// maxBytes goes alone.
func SplitBatches(objects []customersync.ObjectRef, maxFiles int, maxBytes int64) [][]customersync.ObjectRef {
	if maxFiles <= 0 {
		maxFiles = DefaultBatchFiles
	}
	if maxBytes <= 0 {
		maxBytes = DefaultBatchBytes
	}
	var out [][]customersync.ObjectRef
	var cur []customersync.ObjectRef
	var bytes int64
	for _, o := range objects {
		if len(cur) > 0 && (len(cur) >= maxFiles || bytes+o.Size > maxBytes) {
			out = append(out, cur)
			cur, bytes = nil, 0
		}
		cur = append(cur, o)
		bytes += o.Size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// batchFile is one file of a batch as SyncBatch handles it.
type batchFile struct {
	ref    customersync.ObjectRef
	etag   string // as read
	file   *ace.OutboundFile
	gone   bool
	reason string // set: quarantined
	// cause is why, for the log: an error whose log form (logging.SafeError) names codes,
	// fields and ids only, while reason, for status, may quote the CRM's own words.
	cause error
	done  bool // acknowledged by an earlier attempt (heartbeat)
}

// SyncBatch syncs a batch of outbound files into the CRM: it downloads them (at most
// ReadConcurrency at once, within the worker's outbound memory), parses them, merges their
// records so that each record is written once with its newest data (ace.Merge: the latest
// lastModifiedDate wins, ties go to the later file), writes each object's records in one
// Upsert call, and only then acknowledges the files whose records committed.
//
// The workflow runs one SyncBatch at a time per customer, so no two writes of one record
// race, whatever the number of workers; the connectors' own stale check stays as a second
// line. It heartbeats its progress (files acknowledged); a retry after a crash skips them.
// A file that cannot be synced as it is, or whose records the CRM refused, is quarantined
// with its reason and never holds back the rest of the batch.
func (a *Activities) SyncBatch(ctx context.Context, in customersync.SyncBatchInput) (customersync.SyncBatchResult, error) {
	t := in.Target
	log := a.logger(ctx, t)
	var res customersync.SyncBatchResult

	var prog batchProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &prog)
	}
	reread := prog.Read
	var (
		mu       sync.Mutex
		done     = slices.Clone(prog.Done)
		lastBeat time.Time
	)
	// heartbeat is called from every step and every connector call; it records at most one
	// heartbeat a second, because each encodes (and encrypts) the progress. A crash loses at
	// most a second of acknowledgements from the progress: their files are found gone.
	heartbeat := func() {
		mu.Lock()
		if time.Since(lastBeat) < heartbeatEvery {
			mu.Unlock()
			return
		}
		lastBeat = time.Now()
		p := batchProgress{Done: slices.Clone(done), Read: true}
		mu.Unlock()
		activity.RecordHeartbeat(ctx, p)
	}
	markDone := func(key string) {
		mu.Lock()
		done = append(done, key)
		mu.Unlock()
		heartbeat()
	}
	ctx = crm.WithProgress(ctx, heartbeat)

	store, err := a.store(ctx, in.CRM)
	if err != nil {
		return res, err
	}
	log.Info().Int("files", len(in.Objects)).Int("already_done", len(prog.Done)).Msg("batch started")

	files := make([]*batchFile, len(in.Objects))
	var need int64
	for i, o := range in.Objects {
		files[i] = &batchFile{ref: o, etag: o.ETag, done: slices.Contains(prog.Done, o.Key)}
		if files[i].done {
			res.Resumed++
			continue
		}
		if err := ace.CheckSize(o.Key, o.Size); err != nil {
			files[i].reason = err.Error()
			continue
		}
		need += o.Size
	}
	release, err := a.reserveMemory(ctx, need, heartbeat)
	if err != nil {
		return res, err
	}
	defer release()

	// Download and parse, several at a time. Bodies are dropped as soon as they are parsed.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, orDefault(in.ReadConcurrency, customersync.DefaultReadConcurrency)))
	for _, f := range files {
		if f.done || f.reason != "" {
			continue
		}
		g.Go(func() error {
			body, etag, err := a.get(gctx, t, f.ref.Key)
			switch {
			case errors.Is(err, errGone):
				f.gone = true
				return nil
			case isBadFile(err):
				f.reason = errorMessage(err)
				return nil
			case err != nil:
				return err
			}
			if reread {
				mu.Lock()
				res.Reread++
				mu.Unlock()
			}
			f.etag = etag
			parsed, perr := ace.ParseOutbound(f.ref.Key, body)
			if perr != nil {
				f.reason = perr.Error()
				return nil
			}
			f.file = parsed
			heartbeat()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}

	// Merge per object and write: one Upsert call per object for the whole batch.
	var parsed []*ace.OutboundFile
	etags := crm.FileETags{}
	for _, f := range files {
		if f.file == nil {
			parsed = append(parsed, nil)
			continue
		}
		parsed = append(parsed, f.file)
		etags[f.ref.Key] = f.etag
		res.Rejected += len(f.file.Rejected)
		if p := f.file.Problem(); p != nil {
			f.reason, f.cause = p.Error(), p // its good records are synced all the same
		}
	}
	merged := ace.Merge(parsed)
	res.Stale += merged.Superseded
	res.Unchanged += merged.Same
	src := crm.Source{Key: batchName(in.Objects), Files: &etags}

	var retryErr error
	for _, obj := range []ace.Object{ace.ObjectOpportunity, ace.ObjectLead} {
		var recs []ace.Record
		for _, r := range merged.Records {
			if r.Object == obj {
				recs = append(recs, r)
			}
		}
		if len(recs) == 0 {
			continue
		}
		up, err := store.Upsert(ctx, src, recs)
		metrics.RecordsWritten(activity.GetMetricsHandler(ctx), string(obj),
			metrics.RecordCounts{Inserted: up.Inserted, Updated: up.Updated, Unchanged: up.Unchanged, Stale: up.Stale})
		res.Inserted, res.Updated, res.Unchanged, res.Stale = res.Inserted+up.Inserted, res.Updated+up.Updated,
			res.Unchanged+up.Unchanged, res.Stale+up.Stale
		var batchErr *crm.BatchError
		switch {
		case err == nil:
		case errors.As(err, &batchErr) && !crm.Retryable(err):
			// The CRM refused some records and took the rest: quarantine the files the
			// refused records came from, with the CRM's own words.
			res.Rejected += len(batchErr.Records)
			for _, r := range batchErr.Records {
				fi, ok := merged.From[ace.RecordKey{Object: obj, ACEID: r.ACEID}]
				if !ok {
					continue
				}
				f := files[fi]
				f.cause = errors.Join(f.cause, &crm.BatchError{CRM: batchErr.CRM, Object: batchErr.Object, Source: f.ref.Key, Records: []crm.RefusedRecord{r}})
				if f.reason == "" {
					f.reason = fmt.Sprintf("the CRM refused record %s: %s", r.ACEID, r.String())
				} else if !strings.Contains(f.reason, "the CRM refused") {
					f.reason += "; the CRM refused record " + r.ACEID + ": " + r.String()
				}
			}
		case !crm.Retryable(err):
			return res, crmError(t, fmt.Sprintf("write %d %s records of %s to the CRM", len(recs), obj, src.Key), err)
		default:
			// Acknowledge what committed (the other object's files), then let Temporal retry.
			retryErr = crmError(t, fmt.Sprintf("write %d %s records of %s to the CRM", len(recs), obj, src.Key), err)
			for _, f := range files {
				if f.file != nil && f.file.Object == obj {
					f.file = nil // not acknowledged: retried
					f.reason = ""
					f.gone = false
					f.done = true // skip below; the retry reads it again
				}
			}
		}
	}

	// Acknowledge the files whose records committed, several at a time.
	var tagged []customersync.ObjectRef
	ag, actx := errgroup.WithContext(ctx)
	ag.SetLimit(max(ackConcurrency, orDefault(in.ReadConcurrency, customersync.DefaultReadConcurrency)))
	for _, f := range files {
		switch {
		case f.done:
			continue
		case f.gone:
			res.Gone = append(res.Gone, f.ref.Key)
			continue
		case f.reason != "":
			res.Quarantined = append(res.Quarantined, customersync.BadFile{Key: f.ref.Key, ETag: f.etag, Reason: f.reason})
			continue
		case f.file == nil:
			continue
		}
		ag.Go(func() error {
			if err := a.ackIfUnchanged(actx, t, f.ref.Key, f.etag, in.Ack); err != nil {
				return err
			}
			markDone(f.ref.Key)
			mu.Lock()
			res.Files++
			if in.Ack == customersync.AckTag {
				tagged = append(tagged, customersync.ObjectRef{Key: f.ref.Key, ETag: f.etag, Size: f.ref.Size})
			}
			mu.Unlock()
			return nil
		})
	}
	if err := ag.Wait(); err != nil {
		return res, err
	}
	if retryErr != nil {
		return res, retryErr
	}
	slices.SortFunc(tagged, func(x, y customersync.ObjectRef) int { return strings.Compare(x.Key, y.Key) })
	res.Tagged = tagged
	res.Records = res.Inserted + res.Updated + res.Unchanged + res.Stale

	h := activity.GetMetricsHandler(ctx)
	for _, f := range files {
		if f.reason == "" || f.done || f.gone {
			continue
		}
		metrics.FileQuarantined(h, objectOf(f.ref.Key, customersync.SyncFileResult{Object: fileObject(f.file)}))
		ev := log.Warn().Str("key", f.ref.Key)
		if f.cause != nil {
			ev = ev.Str("error", logging.SafeError(f.cause)) // codes, fields and ids: never the CRM's text
		}
		ev.Msg("file quarantined")
	}
	for _, f := range files {
		if f.file != nil && f.reason == "" && !f.done && !f.gone {
			h.WithTags(map[string]string{metrics.LabelObject: string(f.file.Object)}).Counter(metrics.FilesSynced).Inc(1)
		}
	}
	log.Info().Int("files", res.Files).Int("records", res.Records).Int("inserted", res.Inserted).
		Int("updated", res.Updated).Int("unchanged", res.Unchanged).Int("stale", res.Stale).
		Int("quarantined", len(res.Quarantined)).Int("gone", len(res.Gone)).Int("resumed", res.Resumed).
		Int("reread", res.Reread).Msg("batch synced")
	return res, nil
}

// heartbeatEvery is how often SyncBatch records a heartbeat at most (the SDK sends them to
// the server less often still: 80% of the heartbeat timeout).
const heartbeatEvery = time.Second

// ackConcurrency is how many acknowledgements (DELETE or tagging requests, no body) of a
// batch go at once: each is one round trip to ACE's far-away bucket and costs the worker
// next to nothing, so more of them than downloads.
const ackConcurrency = 64

// batchName describes a batch in errors and the change log's call description.
func batchName(objs []customersync.ObjectRef) string {
	switch len(objs) {
	case 0:
		return "an empty batch"
	case 1:
		return objs[0].Key
	}
	return fmt.Sprintf("a batch of %d files (%s … %s)", len(objs), objs[0].Key, objs[len(objs)-1].Key)
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// reserveMemory waits until the worker may hold n more bytes of outbound bodies, and
// returns the function that gives them back. It heartbeats while it waits.
func (a *Activities) reserveMemory(ctx context.Context, n int64, heartbeat func()) (func(), error) {
	n = min(n, a.outboundMemory)
	if n <= 0 {
		return func() {}, nil
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := a.mem.Acquire(wctx, n)
		cancel()
		if err == nil {
			return func() { a.mem.Release(n) }, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		heartbeat()
	}
}

// ackIfUnchanged acknowledges an outbound file only if it is still the version read:
// a delete carries If-Match with the ETag read, so a file ACE rewrote since is left for the
// next cycle; in tag mode the tag is set (S3 has no conditional tagging) and the workflow
// remembers the ETag read, so a rewritten file is synced again.
func (a *Activities) ackIfUnchanged(ctx context.Context, t customersync.Target, key, etag string, mode customersync.AckMode) error {
	if mode == customersync.AckTag {
		return a.ack(ctx, t, key, mode)
	}
	c, err := a.aws.For(ctx, t)
	if err != nil {
		return err
	}
	in := &s3.DeleteObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(key)}
	if etag != "" {
		in.IfMatch = aws.String(etag)
	}
	_, err = c.S3.DeleteObject(ctx, in)
	var noKey *s3types.NoSuchKey
	var apiErr smithy.APIError
	switch {
	case err == nil, errors.As(err, &noKey):
		return nil
	case errors.As(err, &apiErr) && (apiErr.ErrorCode() == "PreconditionFailed" || apiErr.ErrorCode() == "NoSuchKey"):
		// Rewritten by ACE since we read it: the new version is listed and synced next cycle.
		log := a.logger(ctx, t)
		log.Info().Str("key", key).Msg("file changed since it was read: left for the next cycle")
		return nil
	}
	return classifyAWS(t, "delete "+key, err)
}

func isBadFile(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == customersync.ErrBadFile
}

func errorMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// newMemory returns the worker's outbound memory budget.
func newMemory(n int64) *semaphore.Weighted { return semaphore.NewWeighted(n) }

// fileObject is the object of a parsed file, or "" when it could not be parsed.
func fileObject(f *ace.OutboundFile) string {
	if f == nil {
		return ""
	}
	return string(f.Object)
}

// batchProgress is SyncBatch's heartbeat: the files acknowledged (or found gone or
// quarantined) so far, so that a retry after a crash skips them, and the attempt that last
// read the batch.
type batchProgress struct {
	Done []string `json:"done,omitempty"`
	Read bool     `json:"read,omitempty"`
}
