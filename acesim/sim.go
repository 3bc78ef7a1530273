package acesim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/rules"
)

// S3API is the part of the S3 client the simulator calls. *s3.Client satisfies it; the
// client must act as the bucket owner (ACE), not as the partner.
type S3API interface {
	s3.ListObjectsV2APIClient
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// DefaultInterval is how often Run polls the inbound folders when Options.Interval is zero.
const DefaultInterval = time.Second

// ResultsFolders names the folders the simulator writes result and error files to. ACE's
// documentation names them two ways (README, Folders), so OppSync keeps them configurable
// and so does the simulator.
type ResultsFolders struct {
	// Opportunity defaults to ace.FolderOpportunityResults.
	Opportunity string
	// Lead defaults to ace.FolderLeadResults.
	Lead string
}

// Options configures a Sim. The zero value answers every file at once, every second.
type Options struct {
	// Interval is how often Run polls the inbound folders. Default DefaultInterval.
	Interval time.Duration
	// ResultsFolders overrides the results folders; an empty field keeps its default.
	ResultsFolders ResultsFolders
	// Clock returns the current time: it stamps result and outbound files and times Delay.
	// Default time.Now.
	Clock func() time.Time
	// Delay is how long an inbound file waits, from the poll that first saw it, before it is
	// processed: ACE answers within minutes, not at once (README, Cadence). Default 0.
	Delay time.Duration
	// DropResults, if set, is asked for every inbound file key (e.g.
	// "opportunity-inbound/x.json"); when it returns true the file is processed, applied
	// and deleted as usual but no result file is ever written, to test OppSync's handling
	// of an inbound file ACE never answers.
	DropResults func(key string) bool
	// SpmsID is the partner's id, written to outbound files. When set, an inbound file with
	// another spmsId is rejected whole; when empty, any spmsId is accepted and results
	// echo the file's own.
	SpmsID string
	// UnmaskOnAccept makes the simulator emit the unmasked outbound file of an AWS referral
	// right after it processed the partner's acceptance, as ACE does with its next export.
	// Without it, call Unmask.
	UnmaskOnAccept bool
	// Validation tunes the record rules (package ace/rules); Today defaults to Clock's date.
	Validation rules.Options
	// Logf, if set, receives one line per file processed and per outbound file written.
	Logf func(format string, args ...any)
}

// Stats counts what one ProcessOnce did.
type Stats struct {
	// Files is the number of inbound .json files answered (or dropped, see Dropped).
	Files int
	// Records, Succeeded and Failed count the records of those files.
	Records, Succeeded, Failed int
	// APIErrors counts files rejected whole (isApiError true).
	APIErrors int
	// ErrorFiles counts non-.json uploads answered with a *.error.json file.
	ErrorFiles int
	// Repeats counts files whose name had been processed before: deleted, not processed.
	Repeats int
	// Dropped counts files processed without a result file (Options.DropResults).
	Dropped int
	// Waiting counts files left for a later poll because Options.Delay has not passed.
	Waiting int
	// Outbound lists the keys of outbound files written (Options.UnmaskOnAccept).
	Outbound []string
}

// Record is the simulator's state of one ACE record: the latest accepted fields.
type Record struct {
	Object ace.Object
	// ACEID is apnCrmUniqueIdentifier, assigned by the simulator.
	ACEID string
	// PartnerID is the partner's CRM id (partnerCrmUniqueIdentifier or partnerCrmLeadId);
	// blank for an AWS referral the partner has not answered yet.
	PartnerID string
	// Referral is true for a record AWS created (EmitReferral), false for a partner's.
	Referral bool
	// Accepted is true once the partner accepted a referral (partnerAcceptanceStatus or,
	// for leads, currentLeadStage "Accepted").
	Accepted bool
	// Fields are the record's fields, unmasked, without the two ids.
	Fields map[string]json.RawMessage
}

// Sim is the simulator of one ACE bucket. Its methods are safe for concurrent use.
type Sim struct {
	s3     S3API
	bucket string
	opts   Options
	logf   func(format string, args ...any)

	mu        sync.Mutex
	records   map[string]*Record   // by ACE id
	processed map[string]bool      // inbound keys answered: ACE ignores a repeated name
	firstSeen map[string]time.Time // inbound keys waiting for Options.Delay
	outSeq    int                  // makes outbound file names unique
	lastSpms  string               // spmsId of the latest inbound file, for outbound files
}

// New returns a simulator of the ACE bucket bucket, acting through client, which must hold
// the bucket owner's (ACE's) credentials, e.g. devstack's Stack.RootS3.
func New(client S3API, bucket string, opts Options) *Sim {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.ResultsFolders.Opportunity == "" {
		opts.ResultsFolders.Opportunity = ace.FolderOpportunityResults
	}
	if opts.ResultsFolders.Lead == "" {
		opts.ResultsFolders.Lead = ace.FolderLeadResults
	}
	opts.ResultsFolders.Opportunity = withSlash(opts.ResultsFolders.Opportunity)
	opts.ResultsFolders.Lead = withSlash(opts.ResultsFolders.Lead)
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Sim{
		s3:        client,
		bucket:    bucket,
		opts:      opts,
		logf:      logf,
		records:   make(map[string]*Record),
		processed: make(map[string]bool),
		firstSeen: make(map[string]time.Time),
	}
}

func withSlash(folder string) string {
	if !strings.HasSuffix(folder, "/") {
		return folder + "/"
	}
	return folder
}

// Bucket returns the bucket the simulator serves.
func (s *Sim) Bucket() string { return s.bucket }

// Run polls the inbound folders every Options.Interval until ctx ends, then returns nil.
// A failed poll is logged and retried at the next tick: a simulator that stops on the
// first S3 hiccup would hide the behaviour under test.
func (s *Sim) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		if _, err := s.ProcessOnce(ctx); err != nil && ctx.Err() == nil {
			s.logf("acesim: %v", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Start runs Run in a goroutine and returns a function that stops it and waits for it.
func (s *Sim) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// Record returns a copy of the simulator's state of the record with ACE id aceID.
func (s *Sim) Record(aceID string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[aceID]
	if !ok {
		return Record{}, false
	}
	return r.clone(), true
}

// Records returns copies of all records, ordered by ACE id.
func (s *Sim) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.records))
	out := make([]Record, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.records[id].clone())
	}
	return out
}

