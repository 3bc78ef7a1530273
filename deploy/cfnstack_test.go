package deploy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// What CloudFormation would create from a template for one set of parameter values, computed
// the way CloudFormation does it, so that a test can ask what a stack grants rather than how
// the template is spelled: parameters resolved (defaults applied, AllowedValues,
// AllowedPattern and lengths checked), Rules evaluated, Conditions decided, resources and
// outputs whose Condition is false dropped, Fn::If decided and AWS::NoValue removed. Refs and
// ${} to parameters and pseudo parameters become their values; references to resources (Ref
// AceRole, GetAtt) are kept as they are.

// stack is a rendered template.
type stack struct {
	Params     map[string]string
	Conditions map[string]bool
	// Resources and Outputs without those whose Condition is false, and without their
	// Condition key.
	Resources map[string]map[string]any
	Outputs   map[string]any
}

// The pseudo parameters of the account the test stacks are "created" in.
var pseudoParams = map[string]string{
	"AWS::Partition": "aws",
	"AWS::AccountId": "999988887777",
	"AWS::Region":    "us-west-2",
	"AWS::StackName": "oppsync-ace",
}

// noValue is what Ref AWS::NoValue renders to before it is removed from its map or list.
var noValue = &struct{ noValue bool }{}

// errRules is wrapped by deployStack's error when a Rules assertion fails, as CloudFormation
// refuses such a stack before it creates anything.
var errRules = errors.New("rules refused the parameters")

// deployStack renders tmpl for the given parameter values. An error is what CloudFormation
// would answer instead of creating the stack: a parameter that is unknown, missing or breaks
// its constraints, or a failed Rules assertion (wrapping errRules, with its AssertDescription).
func deployStack(tmpl map[string]any, given map[string]string) (*stack, error) {
	s := &stack{Params: map[string]string{}, Conditions: map[string]bool{}}
	decls, _ := tmpl["Parameters"].(map[string]any)
	for name := range given {
		if _, ok := decls[name]; !ok {
			return nil, fmt.Errorf("parameter %s is not in the template", name)
		}
	}
	for name, d := range decls {
		decl := d.(map[string]any)
		v, ok := given[name]
		if !ok {
			def, hasDefault := decl["Default"]
			if !hasDefault {
				return nil, fmt.Errorf("parameter %s must have a value", name)
			}
			v = fmt.Sprint(def)
		}
		if err := checkParameter(name, decl, v); err != nil {
			return nil, err
		}
		s.Params[name] = v
	}

	rules, _ := tmpl["Rules"].(map[string]any)
	var refused []error
	for _, name := range sortedKeys(rules) {
		rule := rules[name].(map[string]any)
		applies := true
		if c, ok := rule["RuleCondition"]; ok {
			var err error
			if applies, err = s.truth(c, nil); err != nil {
				return nil, fmt.Errorf("rule %s: RuleCondition: %w", name, err)
			}
		}
		if !applies {
			continue
		}
		for i, a := range rule["Assertions"].([]any) {
			assertion := a.(map[string]any)
			ok, err := s.truth(assertion["Assert"], nil)
			if err != nil {
				return nil, fmt.Errorf("rule %s, assertion %d: %w", name, i, err)
			}
			if !ok {
				refused = append(refused, fmt.Errorf("rule %s: %v", name, assertion["AssertDescription"]))
			}
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("%w: %w", errRules, errors.Join(refused...))
	}

	conds, _ := tmpl["Conditions"].(map[string]any)
	for _, name := range sortedKeys(conds) {
		if _, err := s.condition(conds, name, nil); err != nil {
			return nil, err
		}
	}

	s.Resources = map[string]map[string]any{}
	for name, r := range tmpl["Resources"].(map[string]any) {
		res, err := s.renderConditional(r.(map[string]any))
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
		if res != nil {
			s.Resources[name] = res
		}
	}
	s.Outputs = map[string]any{}
	outputs, _ := tmpl["Outputs"].(map[string]any)
	for name, o := range outputs {
		out, err := s.renderConditional(o.(map[string]any))
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", name, err)
		}
		if out != nil {
			s.Outputs[name] = out
		}
	}
	return s, nil
}

