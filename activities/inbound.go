package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/rules"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/logging"
	"github.com/oppsync/oppsync/metrics"
)

// resendAfter is how long a record must wait between two sends: AWS asks partners not to
// send several documents per record per hour (best practices).
const resendAfter = time.Hour

// maxRecordsPerFile is ACE's limit per inbound file.
const maxRecordsPerFile = 50

// inboundObjects are the objects sent to ACE, in order.
var inboundObjects = []ace.Object{ace.ObjectOpportunity, ace.ObjectLead}

// inboundStore opens the CRM and checks that it can send changes to ACE.
func (a *Activities) inboundStore(ctx context.Context, rawURL string) (crm.Inbound, error) {
	store, err := a.store(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	in, ok := store.(crm.Inbound)
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("CRM %s cannot send its changes to ACE (its connector has no change detection)", crm.Redact(rawURL)), customersync.ErrCRMConfig, nil)
	}
	return in, nil
}

// SendChanges sends the CRM's changes to ACE: for each object it reads the changes after
// the watermark, validates each record against ACE's rules (a record that fails is marked
// in the CRM with every problem and not sent; the rest proceed), writes inbound files of
// RecordsPerFile records into the object's inbound folder, and marks the records sent.
//
// A change is named deterministically (partner id, watermark, change time) and uploaded
// with If-None-Match, so a retry after a crash between upload and bookkeeping finds its
// file and never makes a second one.
func (a *Activities) SendChanges(ctx context.Context, in customersync.SendInput) (customersync.SendResult, error) {
	ctx = aliveInCRM(ctx)
	t := in.Target
	log := a.logger(ctx, t)
	store, err := a.inboundStore(ctx, in.CRM)
	if err != nil {
		return customersync.SendResult{}, err
	}
	c, err := a.aws.For(ctx, t)
	if err != nil {
		return customersync.SendResult{}, err
	}
	perFile := min(max(in.RecordsPerFile, 1), maxRecordsPerFile)
	up := inboundUploader{s3: c.Put, bucket: t.Bucket, kmsKeyARN: in.KMSKeyARN}
	now := time.Now().UTC()
	res := customersync.SendResult{After: map[string]int64{}}

	for _, obj := range inboundObjects {
		after := in.After[string(obj)]
		res.After[string(obj)] = after
		changes, err := store.Changes(ctx, obj, crm.Watermark(after), in.Limit)
		if err != nil {
			return res, crmError(t, fmt.Sprintf("read %s changes from the CRM", obj), err)
		}
		if in.Limit > 0 && len(changes) >= in.Limit {
			res.More = true
		}
		var (
			batch    []crm.Change
			bodies   []json.RawMessage
			fieldsOf [][]string
			held     = false
			newAfter = after
		)
		var jobs []uploadJob
		flush := func() {
			if len(batch) > 0 {
				jobs = append(jobs, uploadJob{batch, bodies, fieldsOf})
				batch, bodies, fieldsOf = nil, nil, nil
			}
		}
		for _, ch := range changes {
			activity.RecordHeartbeat(ctx, ch.Watermark)
			if !due(ch, now, in.Force) {
				res.HeldBack++
				held = true // the watermark stops before it: the next cycles see it again
				continue
			}
			body, sentFields, problems := inboundRecord(obj, ch, now)
			if len(problems) > 0 {
				res.Invalid++
				metrics.ValidationFailed(activity.GetMetricsHandler(ctx), string(obj), 1)
				err := store.Record(ctx, crm.Outcome{Object: obj, PartnerID: ch.PartnerID, ACEID: ch.ACEID,
					Status: crm.SyncInvalid, Errors: problems, Watermark: ch.Watermark, At: now})
				switch {
				case err == nil:
					log.Warn().Str("object", string(obj)).Str("partner_id", ch.PartnerID).Int("problems", len(problems)).
						Msg("record failed pre-flight validation: not sent")
				case ctx.Err() != nil:
					return res, err
				default:
					// One record the CRM cannot mark does not stop the others. Gone from the
					// CRM: nothing to mark. A transient failure: the watermark stops before
					// it, so the next cycle offers it again.
					res.RecordErrors++
					res.FailedRecords = failedRecord(res.FailedRecords, obj, ch.PartnerID)
					if !permanent(err) {
						held = true
					}
					log.Warn().Str("object", string(obj)).Str("partner_id", ch.PartnerID).Str("error", logging.SafeError(err)).
						Bool("retried", !permanent(err)).Msg("could not mark a record that failed pre-flight validation")
				}
			} else {
				batch, bodies, fieldsOf = append(batch, ch), append(bodies, body), append(fieldsOf, sentFields)
				if len(batch) == perFile {
					flush()
				}
			}
			if !held {
				newAfter = int64(ch.Watermark)
			}
		}
		flush()
		sent, err := a.uploadAll(ctx, up, store, in, obj, jobs)
		res.Sent = append(res.Sent, sent...)
		if err != nil {
			return res, err
		}
		res.After[string(obj)] = newAfter
	}
	return res, nil
}

