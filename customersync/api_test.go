package customersync

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func validConfig() CustomerConfig {
	return CustomerConfig{
		Customer: "acme", Env: EnvProd,
		RoleARN:    "arn:aws:iam::111122223333:role/oppsync-ace",
		ExternalID: "6b1f0f5e-9d1c-4a53-9d3f-8f0f3c2a1b7e",
		Bucket:     "ace-apn-12345-prod-us-west-2",
		KMSKeyARN:  "arn:aws:kms:us-west-2:444455556666:key/0d2c6c1e-0000-4000-8000-000000000000",
		CRM:        "sqlite:///var/lib/oppsync/acme.db",
	}.WithDefaults()
}

func TestCustomerConfigValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	tests := []struct {
		name   string
		change func(*CustomerConfig)
		want   string
	}{
		{"customer with capitals", func(c *CustomerConfig) { c.Customer = "Acme Corp" }, "customer"},
		{"env", func(c *CustomerConfig) { c.Env = "staging" }, "prod or beta"},
		{"role ARN", func(c *CustomerConfig) { c.RoleARN = "arn:aws:iam::1234:role/x" }, "role ARN"},
		{"role ARN of a user", func(c *CustomerConfig) { c.RoleARN = "arn:aws:iam::111122223333:user/x" }, "role ARN"},
		{"no external ID", func(c *CustomerConfig) { c.ExternalID = "" }, "external ID is missing"},
		{"external ID with spaces", func(c *CustomerConfig) { c.ExternalID = strings.Repeat("a", 40) + " b" }, "characters AWS does not allow"},
		{"external ID too long", func(c *CustomerConfig) { c.ExternalID = strings.Repeat("a", 1225) }, "external ID has 1225 characters"},
		// The customer role template requires at least 32 characters: anything shorter
		// would enroll a customer whose stack cannot be created with that ID.
		{"external ID too short for the template", func(c *CustomerConfig) { c.ExternalID = strings.Repeat("a", 31) }, "external ID has 31 characters: use 32-1224"},
		{"external ID of 2 characters", func(c *CustomerConfig) { c.ExternalID = "ab" }, "external ID has 2 characters"},
		{"bucket", func(c *CustomerConfig) { c.Bucket = "Bad_Bucket" }, "bucket"},
		{"region", func(c *CustomerConfig) { c.Region = "uswest2" }, "region"},
		{"KMS ARN", func(c *CustomerConfig) { c.KMSKeyARN = "key-123" }, "KMS key ARN"},
		{"CRM without scheme", func(c *CustomerConfig) { c.CRM = "/var/lib/crm.db" }, "CRM"},
		{"CRM with password", func(c *CustomerConfig) { c.CRM = "salesforce://user:hunter2@example" }, "password"},
		// Credentials are referenced (NAME_env, NAME_file, NAME_secret), never inline: the
		// URL goes into history and every activity input.
		{"HubSpot token inline", func(c *CustomerConfig) { c.CRM = "hubspot://api.hubapi.com?token=hunter2" }, "token by value"},
		{"Salesforce refresh token inline", func(c *CustomerConfig) {
			c.CRM = "salesforce://login.salesforce.com?client_id=abc&refresh_token=hunter2"
		}, "refresh_token by value"},
		{"any connector's secret parameter inline", func(c *CustomerConfig) { c.CRM = "postgres://db/crm?api_key=hunter2" }, "api_key by value"},
		{"poll interval", func(c *CustomerConfig) { c.PollInterval = time.Second }, "poll interval"},
		{"ack mode", func(c *CustomerConfig) { c.AckMode = "archive" }, "ack mode"},
		{"concurrency", func(c *CustomerConfig) { c.FileConcurrency = 1000 }, "concurrency"},
		// The results pass deletes from the results folders: only ACE's own, per object.
		{"results folder is the inbound folder", func(c *CustomerConfig) { c.OpportunityResults = "opportunity-inbound/" }, "not one of ACE's opportunity results folders"},
		{"results folder is the archive", func(c *CustomerConfig) { c.OpportunityResults = "opportunity-outbound-archive/" }, "opportunity results folder"},
		{"results folder inside outbound", func(c *CustomerConfig) { c.OpportunityResults = "opportunity-outbound/x/" }, "opportunity results folder"},
		{"results folder of the other object", func(c *CustomerConfig) { c.OpportunityResults = "lead-inbound-processed-results/" }, "opportunity results folder"},
		{"lead results folder elsewhere", func(c *CustomerConfig) { c.LeadResults = "lead-results/" }, "use lead-inbound-processed-results/ or lead-inbound-results/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error repeats the password: %v", err)
			}
		})
	}
}

