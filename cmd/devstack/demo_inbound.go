package main

// The demo's CRM → ACE direction: the sales team creates an opportunity in the CRM and it
// goes to ACE and back with its ACE id; an AWS referral arrives masked, the sales team
// accepts it, and its personal data arrives. ACE is played by acesim, in this process.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/acesim"
	"github.com/oppsync/oppsync/crm"
)

// Facts of the demo's inbound direction.
const (
	// demoSpmsID is the demo partner's ACE id: the customer name, as in its bucket's name.
	demoSpmsID = demoCustomer
	// demoResultPoll is the cycle interval while inbound files await ACE's result.
	demoResultPoll = "5s"
	// demoSimInterval is how often the ACE simulator looks at the inbound folders.
	demoSimInterval = time.Second
	// demoPartnerID is the CRM's id of the opportunity the sales team creates.
	demoPartnerID = "DEMO-OPP-1"
	// demoRecordFile is the file in --dir holding that opportunity, as `crm create` reads it.
	demoRecordFile = "demo-opportunity.json"
	// demoWait bounds each wait for a record to reach the CRM.
	demoWait = 2 * time.Minute
)

// startACESimulator runs acesim on the customer's bucket until ctx ends.
func (d *demoRun) startACESimulator(ctx context.Context) {
	step("Starting the ACE simulator (acesim: a simulator of ACE's side of the bucket, not ACE)")
	d.sim = acesim.New(d.stack.RootS3(ctx), d.cust.Bucket, acesim.Options{
		Interval:       demoSimInterval,
		SpmsID:         demoSpmsID,
		UnmaskOnAccept: true,
		Logf:           func(format string, args ...any) { fmt.Printf("  "+format+"\n", args...) },
	})
	d.stopSim = d.sim.Start(ctx)
	fmt.Printf("  answers s3://%s/{opportunity,lead}-inbound/ every %s with result files, as ACE would\n", d.cust.Bucket, demoSimInterval)
}

// demoOpportunity is an opportunity that passes ACE's rules (after
// ace/rules/testdata/validate/opportunity-valid.json), closing in three months.
func demoOpportunity(company, title, first, last, email string) map[string]any {
	return map[string]any{
		"customerCompanyName":        company,
		"customerWebsite":            "https://www.example.com",
		"customerDuns":               "123456789",
		"industry":                   "Software & Internet",
		"country":                    "United States",
		"state":                      "Washington",
		"city":                       "Seattle",
		"postalCode":                 "98101-1234",
		"streetAddress":              "1 Example Way",
		"partnerProjectTitle":        title,
		"projectDescription":         "The customer runs an on-premises data warehouse that cannot scale; we migrate it to Amazon Redshift.",
		"targetCloseDate":            time.Now().AddDate(0, 3, 0).Format(time.DateOnly),
		"expectedMonthlyAwsRevenue":  5000,
		"deliveryModel":              "SaaS or PaaS;Professional Services",
		"IsOppFromMarketingActivity": "No",
		"partnerPrimaryNeedFromAws":  "Co-Sell - Architectural Validation;Co-Sell - Technical Consultation",
		"salesActivities":            "Initialized discussions with customer;Conducted POC / Demo",
		"solutionOffered":            []string{"S-0001234"},
		"useCase":                    "Migration / Database Migration",
		"opportunityType":            "Net New Business",
		"doesOppBelongToNatSec":      "No",
		"awsProducts":                []string{"AmazonRedshift", "Lambda"},
		"awsAccountId":               "123456789012",
		"customerFirstName":          first,
		"customerLastName":           last,
		"customerEmail":              email,
		"primaryContactEmail":        "sales@partner.example",
		"nextStep":                   "Architecture review with the customer",
	}
}

