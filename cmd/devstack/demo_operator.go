package main

// The demo's operator view: a customer whose role refuses us and a file ACE wrote that
// cannot be read, so that the Web UI's ready-made lists (needs attention, by broken link,
// with quarantined files) have something to show.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oppsync/oppsync/customersync"
)

// Facts of the demo's operator view.
const (
	// demoBrokenCustomer is enrolled with an External ID its role does not accept.
	demoBrokenCustomer = "demo-broken"
	// demoWrongExternalID is not the one the broken customer's role requires.
	demoWrongExternalID = "not-the-external-id-the-role-requires-0000"
	// demoBadFile is a truncated outbound file ACE "wrote": quarantined with its reason.
	demoBadFile = "opportunity-outbound/demo-truncated.json"
)

// operatorView enrolls the broken customer, drops an unreadable file into the demo
// customer's bucket, and waits until both show in status.
func (d *demoRun) operatorView(ctx context.Context) error {
	step("What an operator sees: customer " + demoBrokenCustomer + " enrolled with a wrong External ID (its role refuses\n" +
		"    AssumeRole), and a truncated file in " + demoCustomer + "'s bucket (quarantined with its reason)")
	broken, err := d.stack.NewCustomer(ctx, demoBrokenCustomer)
	if err != nil {
		return err
	}
	if _, err := d.runStarter(ctx, time.Minute, "enroll", "--customer", demoBrokenCustomer, "--env", string(demoEnv),
		"--role-arn", broken.RoleARN, "--external-id", demoWrongExternalID, "--bucket", broken.Bucket,
		"--kms-key-arn", broken.KMSKeyARN, "--crm", "sqlite://"+d.dir+"/crm-broken.db", "--poll-interval", demoPollInterval); err != nil {
		return err
	}
	if err := d.stack.PutAsACE(ctx, d.cust.Bucket, demoBadFile, []byte(`{"version": "1.0", "opportunities": [{"customer": {`)); err != nil {
		return err
	}
	fmt.Printf("  s3://%s/%s  <- a truncated JSON file\n", d.cust.Bucket, demoBadFile)
	if _, err := d.runStarter(ctx, 2*time.Minute, "sync-now", "--customer", demoCustomer, "--env", string(demoEnv), "--wait"); err != nil {
		return err
	}
	if err := d.waitForHealth(ctx, demoBrokenCustomer, customersync.HealthNeedsAttention); err != nil {
		return err
	}
	if _, err := d.runStarter(ctx, time.Minute, "status", "--customer", demoBrokenCustomer, "--env", string(demoEnv)); err != nil {
		return err
	}
	_, err = d.runStarter(ctx, time.Minute, "status", "--customer", demoCustomer, "--env", string(demoEnv))
	return err
}

// waitForHealth polls a customer's status until its sync state is want.
func (d *demoRun) waitForHealth(ctx context.Context, customer string, want customersync.Health) error {
	deadline := time.Now().Add(demoWait)
	for {
		out, err := d.starterCmd(ctx, time.Minute, true, "status", "--customer", customer, "--env", string(demoEnv), "--json")
		if err != nil {
			return err
		}
		var st customersync.Status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			return fmt.Errorf("read `starter status --json`: %w", err)
		}
		if st.Health == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("customer %s is %s after %s, want %s", customer, st.Health, demoWait, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// printViews prints the Web UI's ready-made lists of customers.
func (d *demoRun) printViews() {
	fmt.Println("  Ready-made lists (save each as a custom view in the UI: see README, Finding customers in the Web UI):")
	for _, v := range customersync.OperatorViews(time.Now()) {
		fmt.Printf("    %-30s %s\n", v.Name, customersync.ListURL(d.stack.UIURL, d.stack.Namespace, v.Query))
	}
	fmt.Printf("    (the same with localhost instead of 127.0.0.1 works too: %s)\n", strings.Replace(d.stack.UIURL, "127.0.0.1", "localhost", 1))
}