// uploadJob is one inbound file to write: its changes and their JSON records.
type uploadJob struct {
	changes []crm.Change
	bodies  []json.RawMessage
	fields  [][]string // per change: the fields sent, nil for all
}

// uploadConcurrency bounds the inbound uploads in flight: each costs a round trip to ACE's
// bucket, which is far from our workers.
const uploadConcurrency = 8

// uploadAll writes the jobs' files, several at a time. On an error the activity fails and
// is retried; files already written are found again by their deterministic names.
func (a *Activities) uploadAll(ctx context.Context, up inboundUploader, store crm.Inbound, in customersync.SendInput, obj ace.Object, jobs []uploadJob) ([]customersync.SentFile, error) {
	var (
		mu   sync.Mutex
		sent []customersync.SentFile
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadConcurrency)
	for _, j := range jobs {
		g.Go(func() error {
			files, err := a.sendBatch(gctx, up, store, in, obj, j)
			mu.Lock()
			sent = append(sent, files...)
			mu.Unlock()
			return err
		})
	}
	err := g.Wait()
	slices.SortFunc(sent, func(x, y customersync.SentFile) int { return strings.Compare(x.Key, y.Key) })
	return sent, err
}

// sendBatch uploads the records of batch in one inbound file (split in two if it would
// pass ACE's 1 MB limit) and marks them sent.
func (a *Activities) sendBatch(ctx context.Context, up inboundUploader, store crm.Inbound, in customersync.SendInput, obj ace.Object, j uploadJob) ([]customersync.SentFile, error) {
	t := in.Target
	batch := j.changes
	body, err := ace.BuildInbound(obj, in.SpmsID, j.bodies)
	if errors.Is(err, ace.ErrInboundTooLarge) && len(batch) > 1 {
		half := len(batch) / 2
		first, err := a.sendBatch(ctx, up, store, in, obj, uploadJob{batch[:half], j.bodies[:half], j.fields[:half]})
		if err != nil {
			return first, err
		}
		second, err := a.sendBatch(ctx, up, store, in, obj, uploadJob{batch[half:], j.bodies[half:], j.fields[half:]})
		return append(first, second...), err
	}
	if errors.Is(err, ace.ErrInboundTooLarge) {
		ch := batch[0]
		return nil, store.Record(ctx, crm.Outcome{Object: obj, PartnerID: ch.PartnerID, ACEID: ch.ACEID,
			Status: crm.SyncInvalid, Errors: []string{"the record is larger than ACE's 1 MB file limit"}, Watermark: ch.Watermark, At: time.Now().UTC()})
	}
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("build inbound %s file for customer %s/%s: %v", obj, t.Customer, t.Env, err), customersync.ErrCRMConfig, nil)
	}
	// The name is deterministic per change (partner id and watermark, stamped with the time
	// of the CRM change), so a retried upload finds its file instead of making another.
	first := batch[0]
	name := first.PartnerID + "-" + strconv.FormatInt(int64(first.Watermark), 10)
	if len(batch) > 1 {
		name = "batch-" + strconv.FormatInt(int64(first.Watermark), 10) + "-" + strconv.FormatInt(int64(batch[len(batch)-1].Watermark), 10)
	}
	key, created, err := up.upload(ctx, obj, name, first.ChangedAt, body)
	if err != nil {
		return nil, classifyAWS(t, "upload inbound file "+name, err)
	}
	sent := customersync.SentFile{Key: key, Object: string(obj)}
	now := time.Now().UTC()
	for i, ch := range batch {
		sent.Records = append(sent.Records, customersync.SentRecord{PartnerID: ch.PartnerID, Watermark: int64(ch.Watermark), Fields: j.fields[i]})
		if err := store.Record(ctx, crm.Outcome{Object: obj, PartnerID: ch.PartnerID, ACEID: ch.ACEID,
			Status: crm.SyncSent, File: key, Watermark: ch.Watermark, At: now}); err != nil {
			if ctx.Err() == nil && errors.Is(err, crm.ErrRecordGone) {
				continue // deleted since it was read: ACE's answer to it is skipped the same way
			}
			return []customersync.SentFile{sent}, err
		}
	}
	pauseAfterSent(ctx, key)
	log := a.logger(ctx, t)
	log.Info().Str("object", string(obj)).Str("key", key).Int("records", len(batch)).Bool("already_uploaded", !created).
		Msg("inbound file sent to ACE")
	return []customersync.SentFile{sent}, nil
}