// checkParameter applies a parameter's constraints to v as CloudFormation does. Its
// AllowedPattern must match the whole value (Java's matches(); the template's patterns use
// only syntax Go's RE2 shares).
func checkParameter(name string, decl map[string]any, v string) error {
	if allowed, ok := decl["AllowedValues"].([]any); ok && !slices.Contains(allowed, any(v)) {
		return fmt.Errorf("parameter %s: %q is not one of %v", name, v, allowed)
	}
	if pat, ok := decl["AllowedPattern"].(string); ok {
		re, err := regexp.Compile(`^(?:` + pat + `)$`)
		if err != nil {
			return fmt.Errorf("parameter %s: AllowedPattern: %w", name, err)
		}
		if !re.MatchString(v) {
			return fmt.Errorf("parameter %s: %q does not match %s (%v)", name, v, pat, decl["ConstraintDescription"])
		}
	}
	if n, ok := decl["MinLength"].(int); ok && len(v) < n {
		return fmt.Errorf("parameter %s: shorter than %d", name, n)
	}
	if n, ok := decl["MaxLength"].(int); ok && len(v) > n {
		return fmt.Errorf("parameter %s: longer than %d", name, n)
	}
	return nil
}

// condition decides the named condition of conds (memoised in s.Conditions); seen guards
// against a cycle.
func (s *stack) condition(conds map[string]any, name string, seen []string) (bool, error) {
	if v, ok := s.Conditions[name]; ok {
		return v, nil
	}
	def, ok := conds[name]
	if !ok {
		return false, fmt.Errorf("condition %s does not exist", name)
	}
	if slices.Contains(seen, name) {
		return false, fmt.Errorf("condition %s refers to itself: %v", name, seen)
	}
	v, err := s.truth(def, func(n string) (bool, error) { return s.condition(conds, n, append(seen, name)) })
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	s.Conditions[name] = v
	return v, nil
}

// truth evaluates a condition function (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Contains,
// Condition). cond decides a {"Condition": name} reference; nil where none may appear (Rules).
func (s *stack) truth(v any, cond func(string) (bool, error)) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("%v is not a condition function", v)
	}
	for fn, arg := range m {
		switch fn {
		case "Condition":
			if cond == nil {
				return false, fmt.Errorf("condition %v referenced where conditions are not allowed", arg)
			}
			return cond(arg.(string))
		case "Fn::Equals":
			args := arg.([]any)
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals takes 2 arguments: %v", args)
			}
			a, err := s.scalar(args[0])
			if err != nil {
				return false, err
			}
			b, err := s.scalar(args[1])
			return a == b, err
		case "Fn::Contains":
			args := arg.([]any)
			needle, err := s.scalar(args[1])
			if err != nil {
				return false, err
			}
			for _, e := range args[0].([]any) {
				if v, err := s.scalar(e); err != nil || v == needle {
					return err == nil, err
				}
			}
			return false, nil
		case "Fn::Not":
			args := arg.([]any)
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not takes 1 argument: %v", args)
			}
			b, err := s.truth(args[0], cond)
			return !b, err
		case "Fn::And", "Fn::Or":
			args := arg.([]any)
			if len(args) < 2 || len(args) > 10 {
				return false, fmt.Errorf("%s takes 2 to 10 arguments: %v", fn, args)
			}
			and := fn == "Fn::And"
			for _, a := range args {
				b, err := s.truth(a, cond)
				if err != nil {
					return false, err
				}
				if b != and {
					return b, nil
				}
			}
			return and, nil
		}
		return false, fmt.Errorf("unsupported condition function %s", fn)
	}
	panic("unreachable")
}