func TestTransports(t *testing.T) {
	c := validConfig()
	if c.Transport != TransportS3 {
		t.Fatalf("default transport = %q, want s3", c.Transport)
	}
	c.Bucket = ""
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "bucket is missing") {
		t.Fatalf("s3 without a bucket: Validate() = %v, want the missing bucket named", err)
	}
	c.Transport = TransportAPI
	if err := c.Validate(); err != nil {
		t.Fatalf("api without a bucket: Validate() = %v, want nil", err)
	}
	c.Transport = "ftp"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `transport "ftp" is not valid`) {
		t.Fatalf("Validate() = %v, want the bad transport named", err)
	}
	for env, want := range map[Env]string{EnvBeta: "Sandbox", EnvProd: "AWS"} {
		if got := env.Catalog(); got != want {
			t.Errorf("%s.Catalog() = %q, want %q", env, got, want)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := CustomerConfig{}.WithDefaults().Validate()
	for _, want := range []string{"customer", "prod or beta", "role ARN", "external ID", "bucket", "CRM"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

func TestWorkflowIDRoundTrip(t *testing.T) {
	id := WorkflowID("acme", EnvBeta)
	if id != "oppsync/acme/beta" {
		t.Fatalf("WorkflowID = %q", id)
	}
	c, e, ok := ParseWorkflowID(id)
	if !ok || c != "acme" || e != EnvBeta {
		t.Fatalf("ParseWorkflowID(%q) = %q, %q, %v", id, c, e, ok)
	}
	for _, bad := range []string{"acme/beta", "other/acme/beta", "oppsync/acme/beta/x"} {
		if _, _, ok := ParseWorkflowID(bad); ok {
			t.Errorf("ParseWorkflowID(%q) accepted", bad)
		}
	}
}

func TestRunningConfigKeepsItsRules(t *testing.T) {
	c := validConfig()
	c.ExternalID = "not-the-right-external-id"
	if err := c.ValidateRunning(); err != nil {
		t.Errorf("ValidateRunning() = %v: a running workflow's configuration was refused", err)
	}
	if err := c.Validate(); err == nil {
		t.Error("Validate() accepted a 25-character External ID")
	}
}

// Both of AWS's names for the results folders are accepted, each for its own object.
func TestResultsFolderSpellings(t *testing.T) {
	for _, f := range [][2]string{
		{"opportunity-inbound-processed-results/", "lead-inbound-processed-results/"},
		{"opportunity-inbound-results/", "lead-inbound-results/"},
	} {
		c := validConfig()
		c.OpportunityResults, c.LeadResults = f[0], f[1]
		if err := c.Validate(); err != nil {
			t.Errorf("results folders %v refused: %v", f, err)
		}
	}
}

// Every duration of CustomerConfig reads back from the "10m0s" form `starter status --json`
// prints, not only the ones there were when UnmarshalJSON was written.
func TestEveryConfigDurationReadsFromItsString(t *testing.T) {
	typ := reflect.TypeFor[CustomerConfig]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type != reflect.TypeFor[time.Duration]() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		var c CustomerConfig
		if err := json.Unmarshal([]byte(`{"`+name+`":"1m30s"}`), &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := reflect.ValueOf(c).Field(i).Interface().(time.Duration); got != 90*time.Second {
			t.Errorf("%s read as %s, want 1m30s", name, got)
		}
	}
}
