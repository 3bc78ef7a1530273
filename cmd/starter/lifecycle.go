package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
)

func newPauseCmd() *cobra.Command {
	var (
		reason string
	)
	cmd := customerCommand(&cobra.Command{
		Use:   "pause --customer ID --env prod|beta --reason TEXT",
		Short: "Pause a customer's sync: the cycle in flight finishes, then no cycle runs until resume",
	}, func(cmd *cobra.Command, c *customersync.Client, customer string, env customersync.Env) error {
		if _, err := c.Pause(cmd.Context(), customer, env, reason); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "paused %s/%s: %s\n", customer, env, reason)
		return nil
	})
	cmd.Flags().StringVar(&reason, "reason", "", "why (shown in status and the UI; no personal data) (required)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func newResumeCmd() *cobra.Command {
	cmd := customerCommand(&cobra.Command{
		Use:   "resume --customer ID --env prod|beta",
		Short: "Resume a paused customer: access is re-checked and a cycle runs at once",
	}, func(cmd *cobra.Command, c *customersync.Client, customer string, env customersync.Env) error {
		if _, err := c.Resume(cmd.Context(), customer, env); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "resumed %s/%s: a cycle starts now\n", customer, env)
		return nil
	})
	return cmd
}

func newConfigureCmd() *cobra.Command {
	var (
		roleARN, externalID, bucket string
		transport                   string
		region, kmsKey, crmURL, ack string
		poll, resultTimeout         time.Duration
		concurrency, perFile        int
		readConcurrency             int
		batchHeartbeat              time.Duration
		spmsID                      string
	)
	cmd := customerCommand(&cobra.Command{
		Use:   "configure --customer ID --env prod|beta [--poll-interval D] [--ack delete|tag] [...]",
		Short: "Change some of a customer's settings; the others stay as they are",
		Long: `Change some of an enrolled customer's settings. Only the flags given change; the
workflow validates the result and refuses bad values before they reach its history.
A changed role, External ID, bucket, key or CRM is re-checked at the next cycle.`,
		Example: "  starter configure --customer acme --env prod --poll-interval 30m --ack tag",
	}, func(cmd *cobra.Command, c *customersync.Client, customer string, env customersync.Env) error {
		f := cmd.Flags()
		st, err := c.Status(cmd.Context(), customer, env)
		if err != nil {
			return err
		}
		cfg := st.Config // its ExternalID is blank: the workflow keeps its own unless one is given
		set := func(name string, apply func()) {
			if f.Changed(name) {
				apply()
			}
		}
		set("role-arn", func() { cfg.RoleARN = roleARN })
		set("external-id", func() { cfg.ExternalID = externalID })
		set("bucket", func() { cfg.Bucket = bucket })
		set("transport", func() { cfg.Transport = customersync.Transport(transport) })
		set("region", func() { cfg.Region = region })
		set("kms-key-arn", func() { cfg.KMSKeyARN = kmsKey })
		set("crm", func() { cfg.CRM = crmURL })
		set("ack", func() { cfg.AckMode = customersync.AckMode(ack) })
		set("poll-interval", func() { cfg.PollInterval = poll })
		set("file-concurrency", func() { cfg.FileConcurrency = concurrency })
		set("read-concurrency", func() { cfg.ReadConcurrency = readConcurrency })
		set("batch-heartbeat", func() { cfg.BatchHeartbeat = batchHeartbeat })
		set("spms-id", func() { cfg.SpmsID = spmsID })
		set("records-per-file", func() { cfg.RecordsPerFile = perFile })
		set("result-timeout", func() { cfg.ResultTimeout = resultTimeout })
		if f.NFlag() <= 2 {
			return usageError{errors.New("nothing to change: give at least one setting flag (see --help)")}
		}
		after, err := c.Configure(cmd.Context(), cfg)
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), configuredText(after))
		return nil
	}, func(cmd *cobra.Command, customer string, env customersync.Env) error {
		if cmd.Flags().Changed("crm") {
			// The workflow's validator refuses it too; checking here, before dialing, keeps
			// an inline credential from even being sent to Temporal.
			if err := crm.CheckURL(crmURL); err != nil {
				return usageError{fmt.Errorf("cannot configure %s/%s:\n%w", customer, env, err)}
			}
		}
		return nil
	})
	f := cmd.Flags()
	f.StringVar(&roleARN, "role-arn", "", "IAM role the customer created for OppSync")
	f.StringVar(&externalID, "external-id", "", "External ID the role's trust policy requires")
	f.StringVar(&bucket, "bucket", "", "the customer's ACE bucket")
	f.StringVar(&transport, "transport", "", "how OppSync reaches ACE: s3 or api (switching keeps every CRM record linked: see README, \"Moving a customer to the Selling API\")")
	f.StringVar(&region, "region", "", "the bucket's AWS region")
	f.StringVar(&kmsKey, "kms-key-arn", "", "ACE's KMS key ARN for the bucket")
	f.StringVar(&crmURL, "crm", "", "CRM connector URL")
	f.StringVar(&ack, "ack", "", "delete or tag synced outbound files")
	f.DurationVar(&poll, "poll-interval", 0, "time between sync cycles")
	f.IntVar(&concurrency, "file-concurrency", 0, "outbound files synced at once (workflow runs started before outbound batches)")
	f.IntVar(&readConcurrency, "read-concurrency", 0, "outbound files of a batch downloaded at once, 1-128")
	f.DurationVar(&batchHeartbeat, "batch-heartbeat", 0, "heartbeat timeout of outbound batches (5s-10m): how soon a batch on a dead worker resumes elsewhere")
	f.StringVar(&spmsID, "spms-id", "", "the partner's ACE id; when set, CRM changes are sent to ACE")
	f.IntVar(&perFile, "records-per-file", 0, "records per inbound file, 1-50")
	f.DurationVar(&resultTimeout, "result-timeout", 0, "how long to wait for ACE's result of an inbound file")
	return cmd
}

