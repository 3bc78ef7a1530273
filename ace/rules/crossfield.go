package rules

import "strings"

// checkOpportunity applies the opportunity rules that involve several fields.
func (c *recordCheck) checkOpportunity() {
	// Opportunity-Fields.csv, state: "Value to this field will be accepted only when country
	// is United States."
	if c.present("state") && c.present("country") && c.str("country") != countryUS {
		c.add("state", RuleConditional, "state is set but country is %q; state is accepted only when country is %s",
			c.str("country"), countryUS)
	}
	// doesOppBelongToNatSec: "Takes a value "Yes" only when the industry is "Government"" and
	// "partnerPrimaryNeedFromAws cannot take the value "Do not need support from AWS Sales Rep"".
	if natSec(c) {
		if ind := c.str("industry"); ind != industryGovernment {
			c.add("doesOppBelongToNatSec", RuleNatSec, "doesOppBelongToNatSec is Yes but industry is %q; "+
				"it may be Yes only when industry is %s", ind, industryGovernment)
		}
		if c.multiHas("partnerPrimaryNeedFromAws", needNoSupport) {
			c.add("partnerPrimaryNeedFromAws", RuleNatSec, "partnerPrimaryNeedFromAws may not be %q when "+
				"doesOppBelongToNatSec is Yes", needNoSupport)
		}
	}
	// IsOppFromMarketingActivity: "When this field is "No" the fields marketingActivityChannel,
	// marketingActivityUsecase, isMarketingDevelopmentFunded and awsSFCampaignNam must be null".
	if c.str("IsOppFromMarketingActivity") == valueNo {
		for _, k := range []string{"awsSFCampaignName", "marketingActivityChannel", "marketingActivityUsecase",
			"isMarketingDevelopmentFunded"} {
			if c.present(k) {
				c.add(k, RuleMarketingActivity, "%s must be null when IsOppFromMarketingActivity is No", k)
			}
		}
	}
	// partnerPrimaryNeedFromAws: "Cannot select co-sell picklist values along with "Do not need
	// support from AWS Sales Rep". Cannot move from one of the co-sell values to "Do not need
	// support from AWS Sales Rep"."
	if c.multiHas("partnerPrimaryNeedFromAws", needNoSupport) {
		if c.multiHasPrefix(c.str("partnerPrimaryNeedFromAws"), coSellPrefix) {
			c.add("partnerPrimaryNeedFromAws", RuleCoSell, "partnerPrimaryNeedFromAws combines co-sell values with %q; "+
				"choose one or the other", needNoSupport)
		} else if c.multiHasPrefix(c.prevStr("partnerPrimaryNeedFromAws"), coSellPrefix) {
			c.add("partnerPrimaryNeedFromAws", RuleCoSell, "partnerPrimaryNeedFromAws cannot move from co-sell values "+
				"to %q; an opportunity stays co-sell once switched", needNoSupport)
		}
	}
	// solutionOffered: "Once the opportunity reaches the "Committed" stage this field cannot be
	// "Other" and needs to be a valid solution."
	if st := c.str("stage"); (st == stageCommitted || st == stageLaunched) && c.arrayHas("solutionOffered", solutionOther) {
		c.add("solutionOffered", RuleSolutionID, `solutionOffered may not be "Other" at stage %s; give a solution id `+
			`such as S-0001234`, st)
	}
}

func (c *recordCheck) multiHas(key, v string) bool {
	for _, p := range strings.Split(c.str(key), ";") {
		if strings.EqualFold(strings.TrimSpace(p), v) {
			return true
		}
	}
	return false
}

func (c *recordCheck) multiHasPrefix(v, prefix string) bool {
	for _, p := range strings.Split(v, ";") {
		if strings.HasPrefix(strings.TrimSpace(p), prefix) {
			return true
		}
	}
	return false
}
