package mapping

import (
	"embed"
	"fmt"
	"strings"
)

// defaults are the mappings shipped for each CRM, named <crm>.yaml.
//
//go:embed defaults/*.yaml
var defaults embed.FS

// CRMs lists the CRMs Default has a mapping for.
var CRMs = []string{"hubspot", "salesforce"}

// Default returns a fresh copy of the mapping shipped for crm ("salesforce" or "hubspot",
// case-insensitive), or nil for a CRM without one. The defaults cover ACE's mandatory
// fields and name the custom fields as a CRM admin expects (ACE_Opportunity_Id__c,
// ace_opportunity_id, …); the package tests keep them valid.
func Default(crm string) *Mapping {
	b, err := defaults.ReadFile("defaults/" + strings.ToLower(crm) + ".yaml")
	if err != nil {
		return nil
	}
	m, err := Parse(b)
	if err != nil {
		panic(fmt.Sprintf("mapping: embedded default for %s does not parse: %v", crm, err))
	}
	return m
}

// DefaultYAML returns the shipped mapping document for crm with its comments, or nil.
func DefaultYAML(crm string) []byte {
	b, err := defaults.ReadFile("defaults/" + strings.ToLower(crm) + ".yaml")
	if err != nil {
		return nil
	}
	return b
}
