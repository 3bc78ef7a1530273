package rules

// The conditions of Opportunity-Fields.csv are prose ("When Industry = Other"), so they are
// implemented here, one entry per field, each quoting the table text it implements. The test
// TestConditionsCoverTable fails when a new table has a conditionally mandatory field, or a
// mandatory field with an exception, that has no entry here.

// requirement decides whether a field is required in one record.
type requirement struct {
	// csv is the table's text this entry implements.
	csv string
	// required reports whether the field must be present. For a Mandatory field it carries
	// the exception; for a Conditionally Mandatory field, the condition.
	required func(c *recordCheck) bool
}

// Standard values the conditions refer to (Opportunity_-_StandardValues.csv).
const (
	countryUS           = "United States"
	industryGovernment  = "Government"
	industryOther       = "Other"
	stageProspect       = "Prospect"
	stageCommitted      = "Committed"
	stageLaunched       = "Launched"
	stageClosedLost     = "Closed Lost"
	valueYes            = "Yes"
	valueNo             = "No"
	solutionOther       = "Other"
	opportunityFlatRenw = "Flat Renewal"
	awsReferral         = "AWS Referral"
	acceptanceAccepted  = "Accepted"
	acceptanceRejected  = "Rejected"
	statusActionReq     = "Action Required"
	// needNoSupport is the partnerPrimaryNeedFromAws value the NatSec and co-sell rules
	// forbid; the table's prose spells it "Do not need support from AWS Sales Rep".
	needNoSupport = "Do Not Need Support from AWS Sales Rep"
	// coSellPrefix starts every co-sell value of partnerPrimaryNeedFromAws.
	coSellPrefix = "Co-Sell"
)

// natSec reports whether the record is a national-security opportunity.
func natSec(c *recordCheck) bool { return c.str("doesOppBelongToNatSec") == valueYes }

func notNatSec(c *recordCheck) bool { return !natSec(c) }

// stageIsClosed reports whether stage is Launched or Closed Lost, after which the
// "Updates up until Launched/Lost" column no longer applies.
func stageIsClosed(stage string) bool { return stage == stageLaunched || stage == stageClosedLost }

// opportunityRequirements are the exceptions and conditions of Opportunity-Fields.csv,
// column "Conditions when Mandatory (Biz Validation)", keyed by field.
var opportunityRequirements = map[string]requirement{
	"customerWebsite": {
		csv:      "Mandatory. Exception: Not mandatory if NatSec = True",
		required: notNatSec,
	},
	"customerCompanyName": {
		csv:      "Mandatory. Exception: Not mandatory if NatSec = True",
		required: notNatSec,
	},
	"postalCode": {
		csv: "Mandatory. Exception: Not mandatory for countries without a postal code. " +
			"Includes: Bonaire,Sint Eustatius and Saba",
		required: func(c *recordCheck) bool {
			country := c.str("country")
			return country == "" || c.rules.HasPostalCode(country)
		},
	},
	"stage": {
		csv:      "Mandatory. Exception: Not required while creating a new Opportunity",
		required: func(c *recordCheck) bool { return !c.create },
	},
	"doesOppBelongToNatSec": {
		// Cannot be checked: whether an opportunity holds classified information is the
		// partner's call. ACE defaults the field to "No" (Additional Details).
		csv:      "Mandatory when opportunity contains classified information and is related to National Security",
		required: func(*recordCheck) bool { return false },
	},
	"industryOther": {
		csv:      "When Industry = Other",
		required: func(c *recordCheck) bool { return c.str("industry") == industryOther },
	},
	"state": {
		csv: "When country = United States. Not required if NatSec = True",
		required: func(c *recordCheck) bool {
			return c.str("country") == countryUS && !natSec(c)
		},
	},
	"isMarketingDevelopmentFunded": {
		csv:      "When IsOppFromMarketingActivity = Yes.",
		required: func(c *recordCheck) bool { return c.str("IsOppFromMarketingActivity") == valueYes },
	},
	"otherSolutionOffered": {
		csv:      `When solutionOffered = "Other"`,
		required: func(c *recordCheck) bool { return c.arrayHas("solutionOffered", solutionOther) },
	},
	"parentOppId": {
		// The second sentence cannot be checked from the record: it reads as "updates of a
		// renewal", already covered by the first.
		csv: `When Opportunity Type is set to "Flat Renewal". Mandatory when partner needs to send updates ` +
			`to existing opportunities.`,
		required: func(c *recordCheck) bool { return c.str("opportunityType") == opportunityFlatRenw },
	},
	"awsAccountId": {
		// Whether the partner is a consulting partner comes from Options.
		csv: `For Consulting Partners, When Stage ="Launched"`,
		required: func(c *recordCheck) bool {
			return c.opts.ConsultingPartner && c.str("stage") == stageLaunched
		},
	},
	"competitiveTrackingOther": {
		// The standard value is spelled "*Other" in Opportunity_-_StandardValues.csv.
		csv: "When competitiveTracking = Other",
		required: func(c *recordCheck) bool {
			v := c.str("competitiveTracking")
			return v == "*Other" || v == "Other"
		},
	},
	"partnerCrmUniqueIdentifier": {
		// OppSync requires it on creation too: ACE's result file names records only by it,
		// so without it a result cannot be written back to the CRM record (ace/FACTS.md, Identity).
		csv:      "For all updates",
		required: func(*recordCheck) bool { return true },
	},
	"apnCrmUniqueIdentifier": {
		// An update is recognised by the previous record carrying ACE's id: inbound without
		// it creates a duplicate in ACE (ace/FACTS.md, Identity).
		csv:      "For all updates",
		required: func(c *recordCheck) bool { return c.prevStr("apnCrmUniqueIdentifier") != "" },
	},
	"contractEndDate":               specialProgramLaunched,
	"customerSoftwareValueCurrency": specialProgramLaunched,
	"customerSoftwareValue":         specialProgramLaunched,
	"contractStartDate":             specialProgramLaunched,
	"procurementType":               specialProgramLaunched,
	"partnerAcceptanceStatus": {
		// An AWS referral is recognised by the previous record (from ACE) saying so.
		csv: "For AWS Originated opportunities",
		required: func(c *recordCheck) bool {
			return c.prevStr("opportunityOwnership") == awsReferral
		},
	},
	"rejectionReason": {
		csv: `When AWS originated opportunity is rejected (before Accept By Date) When partnerAcceptanceStatus = "Rejected"`,
		required: func(c *recordCheck) bool {
			return c.str("partnerAcceptanceStatus") == acceptanceRejected
		},
	},
	"closedLostReason": {
		csv:      "When an opportunity stage changes to Closed Lost",
		required: func(c *recordCheck) bool { return c.str("stage") == stageClosedLost },
	},
}

