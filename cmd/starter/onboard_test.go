package main

import (
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/oppsync/oppsync/customersync"
)

const (
	testKMSKey    = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	testBucket    = "ace-apn-12345-prod-us-west-2"
	testTemplate  = "https://oppsync-public.s3.us-west-2.amazonaws.com/customer-role.yaml"
	testVendor    = "123456789012"
	testRoleARN   = "arn:aws:iam::999988887777:role/oppsync-ace-prod"
	testCRM       = "sqlite:///var/lib/oppsync/acme.db"
	testFixedXID  = "Zq3v9yJ0mC2kQ8rT5wL1nB7xH4pD6sF0aE2gU9iO3c"
	testOtherXID  = "6b1f0f5e-9d1c-4a53-9d3f-8f0f3c2a1b7e"
	testPolicyARN = "arn:aws:iam::444455556666:policy/ace-apn-12345-prod-policy"
)

func onboardArgs(extra ...string) []string {
	return append([]string{"onboard", "--customer", "acme", "--env", "prod", "--vendor-account", testVendor,
		"--bucket", testBucket, "--kms-key-arn", testKMSKey}, extra...)
}

func onboardJSON(t *testing.T, extra ...string) onboardPlan {
	t.Helper()
	out, _, err := runStarterCLI(t, onboardArgs(append(extra, "--json")...)...)
	if err != nil {
		t.Fatalf("onboard: %v", err)
	}
	var p onboardPlan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("onboard --json printed invalid JSON: %v\n%s", err, out)
	}
	return p
}

func paramMap(ps []cfnParameter) map[string]string {
	m := map[string]string{}
	for _, p := range ps {
		m[p.Key] = p.Value
	}
	return m
}

func TestOnboardParameters(t *testing.T) {
	p := onboardJSON(t, "--external-id", testFixedXID, "--template-url", testTemplate)
	want := map[string]string{
		"VendorAccountId": testVendor,
		"ExternalId":      testFixedXID,
		"Environment":     "prod",
		"RoleName":        "oppsync-ace-prod",
		"AceBucketArn":    "arn:aws:s3:::" + testBucket,
		"AceKmsKeyArn":    testKMSKey,
	}
	got := paramMap(p.Parameters)
	if len(got) != len(want) {
		t.Errorf("parameters = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parameter %s = %q, want %q", k, got[k], v)
		}
	}
	if p.StackName != "oppsync-ace-prod" || p.Region != "us-west-2" || p.Customer != "acme" || p.Env != customersync.EnvProd {
		t.Errorf("plan = %+v", p)
	}

	// The console link: the fragment carries the quick-create query.
	u, err := url.Parse(p.QuickCreateURL)
	if err != nil {
		t.Fatalf("quick-create URL %q: %v", p.QuickCreateURL, err)
	}
	if u.Scheme != "https" || u.Host != "console.aws.amazon.com" || u.Path != "/cloudformation/home" || u.Query().Get("region") != "us-west-2" {
		t.Errorf("quick-create URL %q: wrong console address", p.QuickCreateURL)
	}
	route, rawQuery, ok := strings.Cut(u.Fragment, "?")
	if !ok || route != "/stacks/quickcreate" {
		t.Fatalf("quick-create URL fragment %q, want /stacks/quickcreate?...", u.Fragment)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("templateURL") != testTemplate || q.Get("stackName") != "oppsync-ace-prod" {
		t.Errorf("quick-create query %v: wrong template or stack name", q)
	}
	for k, v := range want {
		if q.Get("param_"+k) != v {
			t.Errorf("quick-create param_%s = %q, want %q", k, q.Get("param_"+k), v)
		}
	}

	// The CLI equivalent.
	for _, s := range []string{"aws cloudformation create-stack", "--region us-west-2", "--stack-name oppsync-ace-prod",
		"--template-url " + testTemplate, "--capabilities CAPABILITY_NAMED_IAM"} {
		if !strings.Contains(p.CreateStackCommand, s) {
			t.Errorf("create-stack command %q lacks %q", p.CreateStackCommand, s)
		}
	}
	for k, v := range want {
		if !strings.Contains(p.CreateStackCommand, "ParameterKey="+k+",ParameterValue="+v) {
			t.Errorf("create-stack command lacks parameter %s=%s", k, v)
		}
	}
	if !strings.Contains(p.RoleARNCommand, "describe-stacks") || !strings.Contains(p.RoleARNCommand, "RoleArn") {
		t.Errorf("role ARN command %q", p.RoleARNCommand)
	}
}

