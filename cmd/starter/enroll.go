package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/customersync"
)

func newEnrollCmd() *cobra.Command {
	var (
		cfg       customersync.CustomerConfig
		env, ack  string
		taskQueue string
		pollEvery time.Duration
	)
	cmd := &cobra.Command{
		Use:   "enroll --customer ID --env prod|beta --role-arn ARN --external-id ID (--bucket NAME | --transport api) --crm URL",
		Short: "Enroll a customer (or update its configuration): starts its sync workflow",
		Long: `Enroll a customer in one ACE environment, or update the configuration of one already
enrolled. Enrolling is idempotent and atomic: it starts the workflow oppsync/<customer>/<env>
if it is not running and applies the configuration in the same request (update-with-start);
enrolling again only replaces the configuration.

The customer's IAM role must trust our AWS account and require the External ID given here.
The CRM URL names a connector; credentials are referenced, never embedded in it.

--transport chooses how OppSync reaches ACE: s3 (the default) exchanges files through the
customer's ACE bucket; api calls the Partner Central Selling API (catalog Sandbox for beta,
AWS for prod), which needs no bucket and is the only way for partners who joined ACE after
AWS closed the S3 integration in 2024. The role needs the matching permissions (the
CloudFormation template's Transport parameter).`,
		Example: `  starter enroll --customer acme --env beta \
    --role-arn arn:aws:iam::111122223333:role/oppsync-ace \
    --external-id 6b1f0f5e-9d1c-4a53-9d3f-8f0f3c2a1b7e \
    --bucket ace-apn-12345-beta-us-west-2 --region us-west-2 \
    --kms-key-arn arn:aws:kms:us-west-2:444455556666:key/0d2c... \
    --crm sqlite:///var/lib/oppsync/acme.db --poll-interval 10m

  starter enroll --customer nova --env prod --transport api --spms-id 67890 \
    --role-arn arn:aws:iam::555566667777:role/oppsync-ace-prod \
    --external-id 0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b \
    --crm sqlite:///var/lib/oppsync/nova.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Validate reports every problem at once, the environment's among them.
			cfg.Env, cfg.PollInterval, cfg.AckMode = customersync.Env(env), pollEvery, customersync.AckMode(ack)
			cfg = cfg.WithDefaults()
			if err := cfg.Validate(); err != nil {
				return usageError{fmt.Errorf("cannot enroll %s/%s:\n%w", cfg.Customer, env, err)}
			}
			tc, err := dial()
			if err != nil {
				return err
			}
			defer tc.Close()
			e, err := customersync.NewClient(tc, taskQueue).Enroll(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "enrolled %s/%s: workflow %s (run %s), bucket %s, polling every %s; %d cycles so far\n",
				cfg.Customer, cfg.Env, e.WorkflowID, e.RunID, cfg.Bucket, cfg.PollInterval, e.Status.State.Cycles)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Customer, "customer", "", "customer id: lower-case letters, digits and dashes (required)")
	f.StringVar(&env, "env", "", "ACE environment: prod or beta (required)")
	f.StringVar(&cfg.RoleARN, "role-arn", "", "IAM role the customer created for OppSync (required)")
	f.StringVar(&cfg.ExternalID, "external-id", "", "External ID the role's trust policy requires (required)")
	f.StringVar((*string)(&cfg.Transport), "transport", string(customersync.TransportS3), "how OppSync reaches ACE: s3 (ACE's S3 file integration, the customer's bucket) or api (the Partner Central Selling API, for partners AWS no longer admits to the S3 integration)")
	f.StringVar(&cfg.Bucket, "bucket", "", "the customer's ACE bucket, e.g. ace-apn-<spmsId>-beta-us-west-2 (required with --transport s3)")
	f.StringVar(&cfg.Region, "region", "us-west-2", "the bucket's AWS region")
	f.StringVar(&cfg.KMSKeyARN, "kms-key-arn", "", "ACE's KMS key ARN for the bucket")
	f.StringVar(&cfg.CRM, "crm", "", "CRM connector URL, e.g. sqlite:///var/lib/oppsync/acme.db (required)")
	f.DurationVar(&pollEvery, "poll-interval", customersync.DefaultPollInterval, "time between sync cycles (a ±10% jitter is added)")
	f.StringVar(&ack, "ack", string(customersync.AckDelete), "what to do with a synced outbound file: delete (ACE keeps an archive copy) or tag (partner_processed=true)")
	f.IntVar(&cfg.FileConcurrency, "file-concurrency", customersync.DefaultFileConcurrency, "outbound files synced at once per customer by workflow runs started before outbound batches")
	f.DurationVar(&cfg.BatchHeartbeat, "batch-heartbeat", customersync.DefaultBatchHeartbeat, "how long an outbound batch may go without a heartbeat before Temporal resumes it on another worker (5s-10m)")
	f.IntVar(&cfg.ReadConcurrency, "read-concurrency", customersync.DefaultReadConcurrency, "outbound files of a batch downloaded at once (1-128); batches of one customer run one at a time")
	f.StringVar(&cfg.SpmsID, "spms-id", "", "the partner's ACE id (spmsId); when set, CRM changes are sent to ACE")
	f.IntVar(&cfg.RecordsPerFile, "records-per-file", 1, "records per inbound file, 1-50 (AWS recommends 1)")
	f.DurationVar(&cfg.ResultTimeout, "result-timeout", customersync.DefaultResultTimeout, "how long to wait for ACE's result of an inbound file before marking its records \"no answer\"")
	f.DurationVar(&cfg.ResultPollInterval, "result-poll-interval", customersync.DefaultResultPollInterval, "time between cycles while inbound files await ACE's result")
	f.StringVar(&cfg.OpportunityResults, "opportunity-results-folder", "", "ACE's opportunity results folder: "+strings.Join(ace.ResultsFolders(ace.ObjectOpportunity), " (default) or "))
	f.StringVar(&cfg.LeadResults, "lead-results-folder", "", "ACE's lead results folder: "+strings.Join(ace.ResultsFolders(ace.ObjectLead), " (default) or "))
	f.StringVar(&taskQueue, "task-queue", customersync.TaskQueue, "task queue of the workers that run this customer (only used when the workflow starts)")
	for _, req := range []string{"customer", "env", "role-arn", "external-id", "crm"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}