// PauseAfterSentEnv is a test hook, never set in production: when the worker's environment
// names a directory in it, SendChanges writes a file there (named after the inbound file)
// once it has marked an upload's records sent in the CRM, and then waits until its context
// ends, so that a test can kill the worker inside the window between the CRM write and the
// activity's completion.
const PauseAfterSentEnv = "OPPSYNC_TEST_PAUSE_AFTER_SENT"

func pauseAfterSent(ctx context.Context, key string) {
	dir := os.Getenv(PauseAfterSentEnv)
	if dir == "" {
		return
	}
	_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(key, "/", "_")), nil, 0o600)
	<-ctx.Done()
}

// inboundRecord builds the JSON object ACE expects for one change and validates it (see
// rules.InboundRecord): the record's JSON, the fields it carries when it answers an AWS
// referral or lead (nil for a whole record), and every problem, each naming the field, the
// rule and what is allowed.
func inboundRecord(obj ace.Object, ch crm.Change, now time.Time) (json.RawMessage, []string, []string) {
	body, sent, problems, err := rules.InboundRecord(obj, ch.Fields, ch.Previous, rules.Options{Today: now})
	if err != nil {
		return nil, nil, []string{err.Error()}
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = fmt.Sprintf("%s [%s]: %s", p.Field, p.Rule, p.Message)
	}
	return body, sent, msgs
}

// CollectResults reads ACE's results for the files awaiting one: one LIST per results
// folder that has pending files, then each result file: its records' outcomes (ACE id,
// status, errors, warnings) are written to the CRM, and the result file is acknowledged by
// deletion.
//
// Only objects named after a file awaiting a result are read and deleted:
// "<sent name>_result.json", or "<sent name>.error.json" (ACE's answer to a file it could
// not process). Anything else in the folder (results of files we never sent or no longer
// await, unreadable results, other objects) is left in place, never deleted, and counted
// in ResultsOutput.Unknown; nothing stops on it.
func (a *Activities) CollectResults(ctx context.Context, in customersync.ResultsInput) (customersync.ResultsOutput, error) {
	ctx = aliveInCRM(ctx)
	t := in.Target
	log := a.logger(ctx, t)
	store, err := a.inboundStore(ctx, in.CRM)
	if err != nil {
		return customersync.ResultsOutput{}, err
	}
	c, err := a.aws.For(ctx, t)
	if err != nil {
		return customersync.ResultsOutput{}, err
	}
	client := c.S3
	byName := map[string]customersync.SentFile{} // inbound file name (without folder and .json) → file
	folders := map[string]bool{}
	for _, f := range in.Pending {
		byName[inboundName(f.Key)] = f
		if folder := in.Folders[f.Object]; folder != "" {
			folders[folder] = true
		}
	}
	var out customersync.ResultsOutput
	if in.FromCRM {
		awaiting, err := crmAwaiting(ctx, t, store, in.Folders)
		if err != nil {
			return customersync.ResultsOutput{}, err
		}
		addAwaiting(byName, awaiting)
		for _, a := range awaiting {
			folders[in.Folders[string(a.Object)]] = true
		}
		out.Resolved = answeredEarlier(in.Pending, awaiting)
	}
	for _, folder := range slices.Sorted(maps.Keys(folders)) {
		pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(t.Bucket), Prefix: aws.String(folder)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return out, classifyAWS(t, "list "+folder, err)
			}
			for _, o := range page.Contents {
				key := aws.ToString(o.Key)
				if key == folder {
					continue
				}
				name, named := ace.AnsweredName(folder, key)
				if _, sent := byName[name]; !named || !sent {
					out.Unknown++ // not an answer to a file awaiting one: not ours to read or delete
					continue
				}
				activity.RecordHeartbeat(ctx, key)
				applied, err := a.applyResult(ctx, t, store, client, key, name, byName, &out)
				if err != nil {
					return out, err
				}
				if !applied {
					continue // unreadable, or answering a file we do not await: left for an operator
				}
				if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(key)}); err != nil {
					return out, classifyAWS(t, "acknowledge result "+key, err)
				}
			}
		}
	}
	if out.Unknown > 0 {
		log.Warn().Int("unknown_results", out.Unknown).Msg("left in the results folders: objects that answer no inbound file awaiting a result")
	}
	if out.RecordErrors > 0 {
		log.Warn().Int("records", out.RecordErrors).Strs("failed_records", out.FailedRecords).
			Msg("ACE's answer could not be written to some records (gone from the CRM, or an ACE id conflict): their result files are acknowledged")
	}
	if out.Retrying > 0 {
		log.Warn().Int("records", out.Retrying).Msg("the CRM could not write ACE's answer to some records now: their result files are kept for the next cycle")
	}
	return out, nil
}