// inboundRoundTrip creates an opportunity in the CRM and waits until ACE's answer is back.
func (d *demoRun) inboundRoundTrip(ctx context.Context) error {
	step("CRM → ACE: the sales team creates an opportunity in the CRM (" + demoPartnerID + ", no ACE id yet)")
	rec := demoOpportunity("Example Corp", "Data warehouse migration", "Jane", "Doe", "jane.doe@example.com")
	body, _ := json.MarshalIndent(rec, "", "  ")
	path := filepath.Join(d.dir, demoRecordFile)
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return err
	}
	if _, err := d.runStarter(ctx, time.Minute, "crm", "create", "--crm", d.crmURL, "--object", string(ace.ObjectOpportunity),
		"--partner-id", demoPartnerID, "--file", d.rel(path)); err != nil {
		return err
	}

	step("Syncing: OppSync validates the change against ACE's rules and uploads it to opportunity-inbound/;\n" +
		"    the simulator answers with a result file; the next cycles write ACE's id and status back")
	if _, err := d.runStarter(ctx, 2*time.Minute, "sync-now", "--customer", demoCustomer, "--env", string(demoEnv), "--wait"); err != nil {
		return err
	}
	got, err := d.waitForRecord(ctx, "the opportunity "+demoPartnerID+" with an ACE id and status accepted", func(r crm.Record) bool {
		return r.PartnerID == demoPartnerID && strings.HasPrefix(r.ACEID, "O") && r.SyncStatus == crm.SyncAccepted
	})
	if err != nil {
		return err
	}
	if _, err := d.runStarter(ctx, time.Minute, "crm", "export", "--crm", d.crmURL, "--object", string(ace.ObjectOpportunity)); err != nil {
		return err
	}
	fmt.Printf("  OK: %s went CRM → ACE → result → CRM: ACE id %s, sync status %s (file %s)\n",
		demoPartnerID, got.ACEID, got.SyncStatus, got.SyncFile)
	return nil
}

// referralRoundTrip has ACE share a masked referral, accepts it in the CRM, and waits for
// the unmasked record.
func (d *demoRun) referralRoundTrip(ctx context.Context) error {
	step("An AWS referral: ACE shares a new opportunity, its customer contact masked until the partner accepts")
	fields := demoOpportunity("Northwind Health", "Claims analytics on AWS", "Pat", "Lee", "pat.lee@northwind.example")
	aceID, key, err := d.sim.EmitReferral(ctx, ace.ObjectOpportunity, fields)
	if err != nil {
		return err
	}
	fmt.Printf("  acesim: referral %s in s3://%s/%s\n", aceID, d.cust.Bucket, key)
	if _, err := d.runStarter(ctx, 2*time.Minute, "sync-now", "--customer", demoCustomer, "--env", string(demoEnv), "--wait"); err != nil {
		return err
	}
	got, err := d.waitForRecord(ctx, "the referral "+aceID, func(r crm.Record) bool { return r.ACEID == aceID })
	if err != nil {
		return err
	}
	fmt.Printf("  in the CRM: %s\n", contactOf(got))

	step("The sales team accepts the referral in the CRM; OppSync sends the acceptance to ACE")
	if _, err := d.runStarter(ctx, time.Minute, "crm", "edit", "--crm", d.crmURL, "--object", string(ace.ObjectOpportunity),
		"--id", aceID, "--set", "partnerAcceptanceStatus=Accepted"); err != nil {
		return err
	}
	if _, err := d.runStarter(ctx, 2*time.Minute, "sync-now", "--customer", demoCustomer, "--env", string(demoEnv), "--wait"); err != nil {
		return err
	}
	got, err = d.waitForRecord(ctx, "the unmasked referral "+aceID, func(r crm.Record) bool {
		unmasked := fieldString(r, "customerEmail") == fields["customerEmail"] && r.SyncStatus == crm.SyncAccepted
		refused := r.SyncStatus == crm.SyncInvalid || r.SyncStatus == crm.SyncRejected
		return r.ACEID == aceID && (unmasked || refused)
	})
	if err != nil {
		return err
	}
	fmt.Printf("  in the CRM: %s\n", contactOf(got))
	if got.SyncStatus != crm.SyncAccepted {
		// Shown, not hidden: the sales team sees the same status and problems in the CRM.
		problems := got.SyncErrors
		if len(problems) > 3 {
			problems = append(problems[:3:3], fmt.Sprintf("... %d more", len(got.SyncErrors)-3))
		}
		fmt.Printf("  NOT SENT: the acceptance is %s:\n    %s\n", got.SyncStatus, strings.Join(problems, "\n    "))
		fmt.Println("  (an acceptance carries only the ids and partnerAcceptanceStatus, but pre-flight validation")
		fmt.Println("   checks it as a whole record: a known gap; the referral stays masked until it is fixed)")
		return nil
	}
	fmt.Printf("  OK: ACE processed the acceptance and sent the unmasked referral %s (from %s)\n", aceID, got.SourceKey)
	return nil
}

