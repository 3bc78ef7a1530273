package customersync

// The inputs and results of the activities (package activities). They carry keys, ETags,
// counts and ids only: never a file body, a record or a credential, because Temporal stores
// them in history and shows them in the Web UI.

// Target names one customer's ACE bucket and how to reach it.
type Target struct {
	Customer string `json:"customer"`
	Env      string `json:"env"`
	RoleARN  string `json:"roleArn"`
	// ExternalID is passed to AssumeRole; it is never logged.
	ExternalID string `json:"externalId"`
	Bucket     string `json:"bucket"`
	Region     string `json:"region"`
}

// AckMode is what happens to an outbound file once its records are in the CRM.
type AckMode string

// Acknowledgement modes.
const (
	// AckDelete deletes the file; ACE keeps a copy in its *-outbound-archive/ folder.
	AckDelete AckMode = "delete"
	// AckTag tags the file partner_processed=true and leaves it in place.
	AckTag AckMode = "tag"
)

// ObjectRef identifies one S3 object by key and ETag (a rewritten file has a new ETag).
type ObjectRef struct {
	Key  string `json:"key"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

// CheckInput asks Check to walk a customer's access chain.
type CheckInput struct {
	Target Target `json:"target"`
	// Transport is the customer's; TransportAPI checks the Selling API instead of the
	// bucket and key.
	Transport Transport `json:"transport,omitempty"`
	KMSKeyARN string    `json:"kmsKeyArn,omitempty"`
	CRM       string    `json:"crm"`
	Folders   []string  `json:"folders"`
}

// CheckStep is one link of the access chain.
type CheckStep struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// CheckReport is the result of walking the access chain: the steps taken, in order, up to
// and including the first broken one.
type CheckReport struct {
	Steps []CheckStep `json:"steps"`
	// Broken names the first broken link ("" when all are fine) and Diagnosis says what is
	// wrong and what to fix.
	Broken    string `json:"broken,omitempty"`
	Diagnosis string `json:"diagnosis,omitempty"`
	// Link is the broken link as a keyword operators search by (one of the BrokenLink* values):
	// the permission refused or how the CRM failed. Reports recorded before it existed
	// have none; LinkOf derives it from Broken then.
	Link string `json:"link,omitempty"`
}

// Keywords of broken links: CheckReport.Link and the values of the BrokenLink search
// attribute. Each is the AWS permission refused, or how the CRM failed.
const (
	BrokenLinkAssumeRole     = "sts:AssumeRole"
	BrokenLinkListBucket     = "s3:ListBucket"
	BrokenLinkGetObject      = "s3:GetObject"
	BrokenLinkPutObject      = "s3:PutObject"
	BrokenLinkDescribeKey    = "kms:DescribeKey"
	BrokenLinkDecrypt        = "kms:Decrypt"
	BrokenLinkCRMAuth        = "crm-auth"
	BrokenLinkCRMUnreachable = "crm-unreachable"
	BrokenLinkCRMConfig      = "crm-config"
	// BrokenLinkOther: a call failed on access in a way the check's links do not cover;
	// the status's diagnosis names it.
	BrokenLinkOther = "other"
)

// LinkOf is the keyword of the report's broken link ("" when none is broken): Link when the
// activity set it, else the one its step name implies.
func (r CheckReport) LinkOf() string {
	switch {
	case r.Broken == "":
		return ""
	case r.Link != "":
		return r.Link
	}
	return map[string]string{
		StepAssumeRole: BrokenLinkAssumeRole, StepListBucket: BrokenLinkListBucket, StepGetObject: BrokenLinkGetObject,
		StepDescribeKey: BrokenLinkDescribeKey, StepCRM: BrokenLinkCRMUnreachable,
		StepListOpportunities: BrokenLinkListOpportunities,
	}[r.Broken]
}

// OK reports whether every link works.
func (r CheckReport) OK() bool { return r.Broken == "" }

// Names of the access-chain links, in the order Check walks them.
const (
	StepAssumeRole  = "sts:AssumeRole"
	StepListBucket  = "s3:ListBucket"
	StepGetObject   = "s3:GetObject (outbound)"
	StepDescribeKey = "kms:DescribeKey"
	StepCRM         = "CRM"
)

// ListInput asks for the objects under some prefixes of a customer's bucket.
type ListInput struct {
	Target  Target   `json:"target"`
	Folders []string `json:"folders"`
	// MaxObjects caps the result so that a backlog is taken in slices and history stays small.
	MaxObjects int `json:"maxObjects"`
	// Skip holds keys already handled and still in the bucket (key → ETag); they are left out
	// of the result unless their ETag changed.
	Skip map[string]string `json:"skip,omitempty"`
	// StartAfter, per folder, lists only the keys after it (ListObjectsV2 StartAfter): in
	// tag mode the keys up to it were all handled, so neither the listing nor the workflow
	// state grows with every file ever tagged.
	StartAfter map[string]string `json:"startAfter,omitempty"`
	// Include names files at or before their folder's StartAfter to list all the same (a
	// re-drive of a quarantined file): each costs one HEAD request.
	Include []string `json:"include,omitempty"`
}

// ListResult lists outbound objects, oldest first within each folder's key order.
type ListResult struct {
	Objects []ObjectRef `json:"objects,omitempty"`
	// Truncated is true when more objects remain than MaxObjects allowed.
	Truncated bool `json:"truncated,omitempty"`
	// Missing lists the Skip keys that are no longer in the bucket (only when not Truncated),
	// so the caller can forget them.
	Missing []string `json:"missing,omitempty"`
	// Last is, per folder, the last key the listing went through (listed or skipped), so
	// the caller can move its StartAfter up once every file up to it is handled.
	Last map[string]string `json:"last,omitempty"`
}

// SyncFileInput asks to sync one outbound file into the customer's CRM.
type SyncFileInput struct {
	Target Target    `json:"target"`
	CRM    string    `json:"crm"`
	Object ObjectRef `json:"object"`
	Ack    AckMode   `json:"ack"`
}

// SyncFileResult counts what syncing one file did.
type SyncFileResult struct {
	Key    string `json:"key"`
	ETag   string `json:"etag"`
	Object string `json:"object,omitempty"` // opportunity or lead
	// Gone is true when the file was no longer in the bucket (already synced and deleted by an
	// earlier attempt, or removed by ACE): nothing to do.
	Gone      bool `json:"gone,omitempty"`
	Records   int  `json:"records"`
	Inserted  int  `json:"inserted"`
	Updated   int  `json:"updated"`
	Unchanged int  `json:"unchanged"`
	Stale     int  `json:"stale"`
	// Rejected counts records that could not be read; when non-zero the file is quarantined.
	Rejected int  `json:"rejected,omitempty"`
	Acked    bool `json:"acked"`
}

// Error types of the application errors activities return; the workflow branches on them.
const (
	// ErrBadFile: the file cannot be synced as it is (malformed, oversize, wrong name, bad
	// records). Not retryable: the workflow quarantines the file and carries on.
	ErrBadFile = "BadFile"
	// ErrAccessDenied: the customer's role, its trust policy, External ID or permissions are
	// wrong. Not retryable until someone fixes the customer's setup.
	ErrAccessDenied = "AccessDenied"
	// ErrBucketMissing: the configured bucket does not exist.
	ErrBucketMissing = "BucketMissing"
	// ErrCRMConfig: the CRM URL cannot be opened (unknown scheme, bad path).
	ErrCRMConfig = "CRMConfig"
)

// NonRetryableErrors lists the error types a retry policy must not retry.
var NonRetryableErrors = []string{ErrBadFile, ErrAccessDenied, ErrBucketMissing, ErrCRMConfig}