// crmAwaiting lists the records the CRM holds as sent to ACE, for every object that has a
// results folder.
func crmAwaiting(ctx context.Context, t customersync.Target, store crm.Inbound, folders map[string]string) ([]crm.Awaiting, error) {
	var all []crm.Awaiting
	for _, obj := range inboundObjects {
		if folders[string(obj)] == "" {
			continue
		}
		a, err := store.Awaiting(ctx, obj, 0)
		if err != nil {
			return nil, crmError(t, fmt.Sprintf("list the %s records awaiting ACE's result", obj), err)
		}
		all = append(all, a...)
	}
	return all, nil
}

// addAwaiting adds to byName (inbound file name → file) the files the CRM's awaiting
// records went in that byName does not hold yet: the workflow never heard of them (a crash
// between the CRM write and the activity's completion). Which fields a record with an ACE
// id carried is unknown (FieldsUnknown); one without went whole.
// answeredEarlier returns the keys of the pending files none of whose records the CRM still
// holds as sent: an earlier attempt of the results pass wrote ACE's answers to them and
// deleted the results, then died before the workflow learned of it. Without this they would
// stay in Pending, listed as awaiting an answer, until ResultTimeout. A file with a record
// still sent (in it or in a later file) stays pending.
func answeredEarlier(pending []customersync.SentFile, awaiting []crm.Awaiting) []string {
	type rec struct {
		obj       string
		partnerID string
	}
	sent := map[rec]bool{}
	for _, a := range awaiting {
		sent[rec{string(a.Object), a.PartnerID}] = true
	}
	var keys []string
	for _, f := range pending {
		if len(f.Records) == 0 {
			continue
		}
		still := false
		for _, r := range f.Records {
			still = still || sent[rec{f.Object, r.PartnerID}]
		}
		if !still {
			keys = append(keys, f.Key)
		}
	}
	return keys
}

func addAwaiting(byName map[string]customersync.SentFile, awaiting []crm.Awaiting) {
	known := map[string]bool{}
	for name := range byName {
		known[name] = true
	}
	for _, a := range awaiting {
		name := inboundName(a.File)
		if known[name] {
			continue
		}
		f := byName[name]
		f.Key, f.Object = a.File, string(a.Object)
		f.Records = append(f.Records, customersync.SentRecord{PartnerID: a.PartnerID, Watermark: int64(a.Watermark), FieldsUnknown: a.ACEID != ""})
		byName[name] = f
	}
}

// permanent reports whether an outcome write failed for a reason no retry cures: the record
// is gone from the CRM, its ACE id conflicts, or the CRM refused the write for good.
func permanent(err error) bool {
	return errors.Is(err, crm.ErrRecordGone) || errors.Is(err, crm.ErrIDConflict) || !crm.Retryable(err)
}

// failedRecord names a record in an activity result: object and partner id, no record text.
func failedRecord(list []string, obj ace.Object, partnerID string) []string {
	if len(list) >= maxFailedRecords {
		return list
	}
	return append(list, string(obj)+"/"+partnerID)
}

