package ace

import (
	"encoding/json"
	"time"
)

// Object is the kind of record a file carries.
type Object string

// The two objects ACE exchanges over S3.
const (
	ObjectOpportunity Object = "opportunity"
	ObjectLead        Object = "lead"
)

// Valid reports whether o is one of the known objects.
func (o Object) Valid() bool { return o == ObjectOpportunity || o == ObjectLead }

// Record is one opportunity or lead as ACE sent it: the identity and ordering fields every
// consumer needs, the typed fields we map, and the record's raw JSON, kept byte for byte so
// that no field ACE adds later is ever lost.
type Record struct {
	Object Object
	// ACEID is apnCrmUniqueIdentifier: ACE's id ("O…" opportunities, "L…" leads). It never changes.
	ACEID string
	// PartnerID is the partner's CRM id: partnerCrmUniqueIdentifier on opportunities,
	// partnerCrmLeadId on leads. Blank on an outbound record means a new AWS referral.
	PartnerID string
	// LastModified is lastModifiedDate (GMT); zero when the record has none.
	LastModified time.Time
	// Exactly one of Opportunity and Lead is set, matching Object.
	Opportunity *Opportunity
	Lead        *Lead
	// Raw is the record's JSON object exactly as it appeared in the file.
	Raw json.RawMessage
	// File is the key of the outbound file the record came from, set when records of
	// several files are merged (Merge), so a CRM's change log still names each record's file.
	File string
}

// Opportunity holds the opportunity fields OppSync maps to CRM columns. Every other field
// stays in Record.Raw. Empty strings mean absent or null.
type Opportunity struct {
	CustomerCompanyName       string
	CustomerWebsite           string
	PartnerProjectTitle       string
	Stage                     string // partner's stage
	AWSStage                  string // aWSStage (ACE's key spelling)
	Status                    string // Approved, Pending Submission, Rejected, …
	OpportunityOwnership      string // "AWS Referral" or "Partner Referral"
	PartnerAcceptanceStatus   string
	Industry                  string
	Country                   string
	TargetCloseDate           string // yyyy-mm-dd as sent
	ExpectedMonthlyAWSRevenue *float64
	AcceptBy                  time.Time // zero when absent
	CreatedDate               time.Time // zero when absent
	// IsOppFromMarketingActivity is "Yes" or "No"; ACE spells the key with a capital I.
	IsOppFromMarketingActivity string
}

// Lead holds the lead fields OppSync maps to CRM columns. Every other field stays in
// Record.Raw. Empty strings mean absent or null.
type Lead struct {
	Company     string
	FullName    string
	FirstName   string
	LastName    string
	Email       string
	Status      string
	LeadSource  string
	Industry    string
	Country     string
	CreatedDate time.Time // zero when absent
}

// MaskedValue is what ACE writes in place of a referral's personal data until the partner
// accepts it. AWS's lead sample writes "Accept To View"; the opportunity field table writes
// "Accept to View", so compare without regard to case (FACTS.md).
const MaskedValue = "Accept To View"
