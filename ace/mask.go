package ace

import "strings"

// MaskedValue is what ACE sends in place of an AWS referral's personal data (the customer's
// contact on an opportunity; name, contact and address on a lead) until the partner accepts
// the referral (partnerAcceptanceStatus, or currentLeadStage for a lead); the full data
// comes in a later outbound file (FACTS.md, Files). AWS's lead outbound sample writes
// "Accept To View"; Opportunity-Fields.csv writes "Accept to View", hence IsMasked.
const MaskedValue = "Accept To View"

// IsMasked reports whether s is ACE's mask (MaskedValue, in any case): a value that carries
// no data and must never replace a real value.
func IsMasked(s string) bool { return strings.EqualFold(s, MaskedValue) }