// inboundName is an inbound key's file name without folder and .json.
func inboundName(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		key = key[i+1:]
	}
	return strings.TrimSuffix(strings.TrimSuffix(key, ".json"), ".error")
}

// applyResult reads one result (or error) file, named after the pending file name, and
// writes its outcomes to the CRM. It reports whether it did: false (with Unknown counted)
// for a result it cannot read or that names a file not awaiting one.
func (a *Activities) applyResult(ctx context.Context, t customersync.Target, store crm.Inbound, client S3API, key, name string,
	byName map[string]customersync.SentFile, out *customersync.ResultsOutput) (bool, error) {
	log := a.logger(ctx, t).With().Str("result", key).Logger()
	get, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(key)})
	if err != nil {
		return false, classifyAWS(t, "get result "+key, err)
	}
	body, err := io.ReadAll(io.LimitReader(get.Body, ace.MaxOutboundFileBytes+1))
	_ = get.Body.Close()
	if err != nil {
		return false, fmt.Errorf("read result %s: %w", key, err)
	}
	now := time.Now().UTC()

	var outcomes map[string]crm.Outcome // partner id → outcome
	if ace.IsErrorFile(key) {
		f, ok := byName[name]
		if !ok {
			out.Unknown++
			return false, nil
		}
		reason := "ACE could not process the file: " + ace.ErrorFileReason(body)
		outcomes = map[string]crm.Outcome{}
		for _, r := range f.Records {
			outcomes[r.PartnerID] = crm.Outcome{Status: crm.SyncRejected, Errors: []string{reason}}
		}
	} else {
		res, err := ace.ParseResult(key, body)
		if err != nil {
			log.Warn().Str("error", logging.SafeError(err)).Msg("unreadable result file left in place")
			out.Unknown++
			return false, nil
		}
		if res.FileName != "" {
			name = inboundName(res.FileName)
		}
		f, ok := byName[name]
		if !ok {
			out.Unknown++
			return false, nil
		}
		outcomes = resultOutcomes(f, res)
	}
	f := byName[name]
	// Each record on its own: one the CRM cannot take does not stop the others. The file is
	// acknowledged once every record's outcome is written or failed for good (see permanent);
	// a transient failure keeps the file for the next pass.
	retry := 0
	for _, r := range f.Records {
		o := outcomes[r.PartnerID]
		o.Object, o.PartnerID, o.File, o.At, o.Watermark = ace.Object(f.Object), r.PartnerID, f.Key, now, crm.Watermark(r.Watermark)
		o.Fields = r.Fields
		if r.FieldsUnknown && o.Fields == nil {
			o.Fields = []string{} // which fields went is unknown: confirm none, the edits go again
		}
		err := store.Record(ctx, o)
		if err != nil && ctx.Err() != nil {
			return false, err
		}
		failed := err
		if err != nil && permanent(err) && !errors.Is(err, crm.ErrRecordGone) {
			// ACE's answer cannot be taken as it is (an ACE id conflict): the record shows
			// why, without the id, rather than staying sent.
			why := crm.Outcome{Object: o.Object, PartnerID: o.PartnerID, File: o.File, At: o.At, Watermark: o.Watermark,
				Status: crm.SyncRejected, Warnings: o.Warnings,
				Errors: append(slices.Clone(o.Errors), fmt.Sprintf("OppSync could not write ACE's answer (status %s, ACE id %q): %v", o.Status, o.ACEID, err))}
			if err = store.Record(ctx, why); err == nil {
				o.Status = crm.SyncRejected
			}
		}
		if err != nil && !permanent(err) {
			retry++
			log.Warn().Str("object", string(o.Object)).Str("partner_id", r.PartnerID).Str("error", logging.SafeError(err)).
				Msg("the CRM could not write ACE's answer now: the result file is kept")
			continue
		}
		if failed != nil {
			out.RecordErrors++
			out.FailedRecords = failedRecord(out.FailedRecords, o.Object, r.PartnerID)
			log.Warn().Str("object", string(o.Object)).Str("partner_id", r.PartnerID).Str("error", logging.SafeError(failed)).
				Bool("marked_rejected", err == nil).
				Msg("ACE's answer could not be written to the record as it is: skipped")
		}
		if err != nil {
			continue // gone from the CRM: nothing to write to
		}
		if o.Status == crm.SyncAccepted {
			out.Accepted++
		} else {
			out.Rejected++
		}
	}
	if retry > 0 {
		out.Retrying += retry
		return false, nil
	}
	out.Resolved = append(out.Resolved, f.Key)
	log.Info().Str("inbound", f.Key).Msg("ACE result written to the CRM")
	return true, nil
}

