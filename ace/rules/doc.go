// Package rules is ACE's inbound validation: the rule model built from the field tables AWS
// publishes for the S3 integration (embedded from fields/, with their MIT licence and
// source in fields/README.md), and the checks OppSync runs on a record or an inbound file
// before it goes to ACE (ValidateOpportunity, ValidateLead, ValidateInboundFile).
//
// The checks are split by kind of rule: presence.go (mandatory and conditionally mandatory
// fields, whose prose conditions are in conditions.go), values.go (types, picklists,
// multi-selects, arrays, formats, lengths), numbers.go (ranges and currency precision),
// postal.go (postal code formats by country), crossfield.go (rules tying several fields
// together: NatSec, marketing, co-sell), changes.go (what may be set on creation or change
// in a stage) and answers.go (a partner's answer to an AWS referral or lead).
//
// It depends on package ace (records, files, facts) and the standard library only; ace
// never imports it.
package rules