// configuredText is configure's report of the configuration the workflow now holds. The CRM
// URL is shown redacted (crm.Redact): the current rules keep credentials out of it, but a
// configuration from before them may still hold one.
func configuredText(st customersync.Status) string {
	if st.Config.Transport == customersync.TransportAPI {
		return fmt.Sprintf("configured %s/%s: Selling API catalog %s, poll every %s, CRM %s", st.Customer, st.Env,
			st.Env.Catalog(), st.Config.PollInterval, crm.Redact(st.Config.CRM))
	}
	return fmt.Sprintf("configured %s/%s: bucket %s, poll every %s, ack by %s, CRM %s", st.Customer, st.Env,
		st.Config.Bucket, st.Config.PollInterval, st.Config.AckMode, crm.Redact(st.Config.CRM))
}

func newOffboardCmd() *cobra.Command {
	cmd := customerCommand(&cobra.Command{
		Use:   "offboard --customer ID --env prod|beta",
		Short: "Stop syncing a customer: the cycle in flight finishes, then its workflow ends",
		Long: `Offboard a customer in one environment: the cycle in flight finishes, then the
workflow ends cleanly. Nothing in the bucket or the CRM is deleted. Enrolling the customer
again later starts a new workflow.`,
	}, func(cmd *cobra.Command, c *customersync.Client, customer string, env customersync.Env) error {
		st, err := c.Offboard(cmd.Context(), customer, env)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "offboarded %s/%s after %d cycles: %s\n", customer, env, st.State.Cycles, countsText(st.State.Totals))
		return nil
	})
	return cmd
}

func newCheckCmd() *cobra.Command {
	var (
		asJSON bool
	)
	cmd := customerCommand(&cobra.Command{
		Use:   "check --customer ID --env prod|beta [--json]",
		Short: "Walk the customer's access chain and name the first broken link",
		Long: `Walk the customer's access chain from a worker, in order: AssumeRole with the External
ID, S3 ListBucket, GetObject on an outbound file, KMS DescribeKey on ACE's key, and the CRM.
It stops at the first broken link and says what to fix. It never writes into ACE's folders.
Exits 1 when a link is broken.`,
	}, func(cmd *cobra.Command, c *customersync.Client, customer string, env customersync.Env) error {
		rep, err := c.Check(cmd.Context(), customer, env)
		if err != nil {
			return err
		}
		if asJSON {
			if err := writeJSON(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
		} else {
			printReport(cmd.OutOrStdout(), rep)
		}
		if !rep.OK() {
			return fmt.Errorf("%s/%s: %s", customer, env, rep.Diagnosis)
		}
		return nil
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printReport(out io.Writer, rep customersync.CheckReport) {
	for _, s := range rep.Steps {
		mark := "ok  "
		if !s.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(out, "%s  %-26s %s\n", mark, s.Name, s.Detail)
	}
	if rep.OK() {
		fmt.Fprintln(out, "every link works")
	}
}

func newRedriveCmd() *cobra.Command {
	var (
		file string
	)
	cmd := customerCommand(&cobra.Command{
		Use:   "redrive --customer ID --env prod|beta [--file KEY]",
		Short: "Retry quarantined files after a fix, and print what that cycle synced",
		Long: `Retry quarantined outbound files (one, with --file, or all) in a cycle that starts now,
and print its counts. Records already synced are not written twice; a file that still
cannot be synced goes back to quarantine with its reason.`,
	}, func(cmd *cobra.Command, c *customersync.Client, customer string, env customersync.Env) error {
		sum, err := c.Redrive(cmd.Context(), customer, env, file)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "re-drive cycle #%d of %s/%s: %s\n", sum.Number, customer, env, countsText(sum.Counts))
		if !sum.OK() {
			return fmt.Errorf("cycle #%d failed:\n  %s", sum.Number, strings.Join(sum.Errors, "\n  "))
		}
		return nil
	})
	cmd.Flags().StringVar(&file, "file", "", "the quarantined key to retry (default: all)")
	return cmd
}