// waitForRecord polls the CRM's opportunities until one satisfies ok, asking for a sync
// every 10 s meanwhile (cycles run every demoResultPoll only while results are awaited).
func (d *demoRun) waitForRecord(ctx context.Context, what string, ok func(crm.Record) bool) (crm.Record, error) {
	return d.waitForRecordIn(ctx, d.crmURL, demoCustomer, what, ok)
}

// waitForRecordIn is waitForRecord for the customer whose CRM is crmURL.
func (d *demoRun) waitForRecordIn(ctx context.Context, crmURL, customer, what string, ok func(crm.Record) bool) (crm.Record, error) {
	deadline := time.Now().Add(demoWait)
	lastSync := time.Now()
	var recs []crm.Record
	for {
		out, err := d.starterCmd(ctx, time.Minute, true, "crm", "export", "--crm", crmURL, "--object", string(ace.ObjectOpportunity), "--json")
		if err != nil {
			return crm.Record{}, err
		}
		recs = recs[:0]
		if err := json.Unmarshal([]byte(out), &recs); err != nil {
			return crm.Record{}, fmt.Errorf("read `starter crm export --json`: %w", err)
		}
		for _, r := range recs {
			if ok(r) {
				return r, nil
			}
		}
		if time.Now().After(deadline) {
			var seen []string
			for _, r := range recs {
				seen = append(seen, fmt.Sprintf("%s/%s %s %v", r.ACEID, r.PartnerID, r.SyncStatus, r.SyncErrors))
			}
			workerLog := filepath.Join(d.stack.LogDir(), "worker.log")
			return crm.Record{}, fmt.Errorf("%s did not reach the CRM within %s; the CRM holds: %s; see `starter status` and the worker's log %s%s",
				what, demoWait, strings.Join(seen, "; "), workerLog, tail(workerLog, 20))
		}
		if time.Since(lastSync) > 10*time.Second {
			lastSync = time.Now()
			if _, err := d.starterCmd(ctx, time.Minute, true, "sync-now", "--customer", customer, "--env", string(demoEnv)); err != nil {
				return crm.Record{}, err
			}
		}
		select {
		case <-ctx.Done():
			return crm.Record{}, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// contactOf shows the record's ids, acceptance and customer contact (what ACE masks).
func contactOf(r crm.Record) string {
	return fmt.Sprintf("%s partner id %q, %s: partnerAcceptanceStatus=%q customerFirstName=%q customerLastName=%q customerEmail=%q (sync %s)",
		r.ACEID, r.PartnerID, r.Name, fieldString(r, "partnerAcceptanceStatus"), fieldString(r, "customerFirstName"),
		fieldString(r, "customerLastName"), fieldString(r, "customerEmail"), r.SyncStatus)
}

func fieldString(r crm.Record, key string) string {
	var f map[string]json.RawMessage
	_ = json.Unmarshal(r.Fields, &f)
	var s string
	_ = json.Unmarshal(f[key], &s)
	return s
}
