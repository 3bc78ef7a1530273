package main

// The demo's second customer, on ACE's other transport: the Partner Central Selling API,
// played by the local stack's contract server (devstack/sellingcontract, not AWS). AWS refers
// an opportunity (an engagement invitation), it arrives masked in the customer's CRM, the
// sales team accepts it there and the accepted opportunity arrives unmasked; an opportunity
// the sales team creates reaches the contract server and its id comes back to the CRM.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/apimapping"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack/sellingcontract"
)

// Facts of the demo's API customer.
const (
	// demoAPICustomer is enrolled with --transport api: no bucket.
	demoAPICustomer = "demo-api"
	// demoAPICRMFile is its CRM, in --dir.
	demoAPICRMFile = "crm-api.db"
	// demoAPIPartnerID is the CRM's id of the opportunity its sales team creates.
	demoAPIPartnerID = "DEMO-API-OPP-1"
	// demoAPIRecordFile holds that opportunity, as `crm create` reads it.
	demoAPIRecordFile = "demo-api-opportunity.json"
	// demoCatalog is the Selling API catalog of a beta customer.
	demoCatalog = "Sandbox"
)

// apiCustomer runs the API customer's part of the demo.
func (d *demoRun) apiCustomer(ctx context.Context) error {
	wfID := customersync.WorkflowID(demoAPICustomer, demoEnv)
	step("A second customer, " + demoAPICustomer + ", on the Partner Central Selling API (--transport api, no bucket),\n" +
		"    played by the stack's contract server at " + d.stack.SellingAPIEndpoint + " (it is not AWS): workflow " + wfID)
	crmURL := "sqlite://" + filepath.Join(d.dir, demoAPICRMFile)
	if _, err := d.runStarter(ctx, time.Minute, "enroll", "--customer", demoAPICustomer, "--env", string(demoEnv),
		"--role-arn", d.apiCust.RoleARN, "--external-id", d.apiCust.ExternalID, "--transport", "api",
		"--crm", crmURL, "--poll-interval", demoPollInterval, "--spms-id", demoAPICustomer); err != nil {
		return err
	}
	account := roleAccount(d.apiCust.RoleARN)
	before := d.stack.SellingAPI.Calls()

	step("An AWS referral over the API: AWS invites the partner (an engagement invitation); until accepted,\n" +
		"    the invitation carries no customer contact")
	fields := demoOpportunity("Contoso Retail", "Demand forecasting on AWS", "Sam", "Rivera", "sam.rivera@contoso.example")
	opp, _, _ := apimapping.ToAPIOutputs(fields)
	delete(opp, "OpportunityTeam") // the partner's team: AWS's referral names none
	inv, err := d.stack.SellingAPI.CreateReferral(sellingcontract.Referral{AccountID: account, Catalog: demoCatalog, Opportunity: opp})
	if err != nil {
		return fmt.Errorf("refer an opportunity to %s in the contract server: %w", demoAPICustomer, err)
	}
	fmt.Printf("  contract server: referral %s to partner account %s, catalog %s\n", inv, account, demoCatalog)
	if _, err := d.runStarter(ctx, 2*time.Minute, "sync-now", "--customer", demoAPICustomer, "--env", string(demoEnv), "--wait"); err != nil {
		return err
	}
	got, err := d.waitForRecordIn(ctx, crmURL, demoAPICustomer, "the API referral "+inv, func(r crm.Record) bool { return r.ACEID == inv })
	if err != nil {
		return err
	}
	fmt.Printf("  in %s's CRM: %s\n", demoAPICustomer, contactOf(got))

	step("The sales team accepts it in the CRM; OppSync accepts the invitation over the API and the next pull\n" +
		"    brings the accepted opportunity, unmasked, onto the same record")
	if _, err := d.runStarter(ctx, time.Minute, "crm", "edit", "--crm", crmURL, "--object", string(ace.ObjectOpportunity),
		"--id", inv, "--set", "partnerAcceptanceStatus=Accepted"); err != nil {
		return err
	}
	if _, err := d.runStarter(ctx, 2*time.Minute, "sync-now", "--customer", demoAPICustomer, "--env", string(demoEnv), "--wait"); err != nil {
		return err
	}
	got, err = d.waitForRecordIn(ctx, crmURL, demoAPICustomer, "the accepted API referral "+inv, func(r crm.Record) bool {
		return r.ACEID == inv && fieldString(r, "customerEmail") == fields["customerEmail"]
	})
	if err != nil {
		return err
	}
	fmt.Printf("  in %s's CRM: %s\n", demoAPICustomer, contactOf(got))
	fmt.Printf("  OK: the AWS referral %s arrived from the Selling API, was accepted from the CRM, and arrived unmasked\n", inv)

	step("CRM → ACE over the API: the sales team creates " + demoAPIPartnerID + "; OppSync creates it with CreateOpportunity\n" +
		"    (its ClientToken derived from the CRM record) and writes the opportunity's id back at once: no result to wait for")
	rec := demoOpportunity("Fabrikam Logistics", "Route optimisation on AWS", "Alex", "Kim", "alex.kim@fabrikam.example")
	body, _ := json.MarshalIndent(rec, "", "  ")
	path := filepath.Join(d.dir, demoAPIRecordFile)
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return err
	}
	if _, err := d.runStarter(ctx, time.Minute, "crm", "create", "--crm", crmURL, "--object", string(ace.ObjectOpportunity),
		"--partner-id", demoAPIPartnerID, "--file", d.rel(path)); err != nil {
		return err
	}
	if _, err := d.runStarter(ctx, 2*time.Minute, "sync-now", "--customer", demoAPICustomer, "--env", string(demoEnv), "--wait"); err != nil {
		return err
	}
	got, err = d.waitForRecordIn(ctx, crmURL, demoAPICustomer, "the opportunity "+demoAPIPartnerID+" with its Selling API id", func(r crm.Record) bool {
		return r.PartnerID == demoAPIPartnerID && strings.HasPrefix(r.ACEID, "O") && r.SyncStatus == crm.SyncAccepted
	})
	if err != nil {
		return err
	}
	if _, err := d.runStarter(ctx, time.Minute, "crm", "export", "--crm", crmURL, "--object", string(ace.ObjectOpportunity)); err != nil {
		return err
	}
	fmt.Printf("  OK: %s reached the Selling API as opportunity %s (sync status %s)\n", demoAPIPartnerID, got.ACEID, got.SyncStatus)
	fmt.Printf("  Selling API calls for %s (the contract server's count): %s\n", demoAPICustomer, callCounts(before, d.stack.SellingAPI.Calls()))
	return nil
}

// roleAccount is the AWS account of a role ARN: the partner account the contract server
// keeps the customer's catalog under.
func roleAccount(roleARN string) string {
	parts := strings.Split(roleARN, ":")
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// callCounts shows the calls made since before, by operation, sorted.
func callCounts(before, after map[string]int) string {
	var ops []string
	for op, n := range after {
		if n > before[op] {
			ops = append(ops, op)
		}
	}
	slices.Sort(ops)
	parts := make([]string, 0, len(ops)+1)
	total := 0
	for _, op := range ops {
		n := after[op] - before[op]
		total += n
		parts = append(parts, fmt.Sprintf("%s %d", op, n))
	}
	return fmt.Sprintf("%d in all: %s", total, strings.Join(parts, ", "))
}