// resultOutcomes maps ACE's per-record results onto the records we sent (see
// ace.Result.ByPartnerID).
func resultOutcomes(f customersync.SentFile, res *ace.Result) map[string]crm.Outcome {
	sent := make([]string, len(f.Records))
	for i, r := range f.Records {
		sent[i] = r.PartnerID
	}
	out := map[string]crm.Outcome{}
	for id, r := range res.ByPartnerID(sent) {
		o := crm.Outcome{ACEID: r.ACEID, Errors: r.Errors, Warnings: r.Warnings, Status: crm.SyncRejected}
		if r.IsSuccess {
			o.Status = crm.SyncAccepted
		}
		out[id] = o
	}
	return out
}

// MarkNoAnswer marks the records of files ACE did not answer in time: the files given and,
// with FromCRM, every record the CRM holds as sent longer than Timeout ago. Each record on
// its own: one gone from the CRM is skipped; a transient failure fails the activity after
// the others are marked (marking is idempotent, so the retry repeats nothing harmful).
func (a *Activities) MarkNoAnswer(ctx context.Context, in customersync.NoAnswerInput) (int, error) {
	store, err := a.inboundStore(ctx, in.CRM)
	if err != nil {
		return 0, err
	}
	type mark struct {
		obj       ace.Object
		partnerID string
		file      string
		watermark int64
	}
	var marks []mark
	seen := map[string]bool{}
	// With FromCRM, the CRM says which records still await an answer: a file of the
	// workflow's list whose result was written back just before a crash (its records are
	// accepted now) is not marked.
	var stillSent map[string]bool
	var awaitingBy map[ace.Object][]crm.Awaiting
	if in.FromCRM {
		stillSent, awaitingBy = map[string]bool{}, map[ace.Object][]crm.Awaiting{}
		for _, obj := range inboundObjects {
			awaiting, err := store.Awaiting(ctx, obj, 0)
			if err != nil {
				return 0, crmError(in.Target, fmt.Sprintf("list the %s records awaiting ACE's result", obj), err)
			}
			awaitingBy[obj] = awaiting
			for _, aw := range awaiting {
				stillSent[string(obj)+"/"+aw.PartnerID+"/"+aw.File] = true
			}
		}
	}
	for _, f := range in.Files {
		for _, r := range f.Records {
			seen[f.Object+"/"+r.PartnerID] = true
			if stillSent != nil && !stillSent[f.Object+"/"+r.PartnerID+"/"+f.Key] {
				continue // answered (or edited again) meanwhile: not "no answer"
			}
			marks = append(marks, mark{ace.Object(f.Object), r.PartnerID, f.Key, r.Watermark})
		}
	}
	now := time.Now().UTC()
	if in.FromCRM && in.Timeout > 0 {
		for _, obj := range inboundObjects {
			for _, aw := range awaitingBy[obj] {
				if aw.SentAt.IsZero() || now.Sub(aw.SentAt) < in.Timeout || seen[string(obj)+"/"+aw.PartnerID] {
					continue
				}
				marks = append(marks, mark{obj, aw.PartnerID, aw.File, int64(aw.Watermark)})
			}
		}
	}
	n, gone := 0, 0
	var transient error
	for _, m := range marks {
		err := store.Record(ctx, crm.Outcome{Object: m.obj, PartnerID: m.partnerID, Status: crm.SyncNoAnswer,
			Errors: []string{"no answer from ACE for " + m.file}, File: m.file, Watermark: crm.Watermark(m.watermark), At: now})
		switch {
		case err == nil:
			n++
		case ctx.Err() != nil:
			return n, err
		case permanent(err):
			gone++
		default:
			transient = err
		}
	}
	log := a.logger(ctx, in.Target)
	if n > 0 || gone > 0 {
		log.Warn().Int("records", n).Int("skipped_records", gone).Int("files", len(in.Files)).Msg("no answer from ACE: records marked")
	}
	if transient != nil {
		return n, crmError(in.Target, "mark records ACE did not answer", transient)
	}
	return n, nil
}

// maxFailedRecords bounds the record ids an activity result lists.
const maxFailedRecords = 20
