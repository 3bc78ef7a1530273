package deploy

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/oppsync/oppsync/sellingapi/model"
)

// The Partner Central Selling API operations OppSync's API transport calls. Each needs the
// IAM action partnercentral:<Operation>.
var sellingAPIOperations = []string{
	"ListOpportunities", "GetOpportunity", "CreateOpportunity", "UpdateOpportunity",
	"AssociateOpportunity", "DisassociateOpportunity", "GetAwsOpportunitySummary",
	"StartEngagementFromOpportunityTask", "ListEngagementFromOpportunityTasks",
	"ListEngagementInvitations", "GetEngagementInvitation",
	"StartEngagementByAcceptingInvitationTask", "ListEngagementByAcceptingInvitationTasks",
	"RejectEngagementInvitation",
}

// The Partner Central catalog each ACE environment's stack is confined to.
var catalogOf = map[string]string{"prod": "AWS", "beta": "Sandbox"}

const (
	testExternalID = "ExcHNvKYWOS8t4WSP0Mj9OY4rLC8s4x6IbWUgcA0jkA"
	testBucketARN  = "arn:aws:s3:::ace-apn-12345-prod-us-west-2"
	testKeyARN     = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	testPolicyARN  = "arn:aws:iam::444455556666:policy/ace-bucket-access"
)

