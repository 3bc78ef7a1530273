// Package customersync is the contract of the customer workflow, the one place for what the
// worker, the starter CLI, the tests and the benchmark share: the task queue, the workflow
// name and ID format, the names of every message, the search-attribute keys, every type
// that crosses Temporal's history (workflow and activity inputs and results), and Client,
// which sends those messages typed. It links no workflow or activity code, so the CLI does
// not either. Nothing here may carry a file body, a record or a credential: history is
// stored and shown in the Web UI.
package customersync

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

// TaskQueue is the task queue every OppSync worker polls.
const TaskQueue = "oppsync"

// WorkflowName is the registered name of the customer workflow (workflows.CustomerSync).
const WorkflowName = "CustomerSync"

// Message names of the customer workflow.
const (
	// SignalSyncNow asks the workflow to start a cycle now instead of waiting for the timer.
	SignalSyncNow = "sync-now"
	// UpdateSyncNow starts a cycle now and completes when that cycle is done, returning its
	// CycleSummary (the CLI's `sync-now --wait`).
	UpdateSyncNow = "sync-now-wait"
	// UpdateConfigure replaces the customer's configuration; enroll sends it with
	// update-with-start so that enrolling again updates rather than duplicates.
	UpdateConfigure = "configure"
	// QueryStatus returns the workflow's Status.
	QueryStatus = "status"
	// UpdatePause stops cycles until UpdateResume; the workflow keeps its state.
	UpdatePause = "pause"
	// UpdateResume ends a pause, re-checks access and runs a cycle at once.
	UpdateResume = "resume"
	// UpdateCheck walks the access chain (AssumeRole, S3 list, S3 get, KMS, CRM) and returns
	// a CheckReport naming the first broken link.
	UpdateCheck = "check"
	// UpdateRedrive retries quarantined files (all, or one key) and returns that cycle's summary.
	UpdateRedrive = "redrive"
	// UpdateOffboard lets the cycle in flight finish, then ends the workflow cleanly.
	UpdateOffboard = "offboard"
	// UpdateForceSend runs a cycle now that sends every pending CRM change to ACE, even
	// records sent less than an hour ago, and returns its summary.
	UpdateForceSend = "force-send"
)

// Health is the customer's sync state as operators see it (and search by: SyncState).
type Health string

// Sync states.
const (
	// HealthHealthy: the last cycle succeeded.
	HealthHealthy Health = "healthy"
	// HealthPaused: an operator paused the customer; no cycles run.
	HealthPaused Health = "paused"
	// HealthBackingOff: recent cycles failed on something transient (throttling, 5xx,
	// timeouts); cycles are retried with a capped exponential back-off.
	HealthBackingOff Health = "backing-off"
	// HealthNeedsAttention: access is broken (role, trust policy, External ID, bucket or
	// key permissions, CRM), or failures persisted past NeedsAttentionAfter cycles. Someone
	// must act; the workflow re-checks on a slow back-off and heals by itself once fixed.
	HealthNeedsAttention Health = "needs-attention"
)

// NeedsAttentionAfter is the number of failed cycles in a row after which even transient
// failures mark the customer needs-attention.
const NeedsAttentionAfter = 5

// Search attributes the workflow maintains (no personal data in any of them). Register them
// on a cluster with `make search-attributes` (see README); the dev stack registers them.
var (
	SearchCustomer = temporal.NewSearchAttributeKeyKeyword("CustomerId")
	SearchEnv      = temporal.NewSearchAttributeKeyKeyword("AceEnv")
	SearchState    = temporal.NewSearchAttributeKeyKeyword("SyncState")
	// SearchLastSuccess is the end of the last successful cycle, updated at most hourly.
	// A customer that never synced has none: `LastSyncSuccess IS NULL` finds it.
	SearchLastSuccess = temporal.NewSearchAttributeKeyTime("LastSyncSuccess")
	// SearchBrokenLink names the broken link of the access chain while access is broken
	// (one of the BrokenLink* values), and is removed once access works again.
	SearchBrokenLink = temporal.NewSearchAttributeKeyKeyword("BrokenLink")
	// SearchQuarantined is the number of quarantined outbound files (absent: none).
	SearchQuarantined = temporal.NewSearchAttributeKeyInt64("QuarantinedFiles")
	// SearchAwaitingACE is the number of inbound files awaiting ACE's result (absent: none).
	SearchAwaitingACE = temporal.NewSearchAttributeKeyInt64("AwaitingAceResults")
)