// specialProgramLaunched is the condition of the software-revenue fields; whether the
// partner takes part in such a program comes from Options.
var specialProgramLaunched = requirement{
	csv: "For special programs when stage = Launched",
	required: func(c *recordCheck) bool {
		return c.opts.SpecialProgram && c.str("stage") == stageLaunched
	},
}

// allowance permits a value or change the update columns would forbid.
type allowance struct {
	// csv is the table's text that justifies it.
	csv     string
	allowed func(c *recordCheck) bool
}

// updateExceptions allow values and changes that Opportunity-Fields.csv's "Create" and update
// columns would forbid but that the field exists for, keyed by field.
var updateExceptions = map[string]allowance{
	"stage": {
		// Create says No, yet AWS's own create sample sends "Prospect": the stage every new
		// opportunity starts in ("Always takes value "Prospect" for AWS referrals"). Only that
		// value is allowed on creation.
		csv:     `Exception: Not required while creating a new Opportunity`,
		allowed: func(c *recordCheck) bool { return c.create && c.str("stage") == stageProspect },
	},
	"partnerAcceptanceStatus": {
		// All update columns say No, yet the partner accepts or rejects an AWS referral by
		// setting it ("Conditionally Mandatory: For AWS Originated opportunities"). Allowed
		// once: while the previous value is not yet Accepted or Rejected.
		csv: "For AWS Originated opportunities",
		allowed: func(c *recordCheck) bool {
			p := c.prevStr("partnerAcceptanceStatus")
			return p != acceptanceAccepted && p != acceptanceRejected
		},
	},
	"rejectionReason": {
		// Goes with the rejection above: "When partnerAcceptanceStatus = "Rejected"".
		csv: `When partnerAcceptanceStatus = "Rejected"`,
		allowed: func(c *recordCheck) bool {
			return c.str("partnerAcceptanceStatus") == acceptanceRejected &&
				c.prevStr("partnerAcceptanceStatus") != acceptanceRejected
		},
	},
}

// leadRequirements are the exceptions and conditions of the lead tables. Leads-Fields.csv has
// no prose conditions; the table is here so that one can be added the same way.
var leadRequirements = map[string]requirement{}
