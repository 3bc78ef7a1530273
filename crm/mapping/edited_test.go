package mapping

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/oppsync/oppsync/ace"
)

// Edited names the fields whose CRM value means something else to ACE than ACE's version,
// and not those the CRM merely spells its own way.
func TestEdited(t *testing.T) {
	m := Default("salesforce")
	aceVersion := map[string]json.RawMessage{
		"stage": json.RawMessage(`"Qualified"`), "expectedMonthlyAwsRevenue": json.RawMessage(`1000`),
		"targetCloseDate": json.RawMessage(`"2026-09-24"`), "deliveryModel": json.RawMessage(`"SaaS or PaaS;BYOL or AMI"`),
		"solutionOffered": json.RawMessage(`["S-1","S-2"]`), "nextStep": json.RawMessage(`"Call"`),
		"aWSStage": json.RawMessage(`"Prospect"`), // outbound only: never an edit
	}
	same := map[string]any{
		"StageName":                           "Value Proposition", // a CRM stage standing for Qualified
		"ACE_Expected_Monthly_AWS_Revenue__c": 1000.0, "CloseDate": "2026-09-24T00:00:00.000+0000",
		"ACE_Delivery_Model__c": "BYOL or AMI;SaaS or PaaS", "ACE_Solution_Offered__c": "S-2;S-1", "NextStep": "Call",
		"ACE_AWS_Stage__c": "Committed", "Description": "", // absent in ACE's version, empty in the CRM
	}
	if got, err := m.Edited(ace.ObjectOpportunity, same, aceVersion); err != nil || len(got) != 0 {
		t.Errorf("Edited = %v, %v; want none", got, err)
	}
	edited := map[string]any{
		"StageName": "Closed Won", "ACE_Expected_Monthly_AWS_Revenue__c": 1500.0, "CloseDate": "2026-10-01",
		"ACE_Delivery_Model__c": "SaaS or PaaS", "ACE_Solution_Offered__c": "S-1", "NextStep": nil, "Description": "New",
	}
	got, err := m.Edited(ace.ObjectOpportunity, edited, aceVersion)
	want := []string{"StageName", "CloseDate", "Description", "NextStep", "ACE_Delivery_Model__c", "ACE_Expected_Monthly_AWS_Revenue__c", "ACE_Solution_Offered__c"}
	slices.Sort(got)
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Edited = %v, %v; want %v", got, err, want)
	}
}