// SearchAttributeTypes lists the search attributes and their types, as the Temporal CLI's
// `--search-attribute Name=Type` flags expect them.
func SearchAttributeTypes() map[string]string {
	return map[string]string{
		SearchCustomer.GetName(): "Keyword", SearchEnv.GetName(): "Keyword",
		SearchState.GetName(): "Keyword", SearchLastSuccess.GetName(): "Datetime",
		SearchBrokenLink.GetName(): "Keyword", SearchQuarantined.GetName(): "Int",
		SearchAwaitingACE.GetName(): "Int",
	}
}

// PauseRequest pauses a customer.
type PauseRequest struct {
	// Reason is shown in status and the UI; say why, without personal data.
	Reason string `json:"reason"`
}

// RedriveRequest names the quarantined files to retry: one key, or all when empty.
type RedriveRequest struct {
	File string `json:"file,omitempty"`
}

// Env is an ACE environment: each customer has a prod and a beta bucket.
type Env string

// The two ACE environments.
const (
	EnvProd Env = "prod"
	EnvBeta Env = "beta"
)

// Catalog is the Partner Central Selling API catalog of the environment: AWS for prod,
// Sandbox for beta (the API's CatalogIdentifier; the partnercentral:Catalog IAM condition).
func (e Env) Catalog() string {
	if e == EnvProd {
		return "AWS"
	}
	return "Sandbox"
}

// Transport is how OppSync reaches ACE for a customer: ACE's S3 file integration (the
// customer's two buckets), or the Partner Central Selling API, which AWS has offered new
// partners since it closed the S3 integration to them in 2024. Both go through the role the
// customer created for OppSync, assumed with its External ID; only the ACE edge differs.
type Transport string

// The two transports.
const (
	TransportS3  Transport = "s3"
	TransportAPI Transport = "api"
)

// ParseEnv checks that s names an ACE environment.
func ParseEnv(s string) (Env, error) {
	switch Env(s) {
	case EnvProd, EnvBeta:
		return Env(s), nil
	}
	return "", fmt.Errorf("environment %q is not valid: use prod or beta", s)
}

// Defaults for CustomerConfig.
const (
	DefaultPollInterval    = 10 * time.Minute
	MinPollInterval        = 5 * time.Second
	DefaultFileConcurrency = 8
	// DefaultBatchHeartbeat is the heartbeat timeout of outbound batches: a worker killed
	// mid-batch is noticed within it, and the batch resumes on another worker.
	DefaultBatchHeartbeat  = 20 * time.Second
	DefaultMaxFilesPerList = 1000
	// DefaultResultTimeout is how long an inbound file may wait for ACE's result before its
	// records are marked "no answer from ACE".
	DefaultResultTimeout = 2 * time.Hour
	// DefaultResultPollInterval is how often results are looked for while files await one.
	DefaultResultPollInterval = time.Minute
	// DefaultChangesPerCycle caps the CRM changes read per object and cycle.
	DefaultChangesPerCycle = 200
)

var customerIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// WorkflowID returns the ID of the customer's workflow in env: oppsync/<customer>/<env>.
func WorkflowID(customer string, env Env) string {
	return "oppsync/" + customer + "/" + string(env)
}

// ParseWorkflowID is the inverse of WorkflowID.
func ParseWorkflowID(id string) (customer string, env Env, ok bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 || parts[0] != "oppsync" {
		return "", "", false
	}
	return parts[1], Env(parts[2]), true
}

