package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/oppsync/oppsync/customersync"
)

// customerTemplate is the CloudFormation template customers run; onboard's parameters are its
// parameters.
const customerTemplate = "deploy/cloudformation/customer-role.yaml"

// roleNamePrefix is the prefix of every customer role: the worker's own policy
// (deploy/iam/worker-policy.json) may only assume roles named oppsync-ace-*.
const roleNamePrefix = "oppsync-ace-"

var (
	accountIDPattern = regexp.MustCompile(`^\d{12}$`)
	kmsKeyARNPattern = regexp.MustCompile(`^arn:(aws[a-z-]*):kms:[a-z0-9-]+:\d{12}:key/[a-zA-Z0-9-]+$`)
	policyARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]{1,512}$`)
)

// cfnParameter is one stack parameter, in the form `aws cloudformation create-stack
// --parameters file://params.json` reads.
type cfnParameter struct {
	Key   string `json:"ParameterKey"`
	Value string `json:"ParameterValue"`
}

// onboardPlan is what onboard prints: what to send the customer and what to run afterwards.
type onboardPlan struct {
	Customer    string           `json:"customer"`
	Env         customersync.Env `json:"env"`
	Region      string           `json:"region"`
	StackName   string           `json:"stackName"`
	Template    string           `json:"template"`
	TemplateURL string           `json:"templateUrl,omitempty"`
	Parameters  []cfnParameter   `json:"parameters"`
	// QuickCreateURL is the console link; empty without a template URL.
	QuickCreateURL     string `json:"quickCreateUrl,omitempty"`
	CreateStackCommand string `json:"createStackCommand"`
	RoleARNCommand     string `json:"roleArnCommand"`
	ExpectedRoleARN    string `json:"expectedRoleArn"`
	EnrollCommand      string `json:"enrollCommand"`
}

type onboardInput struct {
	customer, env, vendorAccount, externalID, bucket, kmsKeyARN, region string
	templateURL, acePolicyARN, crm                                      string
	// transport is the template's Transport: s3, api, or both (during a move between them).
	transport string
}