// stackParams are a customer's parameters; extra pairs (name, value) override or add.
func stackParams(env string, extra ...string) map[string]string {
	p := map[string]string{
		"VendorAccountId": "123456789012",
		"ExternalId":      testExternalID,
		"Environment":     env,
		"AceBucketArn":    testBucketARN,
		"AceKmsKeyArn":    testKeyARN,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

// smithyOperation is what the tests read of an operation in AWS's model.
type smithyOperation struct {
	Traits struct {
		IAMAction *struct {
			RequiredActions []string `json:"requiredActions"`
		} `json:"aws.iam#iamAction"`
		ConditionKeys []string `json:"aws.iam#conditionKeys"`
	} `json:"traits"`
}

// sellingModel reads the IAM facts of AWS's model of the Selling API: the operations by
// name, and the documentation of each condition key the service defines.
func sellingModel(t *testing.T) (ops map[string]smithyOperation, conditionKeys map[string]string) {
	t.Helper()
	var m struct {
		Shapes map[string]json.RawMessage `json:"shapes"`
	}
	if err := json.Unmarshal(model.JSON, &m); err != nil {
		t.Fatalf("sellingapi/model: %v", err)
	}
	ops, conditionKeys = map[string]smithyOperation{}, map[string]string{}
	for id, raw := range m.Shapes {
		var shape struct {
			Type   string `json:"type"`
			Traits struct {
				DefineConditionKeys map[string]struct {
					Documentation string `json:"documentation"`
				} `json:"aws.iam#defineConditionKeys"`
			} `json:"traits"`
		}
		if err := json.Unmarshal(raw, &shape); err != nil {
			t.Fatalf("sellingapi/model: %s: %v", id, err)
		}
		switch shape.Type {
		case "operation":
			var op smithyOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("sellingapi/model: %s: %v", id, err)
			}
			_, name, _ := strings.Cut(id, "#")
			ops[name] = op
		case "service":
			for k, v := range shape.Traits.DefineConditionKeys {
				conditionKeys[k] = v.Documentation
			}
		}
	}
	return ops, conditionKeys
}

// wantSellingActions is what the role must be allowed in API mode, from AWS's model: an
// action per operation OppSync calls, and every action AWS requires of a caller of those
// operations (aws.iam#iamAction requiredActions: the Start...Task operations perform
// SubmitOpportunity, CreateEngagement, ... as the caller), transitively.
func wantSellingActions(t *testing.T) []string {
	t.Helper()
	ops, _ := sellingModel(t)
	want := map[string]bool{}
	var add func(action, why string)
	add = func(action, why string) {
		if want[action] {
			return
		}
		name, ok := strings.CutPrefix(action, "partnercentral:")
		op, inModel := ops[name]
		if !ok || !inModel || op.Traits.IAMAction == nil {
			t.Fatalf("%s (%s) is not an IAM action of AWS's Selling API model", action, why)
		}
		want[action] = true
		for _, r := range op.Traits.IAMAction.RequiredActions {
			add(r, "required by "+action)
		}
	}
	for _, op := range sellingAPIOperations {
		add("partnercentral:"+op, "called by OppSync")
	}
	return sortedKeys(want)
}

func TestSellingActionsInAWSModel(t *testing.T) {
	ops, keys := sellingModel(t)
	if doc := keys["partnercentral:Catalog"]; !strings.Contains(doc, "AWS") || !strings.Contains(doc, "Sandbox") {
		t.Errorf("the model's partnercentral:Catalog is documented as %q; want its values AWS and Sandbox", doc)
	}
	for _, env := range []string{"prod", "beta"} {
		if c := catalogOf[env]; c != "AWS" && c != "Sandbox" {
			t.Errorf("%s: catalog %q", env, c)
		}
	}
	want := wantSellingActions(t)
	// The catalog condition can only hold for an action whose requests carry the key: for
	// any other, StringEquals on a missing key would deny it.
	for _, a := range want {
		op := ops[strings.TrimPrefix(a, "partnercentral:")]
		if !slices.Contains(op.Traits.ConditionKeys, "partnercentral:Catalog") {
			t.Errorf("%s does not support the condition key partnercentral:Catalog (its keys: %v)", a, op.Traits.ConditionKeys)
		}
	}
	// What the model says today; a new model that changes it should be looked at.
	for _, a := range []string{"partnercentral:SubmitOpportunity", "partnercentral:CreateEngagement", "partnercentral:AcceptEngagementInvitation"} {
		if !slices.Contains(want, a) {
			t.Errorf("%s is no longer required by the operations OppSync calls: check the model and the template", a)
		}
	}
}

// TestTemplateTransports deploys the template in every Transport and Environment and checks
// what the role may then do.
func TestTemplateTransports(t *testing.T) {
	tmpl := loadTemplate(t)
	wantSelling := wantSellingActions(t)
	var trust any
	for _, transport := range []string{"s3", "api", "both"} {
		for _, env := range []string{"prod", "beta"} {
			for _, acePolicy := range []string{"", testPolicyARN} {
				name := transport + "/" + env
				if acePolicy != "" {
					name += "/AcePolicyArn"
				}
				t.Run(name, func(t *testing.T) {
					s, err := deployStack(tmpl, stackParams(env, "Transport", transport, "AcePolicyArn", acePolicy))
					if err != nil {
						t.Fatal(err)
					}
					docs, managed := rolePermissions(t, s, "AceRole")
					usesS3, usesAPI := transport != "api", transport != "s3"

					// The trust policy is the same in every mode.
					got := at(t, s.Resources["AceRole"], "Properties", "AssumeRolePolicyDocument")
					if trust == nil {
						trust = got
					} else if !reflect.DeepEqual(got, trust) {
						t.Errorf("trust policy %v differs from the s3 stack's %v", got, trust)
					}

					// S3 and KMS: ACE's permissions on the bucket and key, for s3 and both only.
					wantManaged := []string(nil)
					if usesS3 && acePolicy != "" {
						wantManaged = []string{acePolicy}
					}
					if !slices.Equal(managed, wantManaged) {
						t.Errorf("managed policies %v, want %v", managed, wantManaged)
					}
					resources := map[string]string{"bucket": testBucketARN, "objects": testBucketARN + "/opportunity-inbound/x.json", "key": testKeyARN}
					for action, kind := range aceActions {
						req := iamRequest{Action: strings.TrimSuffix(action, "*"), Resource: resources[kind]}
						if got, want := iamAllows(t, docs, req), usesS3 && acePolicy == ""; got != want {
							t.Errorf("%s on %s: allowed %v, want %v", req.Action, req.Resource, got, want)
						}
					}
					for _, a := range grantedActions(t, docs) {
						if !usesS3 && (strings.HasPrefix(a, "s3:") || strings.HasPrefix(a, "kms:")) {
							t.Errorf("Transport api grants %s", a)
						}
					}
					if iamAllows(t, docs, iamRequest{Action: "s3:GetObject", Resource: "arn:aws:s3:::another-bucket/x"}) {
						t.Error("s3:GetObject allowed on another bucket")
					}

					// Selling API: exactly the actions OppSync needs, only on this
					// environment's catalog, for api and both only.
					var selling []string
					for _, a := range grantedActions(t, docs) {
						if strings.HasPrefix(a, "partnercentral:") {
							selling = append(selling, a)
						}
					}
					wantActions := []string(nil)
					if usesAPI {
						wantActions = wantSelling
					}
					if !slices.Equal(selling, wantActions) {
						t.Errorf("Selling API actions\n %v\nwant\n %v", selling, wantActions)
					}
					other := map[string]string{"AWS": "Sandbox", "Sandbox": "AWS"}[catalogOf[env]]
					for _, a := range wantSelling {
						own := iamRequest{Action: a, Resource: "*", Context: map[string]string{"partnercentral:Catalog": catalogOf[env]}}
						if got := iamAllows(t, docs, own); got != usesAPI {
							t.Errorf("%s on catalog %s: allowed %v, want %v", a, catalogOf[env], got, usesAPI)
						}
						if iamAllows(t, docs, iamRequest{Action: a, Resource: "*", Context: map[string]string{"partnercentral:Catalog": other}}) {
							t.Errorf("%s allowed on catalog %s, in an Environment %s stack", a, other, env)
						}
						if iamAllows(t, docs, iamRequest{Action: a, Resource: "*"}) {
							t.Errorf("%s allowed without a catalog", a)
						}
					}
					if iamAllows(t, docs, iamRequest{Action: "partnercentral:AssignOpportunity", Resource: "*", Context: map[string]string{"partnercentral:Catalog": catalogOf[env]}}) {
						t.Error("partnercentral:AssignOpportunity allowed: OppSync does not need it")
					}
					if out, ok := s.Outputs["SellingApiCatalog"]; ok != usesAPI || ok && at(t, out, "Value") != catalogOf[env] {
						t.Errorf("output SellingApiCatalog %v, want %v (Transport %s)", out, map[bool]string{true: catalogOf[env], false: "none"}[usesAPI], transport)
					}
				})
			}
		}
	}
}

// TestTemplateDefaultKeepsS3Stacks: a stack created before Transport existed, updated to this
// template with its old parameters, renders exactly as before (testdata holds the template
// as it was), so the update changes nothing.
func TestTemplateDefaultKeepsS3Stacks(t *testing.T) {
	if d := at(t, loadTemplate(t), "Parameters", "Transport", "Default"); d != "s3" {
		t.Errorf("Transport Default %v, want s3", d)
	}
	before := loadTemplateFile(t, "testdata/customer-role-s3-only.yaml")
	now := loadTemplate(t)
	for _, env := range []string{"prod", "beta"} {
		for _, extra := range [][]string{nil, {"AcePolicyArn", testPolicyARN}, {"RoleName", "oppsync-ace-acme"}} {
			params := stackParams(env, extra...)
			old, err := deployStack(before, params)
			if err != nil {
				t.Fatalf("%s %v: the old template: %v", env, extra, err)
			}
			s, err := deployStack(now, params)
			if err != nil {
				t.Fatalf("%s %v: %v", env, extra, err)
			}
			if !reflect.DeepEqual(s.Resources, old.Resources) {
				t.Errorf("%s %v: resources\n %v\nwant, as before Transport,\n %v", env, extra, s.Resources, old.Resources)
			}
			if !reflect.DeepEqual(s.Outputs, old.Outputs) {
				t.Errorf("%s %v: outputs %v, want %v", env, extra, s.Outputs, old.Outputs)
			}
		}
	}
}

func TestTemplateRules(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, c := range []struct {
		name   string
		params map[string]string
		refuse string // a parameter the refusal must name; "" for a stack that is created
	}{
		{"s3 without bucket", stackParams("prod", "Transport", "s3", "AceBucketArn", ""), "AceBucketArn"},
		{"s3 without key", stackParams("prod", "Transport", "s3", "AceKmsKeyArn", ""), "AceKmsKeyArn"},
		{"default transport without bucket", stackParams("beta", "AceBucketArn", ""), "AceBucketArn"},
		{"both without bucket", stackParams("beta", "Transport", "both", "AceBucketArn", ""), "AceBucketArn"},
		{"both without key", stackParams("beta", "Transport", "both", "AceKmsKeyArn", ""), "AceKmsKeyArn"},
		{"api without bucket and key", stackParams("prod", "Transport", "api", "AceBucketArn", "", "AceKmsKeyArn", ""), ""},
		{"api keeping the bucket of a migration", stackParams("prod", "Transport", "api"), ""},
		{"s3 with bucket and key", stackParams("prod", "Transport", "s3"), ""},
	} {
		_, err := deployStack(tmpl, c.params)
		switch {
		case c.refuse == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.refuse != "" && (!errors.Is(err, errRules) || !strings.Contains(err.Error(), c.refuse) || !strings.Contains(err.Error(), "Transport api")):
			t.Errorf("%s: got %v, want the rules to refuse it naming %s and the way out (Transport api)", c.name, err, c.refuse)
		}
	}
	params := stackParams("prod")
	delete(params, "AceBucketArn")
	delete(params, "AceKmsKeyArn")
	if _, err := deployStack(tmpl, params); !errors.Is(err, errRules) {
		t.Errorf("s3 stack with the bucket parameters left out: %v, want refused by the rules", err)
	}
	if _, err := deployStack(tmpl, stackParams("prod", "Transport", "ftp")); err == nil || !strings.Contains(err.Error(), "Transport") {
		t.Errorf("Transport ftp: %v, want refused", err)
	}
}

// TestTemplateCfnLint runs cfn-lint (on the machine image as a pip package) on the template
// as is, and on s3, both and api deployments of it (cfn-lint's deployment files: the template
// with parameter values).
func TestTemplateCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cfn-lint not found (%v): install it (pip install cfn-lint)", err)
		}
		t.Skipf("cfn-lint not found: %v", err)
	}
	template, err := filepath.Abs(customerTemplate)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var deployments []string
	for _, d := range []struct{ name, env, transport string }{
		{"s3-prod", "prod", "s3"}, {"both-beta", "beta", "both"}, {"api-prod", "prod", "api"},
	} {
		params := stackParams(d.env, "Transport", d.transport)
		if d.transport == "api" {
			delete(params, "AceBucketArn")
			delete(params, "AceKmsKeyArn")
		}
		b, err := yaml.Marshal(map[string]any{"template-file-path": template, "parameters": params})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, d.name+".yaml")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		deployments = append(deployments, file)
	}
	for _, args := range [][]string{
		// With no parameters cfn-lint resolves AceBucketArn and AceKmsKeyArn to their empty
		// defaults and warns that an empty Resource is no ARN (W1030, W1031). The rule
		// S3TransportNeedsBucketAndKey refuses such a stack (TestTemplateRules), which
		// cfn-lint does not evaluate; the deployments are linted without exception.
		{customerTemplate, "--ignore-checks", "W1030", "W1031"},
		append([]string{"--deployment-files"}, deployments...),
	} {
		args = append([]string{"--non-zero-exit-code", "informational"}, args...)
		if out, err := exec.Command(lint, args...).CombinedOutput(); err != nil {
			t.Errorf("cfn-lint %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// templateResourceTypes lists the template's resources as name: type, sorted.
func templateResourceTypes(t *testing.T, tmpl map[string]any) []string {
	t.Helper()
	var out []string
	for name, r := range at(t, tmpl, "Resources").(map[string]any) {
		out = append(out, name+": "+r.(map[string]any)["Type"].(string))
	}
	sort.Strings(out)
	return out
}