// The parameters onboard prints are the template's: every one exists there, and every
// template parameter without a default is printed.
func TestOnboardParametersMatchTemplate(t *testing.T) {
	b, err := os.ReadFile("../../" + customerTemplate)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Parameters map[string]struct {
			Default   *string `yaml:"Default"`
			MinLength int     `yaml:"MinLength"`
		} `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(b, &tmpl); err != nil {
		t.Fatal(err)
	}
	p := onboardJSON(t, "--ace-policy-arn", testPolicyARN)
	got := paramMap(p.Parameters)
	for k := range got {
		if _, ok := tmpl.Parameters[k]; !ok {
			t.Errorf("onboard prints parameter %s, which the template does not have", k)
		}
	}
	for k, prm := range tmpl.Parameters {
		if _, ok := got[k]; !ok && prm.Default == nil {
			t.Errorf("template parameter %s has no default and onboard does not print it", k)
		}
	}
	if n := tmpl.Parameters["ExternalId"].MinLength; n != customersync.MinExternalIDLength {
		t.Errorf("template ExternalId MinLength = %d, onboard's minimum = %d", n, customersync.MinExternalIDLength)
	}
	if got["AcePolicyArn"] != testPolicyARN {
		t.Errorf("AcePolicyArn = %q, want %q", got["AcePolicyArn"], testPolicyARN)
	}
}

// The printed enroll command, with the customer's role ARN filled in, is an enroll command
// that enroll's own flags and CustomerConfig.Validate accept.
func TestOnboardEnrollCommand(t *testing.T) {
	for _, tt := range []struct {
		name    string
		extra   []string
		wantXID string
		wantCRM string
	}{
		{"generated external ID, CRM placeholder", nil, "", "$CRM_URL"},
		{"given external ID and CRM", []string{"--external-id", testOtherXID, "--crm", testCRM}, testOtherXID, testCRM},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := onboardJSON(t, tt.extra...)
			xid := paramMap(p.Parameters)["ExternalId"]
			if tt.wantXID != "" && xid != tt.wantXID {
				t.Errorf("ExternalId = %q, want %q", xid, tt.wantXID)
			}
			if err := customersync.CheckExternalID(xid); err != nil {
				t.Errorf("ExternalId %q: %v", xid, err)
			}
			fields := strings.Fields(p.EnrollCommand)
			if len(fields) < 2 || fields[0] != "starter" || fields[1] != "enroll" {
				t.Fatalf("enroll command %q", p.EnrollCommand)
			}
			args := make([]string, 0, len(fields)-2)
			for _, f := range fields[2:] {
				f = strings.Trim(f, `"'`)
				if f == "$CRM_URL" && tt.wantCRM == "$CRM_URL" {
					f = testCRM
				}
				args = append(args, strings.ReplaceAll(f, "$ROLE_ARN", testRoleARN))
			}
			enroll := newEnrollCmd()
			if err := enroll.ParseFlags(args); err != nil {
				t.Fatalf("enroll does not accept %q: %v", p.EnrollCommand, err)
			}
			get := func(name string) string { v, _ := enroll.Flags().GetString(name); return v }
			env, err := customersync.ParseEnv(get("env"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := customersync.CustomerConfig{
				Customer: get("customer"), Env: env, RoleARN: get("role-arn"), ExternalID: get("external-id"),
				Bucket: get("bucket"), Region: get("region"), KMSKeyARN: get("kms-key-arn"), CRM: get("crm"),
			}.WithDefaults()
			if err := cfg.Validate(); err != nil {
				t.Errorf("enroll command %q gives an invalid configuration: %v", p.EnrollCommand, err)
			}
			if cfg.ExternalID != xid || cfg.Bucket != testBucket || cfg.KMSKeyARN != testKMSKey || cfg.RoleARN != testRoleARN || cfg.Customer != "acme" {
				t.Errorf("enroll command %q does not match the parameters %v", p.EnrollCommand, p.Parameters)
			}
		})
	}
}

func TestOnboardTable(t *testing.T) {
	out, _, err := runStarterCLI(t, onboardArgs("--external-id", testFixedXID, "--template-url", testTemplate)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"PARAMETER", "VendorAccountId  " + testVendor, "ExternalId       " + testFixedXID,
		"RoleName         oppsync-ace-prod", "AceBucketArn     arn:aws:s3:::" + testBucket,
		"https://console.aws.amazon.com/cloudformation/home?region=us-west-2#/stacks/quickcreate?templateURL=",
		"aws cloudformation create-stack", "starter enroll --customer acme --env prod", "not a secret",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("onboard output lacks %q:\n%s", s, out)
		}
	}

	// Without a template URL there is no console link; the CLI command uses the file.
	out, _, err = runStarterCLI(t, onboardArgs()...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "quickcreate") || !strings.Contains(out, "--template-body file://customer-role.yaml") {
		t.Errorf("onboard without --template-url:\n%s", out)
	}
}

