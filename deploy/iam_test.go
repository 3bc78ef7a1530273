package deploy

import (
	"encoding/json"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// policyStatement is one IAM policy statement; Action and Resource may be a string or a list.
type policyStatement struct {
	Sid       string
	Effect    string
	Action    any
	Resource  any
	Condition map[string]map[string]any
	// Forms this policy must not use.
	NotAction, NotResource, Principal any
}

func TestWorkerPolicy(t *testing.T) {
	b, err := os.ReadFile("iam/worker-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var pol struct {
		Version   string
		Statement []policyStatement
	}
	if err := json.Unmarshal(b, &pol); err != nil {
		t.Fatalf("iam/worker-policy.json: %v", err)
	}
	if pol.Version != "2012-10-17" {
		t.Errorf("Version %q, want 2012-10-17", pol.Version)
	}
	if len(pol.Statement) != 3 {
		t.Fatalf("%d statements, want 3 (assume customer roles; payload key; CRM credentials)", len(pol.Statement))
	}
	for _, s := range pol.Statement {
		if s.Effect != "Allow" || s.NotAction != nil || s.NotResource != nil || s.Principal != nil {
			t.Errorf("statement %s: want a plain Allow with Action and Resource", s.Sid)
		}
		// ACE, by either transport, is reached only through the customer's role: the
		// worker's own identity may call neither S3 nor the Partner Central Selling API.
		for _, a := range stringList(t, s.Action) {
			if strings.HasPrefix(a, "s3:") || strings.HasPrefix(a, "partnercentral:") {
				t.Errorf("statement %s grants the worker %s; it reaches ACE only through customer roles", s.Sid, a)
			}
		}
	}

	assume := pol.Statement[0]
	if got := stringList(t, assume.Action); !slices.Equal(got, []string{"sts:AssumeRole"}) {
		t.Errorf("statement %s: actions %v, want only sts:AssumeRole", assume.Sid, got)
	}
	if got := stringList(t, assume.Resource); !slices.Equal(got, []string{"arn:aws:iam::*:role/oppsync-ace-*"}) {
		t.Errorf("statement %s: resources %v, want only arn:aws:iam::*:role/oppsync-ace-*", assume.Sid, got)
	}
	want := map[string]map[string]any{"Null": {"sts:ExternalId": "false"}}
	if !reflect.DeepEqual(assume.Condition, want) {
		t.Errorf("statement %s: Condition %v, want %v (an External ID is required)", assume.Sid, assume.Condition, want)
	}
	// The roles the customer template creates are within the pattern; others are not.
	for role, ok := range map[string]bool{"oppsync-ace-prod": true, "oppsync-ace-beta": true, "admin": false, "OrganizationAccountAccessRole": false} {
		if m, _ := path.Match("oppsync-ace-*", role); m != ok {
			t.Errorf("role %s: matched=%v, want %v", role, m, ok)
		}
	}

	key := pol.Statement[1]
	actions := stringList(t, key.Action)
	slices.Sort(actions)
	if !slices.Equal(actions, []string{"kms:Decrypt", "kms:GenerateDataKey"}) {
		t.Errorf("statement %s: actions %v, want kms:Decrypt and kms:GenerateDataKey", key.Sid, actions)
	}
	keyARN := regexp.MustCompile(`^arn:aws:kms:[a-z0-9-]+:[A-Z0-9_]+:key/[A-Za-z0-9_-]+$`)
	for _, r := range stringList(t, key.Resource) {
		if !keyARN.MatchString(r) {
			t.Errorf("statement %s: resource %q, want one KMS key ARN (no wildcard, no alias)", key.Sid, r)
		}
	}
	if key.Condition != nil {
		t.Errorf("statement %s: unexpected Condition %v", key.Sid, key.Condition)
	}

	// CRM credentials referenced by NAME_secret=ARN (crm/secret): read-only, and only the
	// vendor's secrets under oppsync/crm/, never every secret of the account.
	crmSecrets := pol.Statement[2]
	if got := stringList(t, crmSecrets.Action); !slices.Equal(got, []string{"secretsmanager:GetSecretValue"}) {
		t.Errorf("statement %s: actions %v, want only secretsmanager:GetSecretValue", crmSecrets.Sid, got)
	}
	secretARN := regexp.MustCompile(`^arn:aws:secretsmanager:[a-z0-9-]+:[A-Z0-9_]+:secret:oppsync/crm/\*$`)
	if got := stringList(t, crmSecrets.Resource); len(got) != 1 || !secretARN.MatchString(got[0]) {
		t.Errorf("statement %s: resources %v, want one ARN arn:aws:secretsmanager:REGION:VENDOR_ACCOUNT_ID:secret:oppsync/crm/* (no wildcard account or region)", crmSecrets.Sid, got)
	}
	if crmSecrets.Condition != nil {
		t.Errorf("statement %s: unexpected Condition %v", crmSecrets.Sid, crmSecrets.Condition)
	}
}