// CustomerConfig is everything the workflow needs to sync one customer in one environment.
// It holds references only: the CRM URL names where credentials live, never the credentials.
type CustomerConfig struct {
	Customer string `json:"customer"`
	Env      Env    `json:"env"`
	// RoleARN is the IAM role the customer created for us in its own account.
	RoleARN string `json:"roleArn"`
	// ExternalID is the sts:ExternalId condition of that role's trust policy. AWS documents it
	// as not secret, but it is never logged.
	ExternalID string `json:"externalId"`
	// Transport is TransportS3 (the default) or TransportAPI. Bucket, KMSKeyARN and the
	// results folders are the S3 transport's; a customer on the API may keep them, so
	// that switching back is one configure.
	Transport Transport `json:"transport,omitempty"`
	Bucket    string    `json:"bucket"`
	Region    string    `json:"region"`
	// KMSKeyARN is ACE's key for the bucket (used for inbound writes).
	KMSKeyARN string `json:"kmsKeyArn,omitempty"`
	// CRM is the connector URL, e.g. sqlite:///var/lib/oppsync/acme.db.
	CRM          string        `json:"crm"`
	PollInterval time.Duration `json:"pollInterval"`
	AckMode      AckMode       `json:"ackMode"`
	// FileConcurrency is how many per-file activities ran at once before outbound batches
	// (workflow runs started before versionBatches); ReadConcurrency is how many files of a
	// batch are downloaded at once.
	FileConcurrency int `json:"fileConcurrency"`
	ReadConcurrency int `json:"readConcurrency,omitempty"`
	// BatchHeartbeat is how long a batch may go without a heartbeat before Temporal gives it
	// to another worker: how soon a batch on a dead worker resumes elsewhere.
	BatchHeartbeat time.Duration `json:"batchHeartbeat,omitempty"`

	// SpmsID is the partner's ACE id. When set, the CRM's changes are sent to ACE (inbound).
	SpmsID string `json:"spmsId,omitempty"`
	// RecordsPerFile is how many records go in one inbound file: 1 (AWS's advice) to 50.
	RecordsPerFile int `json:"recordsPerFile,omitempty"`
	// ResultTimeout is how long to wait for ACE's result of an inbound file.
	ResultTimeout time.Duration `json:"resultTimeout,omitempty"`
	// ResultPollInterval is the time between cycles while files await a result.
	ResultPollInterval time.Duration `json:"resultPollInterval,omitempty"`
	// OpportunityResults and LeadResults are ACE's results folders: one of
	// ace.ResultsFolders for the object (AWS's guide and one of its FAQ answers name them
	// differently, so they are configurable, between those names only).
	OpportunityResults string `json:"opportunityResults,omitempty"`
	LeadResults        string `json:"leadResults,omitempty"`
}

// UnmarshalJSON reads c from its JSON form, in history (durations in nanoseconds) or as
// `starter status --json` prints it (durations as "10m0s", as the temporal CLI prints
// them), so that scripts can feed that output back.
func (c *CustomerConfig) UnmarshalJSON(b []byte) error {
	type plain CustomerConfig
	var aux struct {
		*plain
		PollInterval       jsonDuration `json:"pollInterval"`
		ResultTimeout      jsonDuration `json:"resultTimeout"`
		ResultPollInterval jsonDuration `json:"resultPollInterval"`
		BatchHeartbeat     jsonDuration `json:"batchHeartbeat,omitempty"`
	}
	aux.plain = (*plain)(c)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	c.PollInterval, c.ResultTimeout, c.ResultPollInterval = time.Duration(aux.PollInterval),
		time.Duration(aux.ResultTimeout), time.Duration(aux.ResultPollInterval)
	c.BatchHeartbeat = time.Duration(aux.BatchHeartbeat)
	return nil
}

// jsonDuration is a duration in JSON as nanoseconds or as a Go duration string.
type jsonDuration time.Duration

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = jsonDuration(v)
		return nil
	}
	var ns int64
	if err := json.Unmarshal(b, &ns); err != nil {
		return fmt.Errorf("duration %s: want nanoseconds or a string such as \"10m0s\"", b)
	}
	*d = jsonDuration(ns)
	return nil
}

