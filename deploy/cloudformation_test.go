package deploy

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/oppsync/oppsync/customersync"
)

const customerTemplate = "cloudformation/customer-role.yaml"

// The permissions of ACE's own policy for a partner's bucket (ace/FACTS.md, "Buckets
// and access"), and the resource each applies to.
var aceActions = map[string]string{
	"s3:ListBucket":        "bucket",
	"s3:GetObject":         "objects",
	"s3:PutObject":         "objects",
	"s3:PutObjectAcl":      "objects",
	"s3:DeleteObject":      "objects",
	"s3:GetObjectTagging":  "objects",
	"s3:PutObjectTagging":  "objects",
	"kms:Decrypt":          "key",
	"kms:GenerateDataKey*": "key",
	"kms:Encrypt":          "key",
	"kms:ReEncrypt*":       "key",
	"kms:DescribeKey":      "key",
}

// The only resource forms the inline policy may name, in long form.
var aceResources = map[string]any{
	"bucket":  map[string]any{"Ref": "AceBucketArn"},
	"objects": map[string]any{"Fn::Sub": "${AceBucketArn}/*"},
	"key":     map[string]any{"Ref": "AceKmsKeyArn"},
}

// cfnShortForms are CloudFormation's short-form tags and their long-form keys.
var cfnShortForms = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt",
	"!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!Join": "Fn::Join", "!Select": "Fn::Select", "!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap",
	"!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr", "!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue",
}

// cfnValue converts a YAML node of a CloudFormation template to plain Go values, turning
// short-form tags into their long form ({"Ref": ...}, {"Fn::Sub": ...}), as CloudFormation
// does. An unknown tag is an error.
func cfnValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		return cfnValue(n.Content[0])
	case yaml.AliasNode:
		return cfnValue(n.Alias)
	}
	custom := strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!")
	var v any
	switch n.Kind {
	case yaml.ScalarNode:
		if custom {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, err
		}
	case yaml.SequenceNode:
		list := []any{}
		for _, c := range n.Content {
			cv, err := cfnValue(c)
			if err != nil {
				return nil, err
			}
			list = append(list, cv)
		}
		v = list
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i < len(n.Content); i += 2 {
			cv, err := cfnValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = cv
		}
		v = m
	}
	if !custom {
		return v, nil
	}
	key, ok := cfnShortForms[n.Tag]
	if !ok {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	if s, isString := v.(string); key == "Fn::GetAtt" && isString {
		res, attr, _ := strings.Cut(s, ".")
		v = []any{res, attr}
	}
	return map[string]any{key: v}, nil
}

func loadTemplate(t *testing.T) map[string]any {
	t.Helper()
	return loadTemplateFile(t, customerTemplate)
}

func loadTemplateFile(t *testing.T, file string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	v, err := cfnValue(&doc)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v.(map[string]any)
}

// at walks v along keys (map keys or, for lists, decimal indexes) and fails the test when the
// path does not exist.
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[k]
			if !ok {
				t.Fatalf("%s: missing", strings.Join(keys[:i+1], "."))
			}
			v = next
		case []any:
			var idx int
			if _, err := fmt.Sscan(k, &idx); err != nil || idx >= len(c) {
				t.Fatalf("%s: no element %s", strings.Join(keys[:i], "."), k)
			}
			v = c[idx]
		default:
			t.Fatalf("%s: %T is not a map or list", strings.Join(keys[:i], "."), v)
		}
	}
	return v
}

// strings of a policy's Action or Resource: one string or a list.
func stringList(t *testing.T, v any) []string {
	t.Helper()
	switch c := v.(type) {
	case string:
		return []string{c}
	case []any:
		var out []string
		for _, e := range c {
			s, ok := e.(string)
			if !ok {
				t.Fatalf("%v: want strings", v)
			}
			out = append(out, s)
		}
		return out
	}
	t.Fatalf("%v (%T): want a string or a list of strings", v, v)
	return nil
}

