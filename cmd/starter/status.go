package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/customersync"
)

// customerFlags are the --customer and --env flags shared by per-customer commands.
type customerFlags struct {
	customer, env string
}

func (f *customerFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.customer, "customer", "", "customer id (required)")
	cmd.Flags().StringVar(&f.env, "env", "", "ACE environment: prod or beta (required)")
	_ = cmd.MarkFlagRequired("customer")
	_ = cmd.MarkFlagRequired("env")
}

func (f *customerFlags) parse() (string, customersync.Env, error) {
	env, err := customersync.ParseEnv(f.env)
	if err != nil {
		return "", "", usageError{err}
	}
	return f.customer, env, nil
}

func newStatusCmd() *cobra.Command {
	var (
		asJSON bool
	)
	cmd := customerCommand(&cobra.Command{
		Use:   "status --customer ID --env prod|beta [--json]",
		Short: "Show a customer's sync state: last cycle, totals, quarantined files and last error",
	}, func(cmd *cobra.Command, c *customersync.Client, customer string, env customersync.Env) error {
		st, err := c.Status(cmd.Context(), customer, env)
		if err != nil {
			return err
		}
		// Shown redacted, as everywhere: a configuration from before the current rules may
		// still hold a credential in its CRM URL.
		st.Config.CRM = crm.Redact(st.Config.CRM)
		if asJSON {
			return writeStatusJSON(cmd.OutOrStdout(), st)
		}
		printStatus(cmd.OutOrStdout(), st)
		return nil
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func printStatus(out io.Writer, st customersync.Status) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	state := string(st.Health)
	if n := st.State.ConsecutiveFailures; n > 0 {
		state += fmt.Sprintf(" (%d failed cycles in a row)", n)
	}
	fmt.Fprintf(w, "customer\t%s/%s\n", st.Customer, st.Env)
	fmt.Fprintf(w, "state\t%s; %s\n", state, st.Phase)
	if st.State.Paused {
		fmt.Fprintf(w, "paused\tsince %s: %s\n", st.State.PausedAt.UTC().Format(time.RFC3339), st.State.PauseReason)
	}
	if st.State.AccessBroken && st.State.BrokenLink != "" {
		fmt.Fprintf(w, "broken link\t%s\n", st.State.BrokenLink)
	}
	if st.State.Diagnosis != "" {
		fmt.Fprintf(w, "diagnosis\t%s\n", st.State.Diagnosis)
	}
	fmt.Fprintf(w, "bucket\t%s (%s), role %s\n", st.Config.Bucket, st.Config.Region, st.Config.RoleARN)
	fmt.Fprintf(w, "poll interval\t%s, ack by %s\n", st.Config.PollInterval, st.Config.AckMode)
	fmt.Fprintf(w, "crm\t%s\n", crm.Redact(st.Config.CRM))
	if !st.NextCycleAt.IsZero() {
		fmt.Fprintf(w, "next cycle\t%s\n", st.NextCycleAt.UTC().Format(time.RFC3339))
	}
	if lc := st.State.LastCycle; lc != nil {
		fmt.Fprintf(w, "last cycle\t#%d at %s: %s\n", lc.Number, lc.FinishedAt.UTC().Format(time.RFC3339), countsText(lc.Counts))
		if lc.UnmatchedResults > 0 {
			fmt.Fprintf(w, "results folders\t%d objects answer no file awaiting a result: left in place, never deleted\n", lc.UnmatchedResults)
		}
		if lc.RecordErrors > 0 {
			fmt.Fprintf(w, "record errors\t%d records' inbound outcomes could not be written (gone from the CRM, or an ACE id conflict): %s\n",
				lc.RecordErrors, strings.Join(lc.FailedRecords, ", "))
		}
	} else {
		fmt.Fprintf(w, "last cycle\tnone yet\n")
	}
	if !st.State.LastSuccessAt.IsZero() {
		fmt.Fprintf(w, "last success\t%s\n", st.State.LastSuccessAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "totals\t%s\n", countsText(st.State.Totals))
	if st.Config.SpmsID != "" {
		fmt.Fprintf(w, "inbound\tspmsId %s; %d files awaiting ACE's result; %d records the CRM holds as sent\n",
			st.Config.SpmsID, len(st.State.Pending), st.State.AwaitingInCRM)
	}
	if st.State.LastError != "" {
		fmt.Fprintf(w, "last error\t%s\n", st.State.LastError)
	}
	_ = w.Flush()
	if len(st.State.NoAnswer) > 0 {
		fmt.Fprintf(out, "no answer from ACE (%d files): their records are marked in the CRM\n", len(st.State.NoAnswer))
		for _, f := range st.State.NoAnswer {
			fmt.Fprintf(out, "  %s (sent %s, %d records)\n", f.Key, f.SentAt.UTC().Format(time.RFC3339), len(f.Records))
		}
	}
	if len(st.State.Quarantine) > 0 {
		fmt.Fprintf(out, "quarantined files (%d): left in the bucket, not retried until they change\n", len(st.State.Quarantine))
		for _, q := range st.State.Quarantine {
			fmt.Fprintf(out, "  %s (since %s)\n    %s\n", q.Key, q.At.UTC().Format(time.RFC3339), q.Reason)
		}
	}
}

func countsText(c customersync.Counts) string {
	s := fmt.Sprintf("%d files, %d records (%d new, %d updated, %d unchanged, %d stale)",
		c.Files, c.Records, c.Inserted, c.Updated, c.Unchanged, c.Stale)
	if c.Quarantined > 0 {
		s += fmt.Sprintf(", %d files quarantined", c.Quarantined)
	}
	if c.Sent+c.Invalid+c.Accepted+c.Rejected+c.NoAnswer > 0 {
		s += fmt.Sprintf("; to ACE: %d sent, %d failed validation, %d accepted, %d rejected, %d no answer",
			c.Sent, c.Invalid, c.Accepted, c.Rejected, c.NoAnswer)
	}
	return s
}

// writeStatusJSON prints st as JSON with its durations as the temporal CLI prints them
// ("10m0s"). The workflow's own JSON, in history, keeps them in nanoseconds, as every
// running workflow and worker reads them.
func writeStatusJSON(out io.Writer, st customersync.Status) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	if cfg, ok := doc["config"].(map[string]any); ok {
		for _, name := range durationFields(reflect.TypeFor[customersync.CustomerConfig]()) {
			if ns, ok := cfg[name].(float64); ok {
				cfg[name] = time.Duration(ns).String()
			}
		}
	}
	return writeJSON(out, doc)
}

// durationFields are the JSON names of t's time.Duration fields.
func durationFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if f.Type != reflect.TypeFor[time.Duration]() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List enrolled customers (running sync workflows)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dial()
			if err != nil {
				return err
			}
			defer c.Close()
			type row struct {
				Customer  string    `json:"customer"`
				Env       string    `json:"env"`
				Workflow  string    `json:"workflowId"`
				StartedAt time.Time `json:"startedAt"`
			}
			var rows []row
			query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", customersync.WorkflowName)
			var token []byte
			for {
				resp, err := c.ListWorkflow(cmd.Context(), &workflowservice.ListWorkflowExecutionsRequest{
					Query: query, NextPageToken: token, PageSize: 1000,
				})
				if err != nil {
					return fmt.Errorf("list customer workflows: %w", err)
				}
				for _, e := range resp.GetExecutions() {
					if e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
						continue
					}
					id := e.GetExecution().GetWorkflowId()
					customer, env, ok := customersync.ParseWorkflowID(id)
					if !ok {
						continue
					}
					rows = append(rows, row{customer, string(env), id, e.GetStartTime().AsTime()})
				}
				if token = resp.GetNextPageToken(); len(token) == 0 {
					break
				}
			}
			if asJSON {
				if rows == nil {
					rows = []row{}
				}
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no customers enrolled")
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "CUSTOMER\tENV\tWORKFLOW\tRUNNING SINCE")
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Customer, r.Env, r.Workflow, r.StartedAt.UTC().Format(time.RFC3339))
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}

