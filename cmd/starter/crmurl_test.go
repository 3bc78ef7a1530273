package main

import (
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/customersync"
)

// enroll and configure refuse a CRM URL holding a credential before they dial Temporal
// (no server runs here), and their errors never repeat it.
func TestInlineCRMCredentialRefusedBeforeTemporal(t *testing.T) {
	enroll := []string{"enroll", "--customer", "acme", "--env", "beta", "--role-arn", "arn:aws:iam::111122223333:role/oppsync-ace-beta",
		"--external-id", "6b1f0f5e-9d1c-4a53-9d3f-8f0f3c2a1b7e", "--bucket", "ace-apn-12345-beta-us-west-2"}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{append(enroll, "--crm", "hubspot://api.hubapi.com?token=pat-na1-hunter2"), "token_env=VAR"},
		{append(enroll, "--crm", "salesforce://login.salesforce.com?client_id=abc&refresh_token=hunter2"), "refresh_token= puts the credential itself in the URL"},
		{[]string{"configure", "--customer", "acme", "--env", "beta", "--crm", "hubspot://api.hubapi.com?token=pat-na1-hunter2"}, "token_env=VAR"},
	} {
		out, _, err := runStarterCLI(t, tt.args...)
		if !isUsageError(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("starter %s: err = %v, want a usage error containing %q", tt.args[0], err, tt.want)
			continue
		}
		if strings.Contains(err.Error()+out, "hunter2") {
			t.Errorf("starter %s repeats the credential: %v", tt.args[0], err)
		}
	}
}

// configure and status show the CRM URL redacted: a configuration from before the current
// rules may still hold a credential.
func TestCRMURLShownRedacted(t *testing.T) {
	st := customersync.Status{Customer: "acme", Env: customersync.EnvBeta, Config: customersync.CustomerConfig{
		Bucket: "b", PollInterval: time.Minute, AckMode: customersync.AckDelete, CRM: "hubspot://api.hubapi.com?token=pat-na1-hunter2"}}
	var b strings.Builder
	printStatus(&b, st)
	for name, text := range map[string]string{"configure": configuredText(st), "status": b.String()} {
		if strings.Contains(text, "hunter2") || !strings.Contains(text, "hubspot://api.hubapi.com?token=REDACTED") {
			t.Errorf("%s shows the CRM URL as %q, want it redacted", name, text)
		}
	}
}