// WithDefaults returns c with every unset optional field at its default.
func (c CustomerConfig) WithDefaults() CustomerConfig {
	if c.Region == "" {
		c.Region = "us-west-2"
	}
	if c.Transport == "" {
		c.Transport = TransportS3
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.AckMode == "" {
		c.AckMode = AckDelete
	}
	if c.FileConcurrency == 0 {
		c.FileConcurrency = DefaultFileConcurrency
	}
	if c.ReadConcurrency == 0 {
		c.ReadConcurrency = DefaultReadConcurrency
	}
	if c.BatchHeartbeat == 0 {
		c.BatchHeartbeat = DefaultBatchHeartbeat
	}
	if c.RecordsPerFile == 0 {
		c.RecordsPerFile = 1
	}
	if c.ResultTimeout == 0 {
		c.ResultTimeout = DefaultResultTimeout
	}
	if c.ResultPollInterval == 0 {
		c.ResultPollInterval = DefaultResultPollInterval
	}
	if c.OpportunityResults == "" {
		c.OpportunityResults = ace.FolderOpportunityResults
	}
	if c.LeadResults == "" {
		c.LeadResults = ace.FolderLeadResults
	}
	return c
}

var (
	roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
	bucketPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	spmsPattern    = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	kmsARNPattern  = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/-]+$`)
)

// The External ID rule, the customer role template's (deploy/cloudformation/customer-role.yaml,
// parameter ExternalId: MinLength, MaxLength, AllowedPattern; deploy's tests check that the
// two agree). AWS allows 2-1224 characters of this set for sts:ExternalId; the template asks
// for at least 32 so that an External ID cannot be guessed. Enrollment and onboarding apply
// the same rule, so nothing is enrolled that the customer's stack would refuse.
const (
	MinExternalIDLength = 32
	MaxExternalIDLength = 1224
	// ExternalIDPattern is AWS's allowed character set for sts:ExternalId.
	ExternalIDPattern = `^[\w+=,.@:/-]+$`
)

var externalIDPattern = regexp.MustCompile(ExternalIDPattern)

// CheckExternalID reports why id is not an External ID the customer role template accepts,
// or nil. The error never quotes the ID.
func CheckExternalID(id string) error {
	switch {
	case len(id) < MinExternalIDLength || len(id) > MaxExternalIDLength:
		return fmt.Errorf("external ID has %d characters: use %d-%d, as the customer role template requires (generate one with `starter external-id new`)",
			len(id), MinExternalIDLength, MaxExternalIDLength)
	case !externalIDPattern.MatchString(id):
		return fmt.Errorf("external ID has characters AWS does not allow: use letters, digits and _+=,.@:/-")
	}
	return nil
}

// Validate reports every problem with c at once, each naming the field and what is expected.
// Call it on a config that has had WithDefaults applied. The starter runs it before anything
// reaches Temporal, and the configure update's validator runs it in the workflow.
func (c CustomerConfig) Validate() error { return c.validate(true) }

// ValidateRunning is the check a workflow run applies to the configuration it starts with
// (from the starter, or carried across continue-as-new). It keeps the rules the workflow
// has always applied there: a configuration accepted before the current rules (a short
// External ID, an inline CRM credential, a results folder that is not ACE's) was written
// into history when its workflow started, so refusing it now would neither keep it out of
// history nor replay deterministically, and would stop a running customer at its next
// continue-as-new. New configurations meet Validate's current rules, at the starter and in
// the update validator. (The results pass deletes only ACE's answers to our own files,
// whatever folder an old configuration names.)
func (c CustomerConfig) ValidateRunning() error { return c.validate(false) }

// validate reports every problem with c; current selects today's rules (see ValidateRunning).
func (c CustomerConfig) validate(current bool) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !customerIDPattern.MatchString(c.Customer) {
		bad("customer %q is not valid: use 1-63 lower-case letters, digits and dashes (no personal data: it appears in workflow IDs)", c.Customer)
	}
	if _, err := ParseEnv(string(c.Env)); err != nil {
		errs = append(errs, err)
	}
	if !roleARNPattern.MatchString(c.RoleARN) {
		bad("role ARN %q is not valid: expected arn:aws:iam::<12-digit account>:role/<name>", c.RoleARN)
	}
	switch {
	case c.ExternalID == "":
		bad("external ID is missing: every customer role must require one (sts:ExternalId)")
	case !current:
		if len(c.ExternalID) < 2 || len(c.ExternalID) > MaxExternalIDLength || !externalIDPattern.MatchString(c.ExternalID) {
			bad("external ID is not valid: use 2-1224 characters from letters, digits and +=,.@:/-_") // AWS's own limits
		}
	default:
		if err := CheckExternalID(c.ExternalID); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Transport {
	case "", TransportS3, TransportAPI:
	default:
		bad("transport %q is not valid: use s3 (ACE's S3 file integration) or api (the Partner Central Selling API)", c.Transport)
	}
	switch {
	case c.Bucket == "" && c.Transport == TransportAPI:
		// The API transport needs no bucket.
	case c.Bucket == "":
		bad("bucket is missing: the S3 transport needs the customer's ACE bucket (or use --transport api)")
	case !bucketPattern.MatchString(c.Bucket) || strings.Contains(c.Bucket, ".."):
		bad("bucket %q is not a valid S3 bucket name", c.Bucket)
	}
	if !regionPattern.MatchString(c.Region) {
		bad("region %q is not a valid AWS region (e.g. us-west-2)", c.Region)
	}
	if c.KMSKeyARN != "" && !kmsARNPattern.MatchString(c.KMSKeyARN) {
		bad("KMS key ARN %q is not valid: expected arn:aws:kms:<region>:<account>:key/<id>", c.KMSKeyARN)
	}
	if u, err := url.Parse(c.CRM); c.CRM == "" || err != nil || u.Scheme == "" {
		bad("CRM %q is not a connector URL (e.g. sqlite:///var/lib/oppsync/crm.db)", crm.Redact(c.CRM))
	} else if !current {
		if u.User != nil {
			if _, has := u.User.Password(); has {
				bad("CRM URL must not embed a password: reference the credential instead")
			}
		}
	} else if err := crm.CheckURL(c.CRM); err != nil {
		// The connector's own check of its URL (credentials referenced, never inline), run
		// here so that a credential never reaches history: the starter validates before it
		// starts the workflow, and the configure update's validator refuses it.
		errs = append(errs, err)
	}
	if c.PollInterval < MinPollInterval {
		bad("poll interval %s is too short: at least %s", c.PollInterval, MinPollInterval)
	}
	if c.AckMode != AckDelete && c.AckMode != AckTag {
		bad("ack mode %q is not valid: use delete or tag", c.AckMode)
	}
	if c.FileConcurrency < 1 || c.FileConcurrency > 64 {
		bad("file concurrency %d is out of range 1-64", c.FileConcurrency)
	}
	if c.BatchHeartbeat < 5*time.Second || c.BatchHeartbeat > 10*time.Minute {
		bad("batch heartbeat %s is out of range 5s-10m", c.BatchHeartbeat)
	}
	if c.ReadConcurrency < 1 || c.ReadConcurrency > 128 {
		bad("read concurrency %d is out of range 1-128 (files of a batch downloaded at once)", c.ReadConcurrency)
	}
	if c.SpmsID != "" && !spmsPattern.MatchString(c.SpmsID) {
		bad("spmsId %q is not valid: ACE's partner id is letters and digits", c.SpmsID)
	}
	if c.RecordsPerFile < 1 || c.RecordsPerFile > 50 {
		bad("records per file %d is out of range 1-50 (ACE's limit; AWS recommends 1)", c.RecordsPerFile)
	}
	if c.ResultTimeout < time.Minute {
		bad("result timeout %s is too short: at least 1m (ACE answers within minutes)", c.ResultTimeout)
	}
	if c.ResultPollInterval < MinPollInterval {
		bad("result poll interval %s is too short: at least %s", c.ResultPollInterval, MinPollInterval)
	}
	for _, f := range []struct {
		name, v, inbound string
		object           ace.Object
	}{
		{"opportunity results folder", c.OpportunityResults, ace.FolderOpportunityInbound, ace.ObjectOpportunity},
		{"lead results folder", c.LeadResults, ace.FolderLeadInbound, ace.ObjectLead},
	} {
		switch {
		case current && !ace.IsResultsFolder(f.object, f.v):
			// The results pass deletes from this folder: only ACE's own results folders
			// (under either name AWS gives them) may be named, never one holding other data.
			bad("%s %q is not one of ACE's %s results folders: use %s", f.name, f.v, f.object,
				strings.Join(ace.ResultsFolders(f.object), " or "))
		case !current && (!strings.HasSuffix(f.v, "/") || strings.HasPrefix(f.v, "/") || strings.Contains(f.v, "..") || f.v == f.inbound ||
			strings.HasSuffix(f.v, "-outbound/")):
			bad("%s %q is not valid: a folder ending in / other than the inbound and outbound folders (default %s)", f.name, f.v,
				ace.ResultsFolders(f.object)[0])
		}
	}
	return errors.Join(errs...)
}

// QuarantinedFile is an outbound file left in place because it cannot be synced as it is.
type QuarantinedFile struct {
	Key    string    `json:"key"`
	ETag   string    `json:"etag"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Counts are records and files handled.
type Counts struct {
	Files       int `json:"files"`
	Records     int `json:"records"`
	Inserted    int `json:"inserted"`
	Updated     int `json:"updated"`
	Unchanged   int `json:"unchanged"`
	Stale       int `json:"stale"`
	Quarantined int `json:"quarantined"`
	// Inbound (CRM → ACE): records sent, refused by pre-flight validation, accepted or
	// rejected by ACE, and left without an answer.
	Sent     int `json:"sent,omitempty"`
	Invalid  int `json:"invalid,omitempty"`
	Accepted int `json:"accepted,omitempty"`
	Rejected int `json:"rejected,omitempty"`
	NoAnswer int `json:"noAnswer,omitempty"`
	// Reread counts outbound files read again after a crash or failure mid-batch (their
	// records re-applied as unchanged); Resumed counts files a retried batch skipped because
	// an earlier attempt had acknowledged them (from its heartbeat).
	Reread  int `json:"reread,omitempty"`
	Resumed int `json:"resumed,omitempty"`
}

// Add returns the sum of c and o.
func (c Counts) Add(o Counts) Counts {
	return Counts{
		Files: c.Files + o.Files, Records: c.Records + o.Records,
		Inserted: c.Inserted + o.Inserted, Updated: c.Updated + o.Updated,
		Unchanged: c.Unchanged + o.Unchanged, Stale: c.Stale + o.Stale,
		Quarantined: c.Quarantined + o.Quarantined,
		Sent:        c.Sent + o.Sent, Invalid: c.Invalid + o.Invalid, Accepted: c.Accepted + o.Accepted,
		Rejected: c.Rejected + o.Rejected, NoAnswer: c.NoAnswer + o.NoAnswer,
		Reread: c.Reread + o.Reread, Resumed: c.Resumed + o.Resumed,
	}
}

// CycleSummary describes one sync cycle.
type CycleSummary struct {
	Number     int       `json:"number"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	Counts     Counts    `json:"counts"`
	// UnmatchedResults counts the objects the cycle's results pass left in the results
	// folders because they answer no file awaiting a result (ResultsOutput.Unknown): they
	// are never deleted, so one still there is counted again by the next cycle. Not a
	// Counts field, since a sum over cycles would count the same objects again and again.
	UnmatchedResults int `json:"unmatchedResults,omitempty"`
	// RecordErrors counts the records whose inbound outcome (pre-flight refusal, ACE's
	// answer) could not be written: gone from the CRM, or an ACE id conflict (then marked
	// rejected with the reason). The cycle moved on past them; FailedRecords names them
	// ("<object>/<partner id>", at most maxFailedRecords), no record text.
	RecordErrors  int      `json:"recordErrors,omitempty"`
	FailedRecords []string `json:"failedRecords,omitempty"`
	// Errors lists what went wrong in the cycle (file keys and reasons), empty when it succeeded.
	Errors []string `json:"errors,omitempty"`
}

// maxFailedRecords bounds CycleSummary.FailedRecords.
const maxFailedRecords = 20

func (s *CycleSummary) AddFailedRecords(n int, ids []string) {
	s.RecordErrors += n
	for _, id := range ids {
		if len(s.FailedRecords) < maxFailedRecords {
			s.FailedRecords = append(s.FailedRecords, id)
		}
	}
}

// OK reports whether the cycle finished without errors.
func (s CycleSummary) OK() bool { return len(s.Errors) == 0 }

// State is the workflow's memory; it is carried across continue-as-new.
type State struct {
	Cycles              int               `json:"cycles"`
	Totals              Counts            `json:"totals"`
	LastCycle           *CycleSummary     `json:"lastCycle,omitempty"`
	LastSuccessAt       time.Time         `json:"lastSuccessAt,omitzero"`
	ConsecutiveFailures int               `json:"consecutiveFailures"`
	Quarantine          []QuarantinedFile `json:"quarantine,omitempty"`
	// Acked holds files acknowledged by tag (key → ETag) after their folder's TagMark: they
	// stay in the bucket, and this keeps an idle cycle to one LIST per folder instead of a
	// tag lookup per file.
	Acked map[string]string `json:"acked,omitempty"`
	// TagMarks hold, per outbound folder in tag mode, the last key up to which every file is
	// handled (tagged, or quarantined): the listing starts after it and Acked forgets the
	// keys up to it, so state stays bounded however many files were ever tagged. ACE names
	// outbound files uniquely by export time, so a new file always sorts after the mark; a
	// key up to it that ACE rewrote in place would not be seen again (ACE does not).
	TagMarks map[string]string `json:"tagMarks,omitempty"`
	// Redriven are quarantined files an operator re-drove that lie up to their folder's
	// TagMark: the next poll lists them explicitly.
	Redriven []string `json:"redriven,omitempty"`
	// SyncRequested is a sync-now that arrived and has not been served yet.
	SyncRequested bool `json:"syncRequested,omitempty"`
	// Paused, with its reason and time, is set by UpdatePause.
	Paused      bool      `json:"paused,omitempty"`
	PauseReason string    `json:"pauseReason,omitempty"`
	PausedAt    time.Time `json:"pausedAt,omitzero"`
	// AccessBroken is set when a cycle or a check found the access chain broken; Diagnosis
	// names the broken link and what to fix.
	AccessBroken bool   `json:"accessBroken,omitempty"`
	Diagnosis    string `json:"diagnosis,omitempty"`
	// BrokenLink is the BrokenLink* keyword of the broken link while AccessBroken.
	BrokenLink string `json:"brokenLink,omitempty"`
	// LastError is the first error of the last failed cycle, cleared by a successful one.
	LastError string `json:"lastError,omitempty"`
	// Watermarks hold, per object, the last CRM change handled by the inbound direction.
	Watermarks map[string]int64 `json:"watermarks,omitempty"`
	// Pending are inbound files awaiting ACE's result, as SendChanges reported them. Since
	// versionDurableInbound it is a hint (for status and the result-poll interval): what
	// awaits an answer is derived from the CRM's sent records too, which survive a crash
	// between the CRM write and the activity's completion; AwaitingInCRM is their count at
	// the last poll.
	Pending       []PendingFile `json:"pending,omitempty"`
	AwaitingInCRM int           `json:"awaitingInCrm,omitempty"`
	// NoAnswer are the latest inbound files ACE never answered (bounded list).
	NoAnswer []PendingFile `json:"noAnswer,omitempty"`
	// API is the Selling API transport's watermark (TransportAPI); kept when a customer
	// switches back to S3, so that switching again resumes where it stopped.
	API APIState `json:"api,omitzero"`
}

// PendingFile is an inbound file sent to ACE, with the records it carried.
type PendingFile struct {
	SentFile
	SentAt time.Time `json:"sentAt"`
}

// Health derives the customer's sync state from the workflow state.
func (s State) Health() Health {
	switch {
	case s.Paused:
		return HealthPaused
	case s.AccessBroken || s.ConsecutiveFailures >= NeedsAttentionAfter:
		return HealthNeedsAttention
	case s.ConsecutiveFailures > 0:
		return HealthBackingOff
	}
	return HealthHealthy
}

// SyncInput starts (or continues) a customer's workflow.
type SyncInput struct {
	Config CustomerConfig `json:"config"`
	State  State          `json:"state"`
	// CyclesPerRun is how many cycles a run may do before it continues as new (0: the
	// default, DefaultCyclesPerRun). Temporal may suggest continuing earlier.
	CyclesPerRun int `json:"cyclesPerRun,omitempty"`
}

// DefaultCyclesPerRun keeps each run's history small: a day of 10-minute cycles is ~150.
const DefaultCyclesPerRun = 500

// Phase says what the workflow is doing.
type Phase string

// Phases.
const (
	PhaseSyncing  Phase = "syncing"
	PhaseWaiting  Phase = "waiting"
	PhasePaused   Phase = "paused"
	PhaseStopping Phase = "offboarding"
)

// Status is the answer to QueryStatus.
type Status struct {
	Customer    string         `json:"customer"`
	Env         Env            `json:"env"`
	Phase       Phase          `json:"phase"`
	Health      Health         `json:"health"`
	NextCycleAt time.Time      `json:"nextCycleAt,omitzero"`
	Config      CustomerConfig `json:"config"` // ExternalID blanked
	State       State          `json:"state"`
}