func newSyncNowCmd() *cobra.Command {
	var (
		wait  bool
		force bool
	)
	cmd := customerCommand(&cobra.Command{
		Use:   "sync-now --customer ID --env prod|beta [--wait]",
		Short: "Start a sync cycle now instead of waiting for the poll interval",
		Long: `Start a sync cycle now. Without --wait it returns once the workflow has the request;
with --wait it returns when that cycle is done and prints what it synced. If a cycle is
running when the request arrives, --wait waits for the next one, which sees every file
present now.`,
	}, func(cmd *cobra.Command, c *customersync.Client, customer string, env customersync.Env) error {
		if force {
			sum, err := c.ForceSend(cmd.Context(), customer, env)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cycle #%d of %s/%s (forced send) done: %s\n", sum.Number, customer, env, countsText(sum.Counts))
			if !sum.OK() {
				return fmt.Errorf("cycle #%d of %s/%s failed:\n  %s", sum.Number, customer, env, strings.Join(sum.Errors, "\n  "))
			}
			return nil
		}
		if !wait {
			if err := c.RequestSync(cmd.Context(), customer, env); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sync requested for %s/%s\n", customer, env)
			return nil
		}
		sum, err := c.SyncNow(cmd.Context(), customer, env)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "cycle #%d of %s/%s done in %s: %s\n", sum.Number, customer, env,
			sum.FinishedAt.Sub(sum.StartedAt).Round(time.Millisecond), countsText(sum.Counts))
		if !sum.OK() {
			return fmt.Errorf("cycle #%d of %s/%s failed:\n  %s", sum.Number, customer, env, strings.Join(sum.Errors, "\n  "))
		}
		return nil
	})
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the cycle to finish and print its counts")
	cmd.Flags().BoolVar(&force, "force", false, "also send CRM changes of records sent less than an hour ago (implies --wait; use sparingly: AWS asks for one document per record per hour)")
	return cmd
}

// customerCommand completes a command that acts on one enrolled customer: it adds the
// required --customer and --env flags, checks them, and calls run with them.
func customerCommand(cmd *cobra.Command, run func(cmd *cobra.Command, c *customersync.Client, customer string, env customersync.Env) error,
	before ...func(cmd *cobra.Command, customer string, env customersync.Env) error) *cobra.Command {
	var who customerFlags
	who.add(cmd)
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		customer, env, err := who.parse()
		if err != nil {
			return err
		}
		for _, check := range before {
			if err := check(cmd, customer, env); err != nil {
				return err
			}
		}
		c, done, err := syncClient()
		if err != nil {
			return err
		}
		defer done()
		return run(cmd, c, customer, env)
	}
	return cmd
}