// scalar is a string literal or a Ref to a parameter or pseudo parameter, as a string.
func (s *stack) scalar(v any) (string, error) {
	switch c := v.(type) {
	case string:
		return c, nil
	case int, bool:
		return fmt.Sprint(c), nil
	case map[string]any:
		if name, ok := c["Ref"].(string); ok && len(c) == 1 {
			if p, ok := s.Params[name]; ok {
				return p, nil
			}
			if p, ok := pseudoParams[name]; ok {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%v is not a string or a Ref to a parameter", v)
}

// renderConditional renders a resource or output, or returns nil when its Condition is false.
func (s *stack) renderConditional(m map[string]any) (map[string]any, error) {
	body := map[string]any{}
	for k, v := range m {
		body[k] = v
	}
	if c, ok := body["Condition"]; ok {
		name, _ := c.(string)
		v, known := s.Conditions[name]
		if !known {
			return nil, fmt.Errorf("condition %v does not exist", c)
		}
		if !v {
			return nil, nil
		}
		delete(body, "Condition")
	}
	r, err := s.render(body)
	if err != nil {
		return nil, err
	}
	return r.(map[string]any), nil
}

var subVariable = regexp.MustCompile(`\$\{([^}!]+)\}`)

// render resolves Fn::If, AWS::NoValue and references to parameters in v.
func (s *stack) render(v any) (any, error) {
	switch c := v.(type) {
	case []any:
		out := []any{}
		for _, e := range c {
			r, err := s.render(e)
			if err != nil {
				return nil, err
			}
			if r != noValue {
				out = append(out, r)
			}
		}
		return out, nil
	case map[string]any:
		if len(c) == 1 {
			if args, ok := c["Fn::If"].([]any); ok {
				if len(args) != 3 {
					return nil, fmt.Errorf("Fn::If takes 3 arguments: %v", args)
				}
				v, known := s.Conditions[fmt.Sprint(args[0])]
				if !known {
					return nil, fmt.Errorf("Fn::If: condition %v does not exist", args[0])
				}
				if v {
					return s.render(args[1])
				}
				return s.render(args[2])
			}
			if name, ok := c["Ref"].(string); ok {
				if name == "AWS::NoValue" {
					return noValue, nil
				}
				if p, err := s.scalar(c); err == nil {
					return p, nil
				}
				return c, nil // a resource
			}
			if sub, ok := c["Fn::Sub"]; ok {
				return s.renderSub(sub)
			}
		}
		out := map[string]any{}
		for k, e := range c {
			r, err := s.render(e)
			if err != nil {
				return nil, err
			}
			if r != noValue {
				out[k] = r
			}
		}
		return out, nil
	}
	return v, nil
}

// renderSub substitutes parameters and pseudo parameters (and, in the list form, the given
// variables) in a Fn::Sub string. A string still naming a resource stays a Fn::Sub.
func (s *stack) renderSub(sub any) (any, error) {
	format, vars := "", map[string]string{}
	switch c := sub.(type) {
	case string:
		format = c
	case []any:
		if len(c) != 2 {
			return nil, fmt.Errorf("Fn::Sub list form takes [string, variables]: %v", c)
		}
		format, _ = c[0].(string)
		rv, err := s.render(c[1])
		if err != nil {
			return nil, err
		}
		for k, e := range rv.(map[string]any) {
			str, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("Fn::Sub variable %s does not render to a string: %v", k, e)
			}
			vars[k] = str
		}
	default:
		return nil, fmt.Errorf("Fn::Sub of %T", sub)
	}
	unresolved := false
	out := subVariable.ReplaceAllStringFunc(format, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			return v
		}
		if v, err := s.scalar(map[string]any{"Ref": name}); err == nil {
			return v
		}
		unresolved = true
		return m
	})
	if unresolved {
		return map[string]any{"Fn::Sub": out}, nil
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The IAM evaluation the tests need: identity policies of one role, Allow and Deny
// statements with Action and Resource (wildcards * and ?), and the condition operators the
// templates use. Any other form fails the test rather than being guessed at.

// iamRequest is one API request as IAM sees it.
type iamRequest struct {
	Action   string
	Resource string
	Context  map[string]string // condition keys present in the request
}

// rolePermissions returns the permission policies of the stack's role resource: its inline
// Policies, the AWS::IAM::RolePolicy resources attached to it, and its managed policy ARNs
// (whose contents are not in the template).
func rolePermissions(t *testing.T, s *stack, role string) (docs []map[string]any, managed []string) {
	t.Helper()
	props, _ := s.Resources[role]["Properties"].(map[string]any)
	if props == nil {
		t.Fatalf("stack has no role %s", role)
	}
	if list, ok := props["Policies"].([]any); ok {
		for _, p := range list {
			docs = append(docs, p.(map[string]any)["PolicyDocument"].(map[string]any))
		}
	}
	if arns, ok := props["ManagedPolicyArns"]; ok {
		managed = stringList(t, arns)
	}
	for _, name := range sortedKeys(s.Resources) {
		r := s.Resources[name]
		if r["Type"] != "AWS::IAM::RolePolicy" {
			continue
		}
		p := r["Properties"].(map[string]any)
		if ref, _ := p["RoleName"].(map[string]any); ref["Ref"] == role {
			docs = append(docs, p["PolicyDocument"].(map[string]any))
		}
	}
	return docs, managed
}

// iamAllows tells whether the policies allow req: some Allow statement matches and no Deny
// statement does.
func iamAllows(t *testing.T, docs []map[string]any, req iamRequest) bool {
	t.Helper()
	allowed := false
	for _, doc := range docs {
		for _, st := range doc["Statement"].([]any) {
			s := st.(map[string]any)
			for _, k := range []string{"NotAction", "NotResource", "Principal", "NotPrincipal"} {
				if _, ok := s[k]; ok {
					t.Fatalf("statement %v uses %s, which this evaluator does not handle", s["Sid"], k)
				}
			}
			if !matchesAny(stringList(t, s["Action"]), req.Action, true) ||
				!matchesAny(stringList(t, s["Resource"]), req.Resource, false) ||
				!conditionHolds(t, s["Condition"], req.Context) {
				continue
			}
			switch s["Effect"] {
			case "Deny":
				return false
			case "Allow":
				allowed = true
			default:
				t.Fatalf("statement %v: Effect %v", s["Sid"], s["Effect"])
			}
		}
	}
	return allowed
}

// matchesAny tells whether one of IAM's patterns (* and ? wildcards) matches s; action
// names are matched case-insensitively, as IAM does.
func matchesAny(patterns []string, s string, foldCase bool) bool {
	for _, p := range patterns {
		expr := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(p)) + "$"
		if foldCase {
			expr = "(?i)" + expr
		}
		if regexp.MustCompile(expr).MatchString(s) {
			return true
		}
	}
	return false
}

// conditionHolds evaluates a statement's Condition block against the request's keys. A key
// absent from the request fails StringEquals, as in IAM.
func conditionHolds(t *testing.T, cond any, context map[string]string) bool {
	t.Helper()
	if cond == nil {
		return true
	}
	for op, keys := range cond.(map[string]any) {
		for key, want := range keys.(map[string]any) {
			got, present := context[key]
			switch op {
			case "StringEquals":
				if !present || !slices.Contains(stringList(t, want), got) {
					return false
				}
			case "Null":
				if (want == "true") == present {
					return false
				}
			default:
				t.Fatalf("condition operator %s is not handled by this evaluator", op)
			}
		}
	}
	return true
}

// grantedActions lists the actions of the Allow statements of docs, sorted.
func grantedActions(t *testing.T, docs []map[string]any) []string {
	t.Helper()
	var out []string
	for _, doc := range docs {
		for _, st := range doc["Statement"].([]any) {
			if s := st.(map[string]any); s["Effect"] == "Allow" {
				out = append(out, stringList(t, s["Action"])...)
			}
		}
	}
	sort.Strings(out)
	return out
}