func TestTemplateParameters(t *testing.T) {
	params := at(t, loadTemplate(t), "Parameters").(map[string]any)
	type constraint struct {
		accept, reject []string
	}
	// Each parameter's AllowedPattern must accept and reject these values. CloudFormation's
	// patterns are Java regular expressions; the ones here use only syntax Go's RE2 shares.
	patterns := map[string]constraint{
		"VendorAccountId": {accept: []string{"123456789012"}, reject: []string{"12345678901", "1234567890123", "12345678901a", ""}},
		"ExternalId": {
			accept: []string{"ExcHNvKYWOS8t4WSP0Mj9OY4rLC8s4x6IbWUgcA0jkA", "6b1f0f5e-9d1c-4a53-9d3f-8f0f3c2a1b7e", "a_+=,.@:/-"},
			reject: []string{"has space", "semi;colon", "quote'", ""},
		},
		"RoleName": {accept: []string{"", "oppsync-ace-prod", "oppsync-ace-beta"}, reject: []string{"admin", "OrganizationAccountAccessRole", "oppsync-ace-", "x-oppsync-ace-prod"}},
		// Empty is accepted for Transport api; the Rules refuse it for s3 and both.
		"AceBucketArn": {
			accept: []string{"", "arn:aws:s3:::ace-apn-12345-prod-us-west-2"},
			reject: []string{"arn:aws:s3:::ace-apn-12345-prod-us-west-2/*", "*", "arn:aws:s3:::*", "ace-apn-12345-prod-us-west-2"},
		},
		"AceKmsKeyArn": {
			accept: []string{"", "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
			reject: []string{"arn:aws:kms:us-west-2:444455556666:alias/aws/s3", "*", "arn:aws:kms:*:*:key/*"},
		},
		"AcePolicyArn": {
			accept: []string{"", "arn:aws:iam::444455556666:policy/ace-bucket-access"},
			reject: []string{"*", "arn:aws:iam::aws:role/x"},
		},
	}
	want := []string{"VendorAccountId", "ExternalId", "Environment", "Transport", "RoleName", "AceBucketArn", "AceKmsKeyArn", "AcePolicyArn"}
	var got []string
	for name := range params {
		got = append(got, name)
	}
	sort.Strings(got)
	sorted := slices.Clone(want)
	sort.Strings(sorted)
	if !slices.Equal(got, sorted) {
		t.Errorf("parameters %v, want %v", got, sorted)
	}
	for _, name := range want {
		p := at(t, params, name).(map[string]any)
		if p["Type"] != "String" {
			t.Errorf("%s: Type %v, want String", name, p["Type"])
		}
		if p["Description"] == nil {
			t.Errorf("%s: no Description", name)
		}
		c, ok := patterns[name]
		if !ok {
			continue
		}
		pat, _ := p["AllowedPattern"].(string)
		re, err := regexp.Compile(pat)
		if err != nil || !strings.HasPrefix(pat, "^") || !strings.HasSuffix(pat, "$") {
			t.Errorf("%s: AllowedPattern %q must be an anchored regular expression (%v)", name, pat, err)
			continue
		}
		if p["ConstraintDescription"] == nil {
			t.Errorf("%s: no ConstraintDescription for its AllowedPattern", name)
		}
		for _, s := range c.accept {
			if !re.MatchString(s) {
				t.Errorf("%s: AllowedPattern %q rejects %q", name, pat, s)
			}
		}
		for _, s := range c.reject {
			if re.MatchString(s) {
				t.Errorf("%s: AllowedPattern %q accepts %q", name, pat, s)
			}
		}
	}
	xid := params["ExternalId"].(map[string]any)
	if n, _ := xid["MinLength"].(int); n < 32 {
		t.Errorf("ExternalId MinLength %v: want at least 32, so that it cannot be guessed", xid["MinLength"])
	}
	if xid["MaxLength"] != 1224 {
		t.Errorf("ExternalId MaxLength %v: want AWS's 1224", xid["MaxLength"])
	}
	// One rule: enrollment and onboarding (customersync.CheckExternalID) accept exactly what the
	// template accepts, so no customer is enrolled with an ID its stack would refuse.
	if xid["MinLength"] != customersync.MinExternalIDLength || xid["MaxLength"] != customersync.MaxExternalIDLength ||
		xid["AllowedPattern"] != customersync.ExternalIDPattern {
		t.Errorf("ExternalId MinLength %v, MaxLength %v, AllowedPattern %v; the Go rule (workflows) is %d, %d, %s: change both together",
			xid["MinLength"], xid["MaxLength"], xid["AllowedPattern"], customersync.MinExternalIDLength, customersync.MaxExternalIDLength, customersync.ExternalIDPattern)
	}
	if cd, _ := xid["ConstraintDescription"].(string); !strings.Contains(cd, fmt.Sprintf("%d-%d", customersync.MinExternalIDLength, customersync.MaxExternalIDLength)) {
		t.Errorf("ExternalId ConstraintDescription %q does not state the %d-%d rule", cd, customersync.MinExternalIDLength, customersync.MaxExternalIDLength)
	}
	for _, id := range []string{strings.Repeat("a", 31), strings.Repeat("a", 32), strings.Repeat("a", 40) + " b", strings.Repeat("a", 1225)} {
		n := len(id)
		templateOK := n >= xid["MinLength"].(int) && n <= xid["MaxLength"].(int) && regexp.MustCompile(xid["AllowedPattern"].(string)).MatchString(id)
		if goOK := customersync.CheckExternalID(id) == nil; goOK != templateOK {
			t.Errorf("External ID of %d characters: template accepts %v, enrollment accepts %v", n, templateOK, goOK)
		}
	}
	if noEcho, ok := xid["NoEcho"].(bool); !ok || noEcho {
		t.Errorf("ExternalId NoEcho %v: want an explicit false (AWS: an External ID is not a secret)", xid["NoEcho"])
	}
	if got := at(t, params, "Environment", "AllowedValues"); !reflect.DeepEqual(got, []any{"prod", "beta"}) {
		t.Errorf("Environment AllowedValues %v, want [prod beta]", got)
	}
	if got := at(t, params, "Transport", "AllowedValues"); !reflect.DeepEqual(got, []any{"s3", "api", "both"}) {
		t.Errorf("Transport AllowedValues %v, want [s3 api both]", got)
	}
	for _, name := range []string{"RoleName", "AcePolicyArn", "AceBucketArn", "AceKmsKeyArn"} {
		if d, ok := params[name].(map[string]any)["Default"]; !ok || d != "" {
			t.Errorf("%s: Default %v, want an empty default (optional parameter)", name, d)
		}
	}
}

func TestTemplateTrustPolicy(t *testing.T) {
	role := templateRole(t)
	props := at(t, role, "Properties")
	if d := at(t, props, "MaxSessionDuration"); d != 3600 {
		t.Errorf("MaxSessionDuration %v, want 3600", d)
	}
	doc := at(t, props, "AssumeRolePolicyDocument")
	if at(t, doc, "Version") != "2012-10-17" {
		t.Errorf("trust policy Version %v", at(t, doc, "Version"))
	}
	stmts := at(t, doc, "Statement").([]any)
	if len(stmts) != 1 {
		t.Fatalf("trust policy has %d statements, want 1", len(stmts))
	}
	s := stmts[0].(map[string]any)
	if s["Effect"] != "Allow" || !slices.Equal(stringList(t, s["Action"]), []string{"sts:AssumeRole"}) {
		t.Errorf("trust statement %v: want Allow sts:AssumeRole", s)
	}
	principal := at(t, s, "Principal").(map[string]any)
	if len(principal) != 1 {
		t.Errorf("Principal %v: want only AWS", principal)
	}
	sub, ok := at(t, principal, "AWS").(map[string]any)["Fn::Sub"].(string)
	if !ok || !regexp.MustCompile(`^arn:(aws|\$\{AWS::Partition\}):iam::\$\{VendorAccountId\}:root$`).MatchString(sub) {
		t.Errorf("Principal.AWS %v: want !Sub arn:${AWS::Partition}:iam::${VendorAccountId}:root", principal["AWS"])
	}
	cond := at(t, s, "Condition").(map[string]any)
	want := map[string]any{"StringEquals": map[string]any{"sts:ExternalId": map[string]any{"Ref": "ExternalId"}}}
	if !reflect.DeepEqual(cond, want) {
		t.Errorf("trust Condition %v, want %v", cond, want)
	}
	if tags, ok := at(t, props, "Tags").([]any); !ok || len(tags) == 0 {
		t.Errorf("role has no Tags")
	}
	name := at(t, props, "RoleName")
	wantName := map[string]any{"Fn::If": []any{"HasRoleName", map[string]any{"Ref": "RoleName"}, map[string]any{"Fn::Sub": "oppsync-ace-${Environment}"}}}
	if !reflect.DeepEqual(name, wantName) {
		t.Errorf("RoleName %v, want %v (the worker may only assume oppsync-ace-* roles)", name, wantName)
	}
}

func templateRole(t *testing.T) map[string]any {
	t.Helper()
	var roles []map[string]any
	for name, r := range at(t, loadTemplate(t), "Resources").(map[string]any) {
		if r.(map[string]any)["Type"] == "AWS::IAM::Role" {
			if name != "AceRole" {
				t.Errorf("role resource %s, want AceRole", name)
			}
			roles = append(roles, r.(map[string]any))
		}
	}
	if len(roles) != 1 {
		t.Fatalf("%d IAM roles, want 1", len(roles))
	}
	return roles[0]
}

func TestTemplatePermissions(t *testing.T) {
	tmpl := loadTemplate(t)
	want := []string{"AceRole: AWS::IAM::Role", "SellingApiPolicy: AWS::IAM::RolePolicy"}
	if got := templateResourceTypes(t, tmpl); !slices.Equal(got, want) {
		t.Errorf("resources %v, want only %v: the role and its Selling API policy", got, want)
	}
	if c := at(t, tmpl, "Resources", "SellingApiPolicy", "Condition"); c != "UseSellingApi" {
		t.Errorf("SellingApiPolicy Condition %v, want UseSellingApi", c)
	}
	props := at(t, templateRole(t), "Properties")

	// Either ACE's managed policy or the inline one, never both.
	managed := at(t, props, "ManagedPolicyArns")
	wantManaged := map[string]any{"Fn::If": []any{"UseAcePolicy", []any{map[string]any{"Ref": "AcePolicyArn"}}, map[string]any{"Ref": "AWS::NoValue"}}}
	if !reflect.DeepEqual(managed, wantManaged) {
		t.Errorf("ManagedPolicyArns %v, want %v", managed, wantManaged)
	}
	// For s3 and both, exactly one of them; for api, neither.
	for _, transport := range []string{"s3", "api", "both"} {
		for _, arn := range []string{"", testPolicyARN} {
			s, err := deployStack(tmpl, stackParams("prod", "Transport", transport, "AcePolicyArn", arn))
			if err != nil {
				t.Fatal(err)
			}
			managed, inline := s.Conditions["UseAcePolicy"], s.Conditions["CreateInlinePolicy"]
			if want := transport != "api" && arn != ""; managed != want {
				t.Errorf("Transport %s, AcePolicyArn %q: UseAcePolicy %v, want %v", transport, arn, managed, want)
			}
			if want := transport != "api" && arn == ""; inline != want {
				t.Errorf("Transport %s, AcePolicyArn %q: CreateInlinePolicy %v, want %v", transport, arn, inline, want)
			}
		}
	}
	policies := at(t, props, "Policies", "Fn::If").([]any)
	if len(policies) != 3 || policies[0] != "CreateInlinePolicy" || !reflect.DeepEqual(policies[2], map[string]any{"Ref": "AWS::NoValue"}) {
		t.Fatalf("Policies: want !If [CreateInlinePolicy, [policy], !Ref AWS::NoValue], got %v", policies)
	}
	inline := policies[1].([]any)
	if len(inline) != 1 {
		t.Fatalf("%d inline policies, want 1", len(inline))
	}

	seen := map[string]bool{}
	for i, st := range at(t, inline[0], "PolicyDocument", "Statement").([]any) {
		s := st.(map[string]any)
		if s["Effect"] != "Allow" {
			t.Errorf("statement %d: Effect %v, want Allow", i, s["Effect"])
			continue
		}
		for _, k := range []string{"NotAction", "NotResource", "Principal"} {
			if _, ok := s[k]; ok {
				t.Errorf("statement %d has %s", i, k)
			}
		}
		resources, ok := s["Resource"].([]any)
		if !ok {
			resources = []any{s["Resource"]}
		}
		for _, a := range stringList(t, s["Action"]) {
			kind, ok := aceActions[a]
			if !ok {
				t.Errorf("statement %d allows %s, which ACE's policy does not grant", i, a)
				continue
			}
			seen[a] = true
			for _, r := range resources {
				if !reflect.DeepEqual(r, aceResources[kind]) {
					t.Errorf("statement %d allows %s on %v, want only %v", i, a, r, aceResources[kind])
				}
			}
		}
	}
	for a := range aceActions {
		if !seen[a] {
			t.Errorf("inline policy lacks %s (ACE's policy grants it)", a)
		}
	}
}

func TestTemplateOutputsAndReferences(t *testing.T) {
	tmpl := loadTemplate(t)
	if v := at(t, tmpl, "Outputs", "RoleArn", "Value"); !reflect.DeepEqual(v, map[string]any{"Fn::GetAtt": []any{"AceRole", "Arn"}}) {
		t.Errorf("Outputs.RoleArn.Value %v, want !GetAtt AceRole.Arn", v)
	}
	if v := at(t, tmpl, "Outputs", "ExternalId", "Value"); !reflect.DeepEqual(v, map[string]any{"Ref": "ExternalId"}) {
		t.Errorf("Outputs.ExternalId.Value %v, want !Ref ExternalId", v)
	}
	if at(t, tmpl, "AWSTemplateFormatVersion") != "2010-09-09" {
		t.Error("AWSTemplateFormatVersion must be 2010-09-09")
	}

	// What cfn-lint would catch first: every Ref, ${} and GetAtt names a parameter, a
	// resource or a pseudo parameter, every condition used exists, every parameter is used.
	params := at(t, tmpl, "Parameters").(map[string]any)
	resources := at(t, tmpl, "Resources").(map[string]any)
	conds := at(t, tmpl, "Conditions").(map[string]any)
	used := map[string]bool{}
	subVar := regexp.MustCompile(`\$\{([^}!]+)\}`)
	checkName := func(where, name string) {
		name, _, _ = strings.Cut(name, ".")
		used[name] = true
		if _, ok := params[name]; ok {
			return
		}
		if _, ok := resources[name]; ok {
			return
		}
		if strings.HasPrefix(name, "AWS::") {
			return
		}
		t.Errorf("%s: %s is neither a parameter, a resource nor a pseudo parameter", where, name)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch c := v.(type) {
		case map[string]any:
			for k, e := range c {
				switch k {
				case "Ref":
					checkName(path, e.(string))
				case "Fn::Sub":
					s, _ := e.(string)
					var vars map[string]any
					if l, ok := e.([]any); ok && len(l) == 2 {
						s, _ = l[0].(string)
						vars, _ = l[1].(map[string]any)
					}
					for _, m := range subVar.FindAllStringSubmatch(s, -1) {
						if _, ok := vars[m[1]]; !ok {
							checkName(path, m[1])
						}
					}
				case "Condition": // a resource's, an output's or !Condition; a policy's is a map
					if name, ok := e.(string); ok {
						if _, ok := conds[name]; !ok {
							t.Errorf("%s: condition %v does not exist", path, e)
						}
					}
				case "Fn::GetAtt":
					checkName(path, e.([]any)[0].(string))
				case "Fn::If":
					if _, ok := conds[e.([]any)[0].(string)]; !ok {
						t.Errorf("%s: condition %v does not exist", path, e.([]any)[0])
					}
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range c {
				walk(fmt.Sprintf("%s.%d", path, i), e)
			}
		}
	}
	for _, section := range []string{"Rules", "Conditions", "Resources", "Outputs"} {
		walk(section, tmpl[section])
	}
	for name := range params {
		if !used[name] {
			t.Errorf("parameter %s is never used", name)
		}
	}
}