func TestOnboardWarnsOnEnvMismatch(t *testing.T) {
	_, errOut, err := runStarterCLI(t, "onboard", "--customer", "acme", "--env", "beta", "--vendor-account", testVendor,
		"--bucket", testBucket, "--kms-key-arn", testKMSKey)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "does not look like an ACE beta bucket") {
		t.Errorf("no warning for a prod bucket onboarded as beta; stderr: %q", errOut)
	}
}

func TestOnboardUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"nothing given", []string{"onboard"}, []string{"--customer is required", "environment", "vendor account", "KMS key ARN", "bucket"}},
		{"bad env", onboardArgs("--env", "dev"), []string{`environment "dev" is not valid`}},
		{"bad vendor account", onboardArgs("--vendor-account", "12345"), []string{`vendor account "12345"`}},
		{"short external ID", onboardArgs("--external-id", "too-short"), []string{"external ID has 9 characters"}},
		{"external ID with a space", onboardArgs("--external-id", strings.Repeat("a", 40)+" b"), []string{"characters AWS does not allow"}},
		{"KMS alias", onboardArgs("--kms-key-arn", "arn:aws:kms:us-west-2:444455556666:alias/aws/s3"), []string{"not an alias"}},
		{"bad customer", onboardArgs("--customer", "Acme Corp"), []string{`customer "Acme Corp" is not valid`}},
		{"bad bucket", onboardArgs("--bucket", "ACE_bucket"), []string{`bucket "ACE_bucket"`}},
		{"bad region", onboardArgs("--region", "west"), []string{`region "west"`}},
		{"http template URL", onboardArgs("--template-url", "http://example.com/t.yaml"), []string{"template URL"}},
		{"bad policy ARN", onboardArgs("--ace-policy-arn", "policy/x"), []string{"ACE policy ARN"}},
		{"CRM URL with password", onboardArgs("--crm", "postgres://u:secret@db/crm"), []string{"must not embed a password"}},
		{"unknown flag", onboardArgs("--nope"), []string{"unknown flag"}},
		{"argument", onboardArgs("extra"), []string{"unknown command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runStarterCLI(t, tt.args...)
			if !isUsageError(err) {
				t.Fatalf("err = %v (%T), want a usage error (exit 2)", err, err)
			}
			if out != "" {
				t.Errorf("printed %q on a usage error", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain-arn:aws:s3:::b": "plain-arn:aws:s3:::b",
		"a b":                  "'a b'",
		"it's":                 `'it'\''s'`,
		"":                     "''",
		"x&y":                  "'x&y'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func isUsageError(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

// A partner on the Selling API gives no bucket or key: the plan names the transport, the
// template's parameters only, and an enroll command on the API that enroll accepts.
func TestOnboardSellingAPI(t *testing.T) {
	out, _, err := runStarterCLI(t, "onboard", "--customer", "nova", "--env", "beta", "--vendor-account", testVendor,
		"--transport", "api", "--external-id", testFixedXID, "--json")
	if err != nil {
		t.Fatalf("onboard --transport api: %v", err)
	}
	var p onboardPlan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	got := paramMap(p.Parameters)
	want := map[string]string{"VendorAccountId": testVendor, "ExternalId": testFixedXID, "Environment": "beta",
		"RoleName": "oppsync-ace-beta", "Transport": "api"}
	if !maps.Equal(got, want) {
		t.Errorf("parameters = %v, want %v", got, want)
	}
	if !strings.Contains(p.EnrollCommand, "--transport api") || strings.Contains(p.EnrollCommand, "--bucket") {
		t.Errorf("enroll command %q: want --transport api and no bucket", p.EnrollCommand)
	}
	if _, _, err := runStarterCLI(t, "onboard", "--customer", "nova", "--env", "beta", "--vendor-account", testVendor); err == nil ||
		!strings.Contains(err.Error(), "bucket is missing") {
		t.Errorf("onboard for s3 without a bucket: %v, want the missing bucket named", err)
	}
	if _, _, err := runStarterCLI(t, "onboard", "--customer", "nova", "--env", "beta", "--vendor-account", testVendor,
		"--transport", "ftp"); err == nil || !strings.Contains(err.Error(), `transport "ftp" is not valid`) {
		t.Errorf("onboard --transport ftp: %v, want the bad transport named", err)
	}
}