func (r *Record) clone() Record {
	c := *r
	c.Fields = maps.Clone(r.Fields)
	return c
}

// newID returns an unused ACE id for object o: "O" or "L" and 7 digits. ACE documents only
// the prefix (README, Identity); its samples show 7 digits ("O1234567", "L1234567").
// Random rather than sequential, so that ids from an earlier run of the simulator against
// the same CRM are unlikely to be reused.
func (s *Sim) newID(o ace.Object) string {
	prefix := "O"
	if o == ace.ObjectLead {
		prefix = "L"
	}
	for {
		id := fmt.Sprintf("%s%07d", prefix, 1_000_000+rand.IntN(9_000_000))
		if _, taken := s.records[id]; !taken {
			return id
		}
	}
}

func (s *Sim) now() time.Time { return s.opts.Clock().UTC() }

// aceTime formats t as ACE's timestamps: "2023-05-28T15:21:22.331Z" (README, Quirks).
func aceTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// errS3 wraps an S3 failure with the bucket and key, so the log says which object.
func (s *Sim) errS3(op, key string, err error) error {
	return fmt.Errorf("acesim: %s s3://%s/%s: %w", op, s.bucket, key, err)
}

// spmsID is the spmsId written to outbound files: Options.SpmsID, else the one the partner
// last sent, else null.
func (s *Sim) spmsID() json.RawMessage {
	id := s.opts.SpmsID
	if id == "" {
		id = s.lastSpms
	}
	if id == "" {
		return json.RawMessage("null")
	}
	return rawString(id)
}

// ErrNotAccepted is returned by Unmask for an AWS referral the partner has not accepted.
var ErrNotAccepted = errors.New("referral not accepted by the partner")