func newOnboardCmd() *cobra.Command {
	var (
		in     onboardInput
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "onboard --customer ID --env prod|beta --vendor-account ACCOUNT (--bucket NAME --kms-key-arn ARN | --transport api)",
		Short: "Print what to send a new customer: template parameters, quick-create link, and the enroll command",
		Long: `Print everything needed to onboard a customer in one ACE environment: the parameters of
the CloudFormation template ` + customerTemplate + ` (which creates the IAM role
OppSync assumes), a console quick-create link and the equivalent AWS CLI command for the
customer, and the exact starter enroll command to run once the customer sends back the
stack's RoleArn output. Nothing is created or sent: onboard only prints.

Without --external-id a fresh one is generated (see starter external-id new): keep the
output, the enroll command needs the same External ID. The quick-create link needs the
template in S3 (--template-url); without it the customer runs the template file itself.

--transport api onboards a partner on the Partner Central Selling API (no bucket or key:
the role gets the selling actions on the environment's catalog, Sandbox for beta, AWS for
prod); --transport both grants S3 and the API, for a customer moving between them.`,
		Example: `  starter onboard --customer acme --env prod --vendor-account 123456789012 \
    --bucket ace-apn-12345-prod-us-west-2 \
    --kms-key-arn arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab \
    --template-url https://oppsync-public.s3.amazonaws.com/customer-role.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.externalID == "" {
				in.externalID = newExternalID()
			}
			plan, warnings, err := planOnboarding(in)
			if err != nil {
				return usageError{fmt.Errorf("cannot onboard %s/%s:\n%w", in.customer, in.env, err)}
			}
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), plan)
			}
			return plan.print(cmd.OutOrStdout())
		},
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	f := cmd.Flags()
	f.StringVar(&in.customer, "customer", "", "customer id: lower-case letters, digits and dashes (required)")
	f.StringVar(&in.env, "env", "", "ACE environment: prod or beta (required)")
	f.StringVar(&in.vendorAccount, "vendor-account", "", "our (the vendor's) 12-digit AWS account ID, the one the worker runs in (required)")
	f.StringVar(&in.externalID, "external-id", "", fmt.Sprintf("External ID for this customer and environment, %d-%d characters (default: a fresh random one)", customersync.MinExternalIDLength, customersync.MaxExternalIDLength))
	f.StringVar(&in.bucket, "bucket", "", "the customer's ACE bucket, e.g. ace-apn-<spmsId>-prod-us-west-2 (required)")
	f.StringVar(&in.kmsKeyARN, "kms-key-arn", "", "ARN of ACE's KMS key for the bucket: arn:aws:kms:<region>:<account>:key/<id> (required)")
	f.StringVar(&in.region, "region", "us-west-2", "the bucket's AWS region (also the stack's region)")
	f.StringVar(&in.templateURL, "template-url", "", "https URL of "+customerTemplate+" in S3, for the quick-create link")
	f.StringVar(&in.acePolicyARN, "ace-policy-arn", "", "managed policy ARN ACE gave the customer: attach it instead of the template's equal inline policy")
	f.StringVar(&in.crm, "crm", "", "CRM connector URL for the enroll command (default: a $CRM_URL placeholder)")
	f.StringVar(&in.transport, "transport", "s3", "how OppSync reaches ACE: s3 (the customer's bucket), api (the Partner Central Selling API) or both (while moving between them)")
	f.BoolVar(&asJSON, "json", false, "print the plan as JSON (parameters in create-stack's --parameters file form)")
	return cmd
}

// planOnboarding checks in and builds the plan; it reports every problem at once. Warnings
// are likely mistakes that are still valid.
func planOnboarding(in onboardInput) (onboardPlan, []string, error) {
	var errs []error
	var warnings []string
	if in.customer == "" {
		errs = append(errs, errors.New("--customer is required"))
	}
	env, err := customersync.ParseEnv(in.env)
	if err != nil {
		errs = append(errs, err)
	}
	if !accountIDPattern.MatchString(in.vendorAccount) {
		errs = append(errs, fmt.Errorf("vendor account %q is not valid: expected our 12-digit AWS account ID (--vendor-account)", in.vendorAccount))
	}
	useS3 := in.transport != string(customersync.TransportAPI)
	switch in.transport {
	case "s3", "api", "both":
	default:
		errs = append(errs, fmt.Errorf("transport %q is not valid: use s3, api or both", in.transport))
	}
	partition := "aws"
	if m := kmsKeyARNPattern.FindStringSubmatch(in.kmsKeyARN); m != nil {
		partition = m[1]
	} else if useS3 || in.kmsKeyARN != "" {
		errs = append(errs, fmt.Errorf("KMS key ARN %q is not valid: expected arn:aws:kms:<region>:<account>:key/<id> (a key ARN, not an alias: IAM policies match keys by key ARN)", in.kmsKeyARN))
	}
	if in.acePolicyARN != "" && !policyARNPattern.MatchString(in.acePolicyARN) {
		errs = append(errs, fmt.Errorf("ACE policy ARN %q is not valid: expected arn:aws:iam::<account>:policy/<name>", in.acePolicyARN))
	}
	if in.templateURL != "" {
		if u, err := url.Parse(in.templateURL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("template URL %q is not valid: expected the https URL of the template in S3", in.templateURL))
		} else if !strings.HasSuffix(u.Hostname(), ".amazonaws.com") {
			warnings = append(warnings, fmt.Sprintf("template URL host %s is not S3: CloudFormation only reads templates from S3", u.Hostname()))
		}
	}
	roleName := roleNamePrefix + string(env)

	// The rules for customer, External ID, bucket, region and CRM URL are CustomerConfig's:
	// check them the way enroll will, with a stand-in for the role ARN that the customer has
	// yet to create (and for the CRM URL when none was given). The KMS key was checked above,
	// more strictly than CustomerConfig does.
	crmURL := in.crm
	if crmURL == "" {
		crmURL = "sqlite:///placeholder.db"
	}
	transport := customersync.TransportS3
	if !useS3 {
		transport = customersync.TransportAPI
	}
	cfg := customersync.CustomerConfig{
		Customer: in.customer, Env: env, Bucket: in.bucket, Region: in.region, CRM: crmURL, Transport: transport,
		RoleARN:    "arn:aws:iam::000000000000:role/" + roleName,
		ExternalID: in.externalID,
	}.WithDefaults()
	if env == "" {
		cfg.Env = customersync.EnvProd // already reported
	}
	if in.customer == "" {
		cfg.Customer = "placeholder" // already reported
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return onboardPlan{}, nil, err
	}
	if strings.HasPrefix(in.bucket, "ace-apn-") && !strings.Contains(in.bucket, "-"+string(env)+"-") {
		warnings = append(warnings, fmt.Sprintf("bucket %s does not look like an ACE %s bucket (ace-apn-<spmsId>-%s-<region>)", in.bucket, env, env))
	}

	p := onboardPlan{
		Customer:    in.customer,
		Env:         env,
		Region:      in.region,
		StackName:   roleName,
		Template:    customerTemplate,
		TemplateURL: in.templateURL,
		Parameters: []cfnParameter{
			{"VendorAccountId", in.vendorAccount},
			{"ExternalId", in.externalID},
			{"Environment", string(env)},
			{"RoleName", roleName},
		},
		ExpectedRoleARN: "arn:" + partition + ":iam::<customer account>:role/" + roleName,
	}
	if in.transport != "s3" {
		p.Parameters = append(p.Parameters, cfnParameter{"Transport", in.transport})
	}
	if useS3 {
		p.Parameters = append(p.Parameters, cfnParameter{"AceBucketArn", "arn:" + partition + ":s3:::" + in.bucket},
			cfnParameter{"AceKmsKeyArn", in.kmsKeyARN})
	}
	if in.acePolicyARN != "" && useS3 {
		p.Parameters = append(p.Parameters, cfnParameter{"AcePolicyArn", in.acePolicyARN})
	}
	p.QuickCreateURL = p.quickCreateURL()
	p.CreateStackCommand = p.createStackCommand()
	p.RoleARNCommand = fmt.Sprintf("aws cloudformation describe-stacks --region %s --stack-name %s --query \"Stacks[0].Outputs[?OutputKey=='RoleArn'].OutputValue\" --output text",
		shellQuote(p.Region), shellQuote(p.StackName))
	crmArg := `"$CRM_URL"`
	if in.crm != "" {
		crmArg = shellQuote(in.crm)
	}
	if useS3 {
		p.EnrollCommand = fmt.Sprintf(`starter enroll --customer %s --env %s --role-arn "$ROLE_ARN" --external-id %s --bucket %s --region %s --kms-key-arn %s --crm %s`,
			shellQuote(p.Customer), env, shellQuote(in.externalID), shellQuote(in.bucket), shellQuote(p.Region), shellQuote(in.kmsKeyARN), crmArg)
	} else {
		p.EnrollCommand = fmt.Sprintf(`starter enroll --customer %s --env %s --transport api --role-arn "$ROLE_ARN" --external-id %s --crm %s`,
			shellQuote(p.Customer), env, shellQuote(in.externalID), crmArg)
	}
	return p, warnings, nil
}

// quickCreateURL is the CloudFormation console's quick-create link with every parameter
// filled in, or "" without a template URL (the console only reads templates from S3).
func (p onboardPlan) quickCreateURL() string {
	if p.TemplateURL == "" {
		return ""
	}
	q := []string{
		"templateURL=" + url.QueryEscape(p.TemplateURL),
		"stackName=" + url.QueryEscape(p.StackName),
	}
	for _, prm := range p.Parameters {
		q = append(q, "param_"+prm.Key+"="+url.QueryEscape(prm.Value))
	}
	return "https://console.aws.amazon.com/cloudformation/home?region=" + url.QueryEscape(p.Region) +
		"#/stacks/quickcreate?" + strings.Join(q, "&")
}

// createStackCommand is the AWS CLI equivalent of the quick-create link. The role has a
// fixed name, hence CAPABILITY_NAMED_IAM.
func (p onboardPlan) createStackCommand() string {
	var b strings.Builder
	fmt.Fprintf(&b, "aws cloudformation create-stack --region %s --stack-name %s", shellQuote(p.Region), shellQuote(p.StackName))
	if p.TemplateURL != "" {
		fmt.Fprintf(&b, " --template-url %s", shellQuote(p.TemplateURL))
	} else {
		b.WriteString(" --template-body file://customer-role.yaml")
	}
	b.WriteString(" --capabilities CAPABILITY_NAMED_IAM --parameters")
	for _, prm := range p.Parameters {
		fmt.Fprintf(&b, " %s", shellQuote("ParameterKey="+prm.Key+",ParameterValue="+prm.Value))
	}
	return b.String()
}

func (p onboardPlan) print(out io.Writer) error {
	fmt.Fprintf(out, "Onboarding %s (%s)\n\n", p.Customer, p.Env)
	fmt.Fprintf(out, "1. Send the customer the template (%s) and these parameters:\n\n", p.templateRef())
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "   PARAMETER\tVALUE")
	for _, prm := range p.Parameters {
		fmt.Fprintf(w, "   %s\t%s\n", prm.Key, prm.Value)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprint(out, "\n   The External ID is not a secret (it stops anyone else from making OppSync use this\n"+
		"   role), but it is unique to this customer and enroll needs it: keep this output.\n\n")
	fmt.Fprintln(out, "2. The customer creates the stack in the same AWS account as the ACE partner profile:")
	if p.QuickCreateURL != "" {
		fmt.Fprintf(out, "   in the console (tick \"I acknowledge that AWS CloudFormation might create IAM resources with custom names\"):\n   %s\n", p.QuickCreateURL)
		fmt.Fprintln(out, "   or with the AWS CLI:")
	} else {
		fmt.Fprintln(out, "   with the AWS CLI (no --template-url, so no console quick-create link):")
	}
	fmt.Fprintf(out, "   %s\n\n", p.CreateStackCommand)
	fmt.Fprintf(out, "3. The customer sends back the stack's RoleArn output (%s):\n", p.ExpectedRoleARN)
	fmt.Fprintf(out, "   %s\n\n", p.RoleARNCommand)
	fmt.Fprintln(out, "4. Enroll the customer with it:")
	fmt.Fprintln(out, "   ROLE_ARN=<the RoleArn output>")
	if strings.Contains(p.EnrollCommand, "$CRM_URL") {
		fmt.Fprintln(out, "   CRM_URL=<the customer's CRM connector URL>")
	}
	_, err := fmt.Fprintf(out, "   %s\n", p.EnrollCommand)
	return err
}

func (p onboardPlan) templateRef() string {
	if p.TemplateURL != "" {
		return p.TemplateURL
	}
	return p.Template
}

// shellQuote quotes s for a POSIX shell when it holds anything but plainly safe characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@:/-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// noArgs is cobra.NoArgs as a usage error (exit 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}

// flagUsageError makes a flag parsing error a usage error (exit 2).
func flagUsageError(_ *cobra.Command, err error) error { return usageError{err} }
