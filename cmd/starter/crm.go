package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

func newCRMCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "crm",
		Short: "Read a CRM store directly, or change it as the sales team would (the embedded SQLite CRM in particular)",
	}
	var (
		url, object string
		asJSON      bool
	)
	export := &cobra.Command{
		Use:   "export --crm URL --object opportunity|lead [--json]",
		Short: "Print the records a CRM store holds",
		Long: `Print the records a CRM store holds: a table of ids, names, stages and where each
record last came from, or with --json every record with all its ACE fields.`,
		Example: "  starter crm export --crm sqlite://$PWD/.dev/crm.db --object opportunity --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			obj := ace.Object(object)
			if !obj.Valid() {
				return usageError{fmt.Errorf("object %q is not valid: use opportunity or lead", object)}
			}
			store, err := crm.Open(cmd.Context(), url)
			if err != nil {
				return fmt.Errorf("open CRM %s: %w", crm.Redact(url), err)
			}
			defer func() { _ = store.Close() }()
			recs, err := store.List(cmd.Context(), obj)
			if err != nil {
				return fmt.Errorf("read %ss from %s: %w", obj, crm.Redact(url), err)
			}
			if asJSON {
				if recs == nil {
					recs = []crm.Record{}
				}
				return writeJSON(cmd.OutOrStdout(), recs)
			}
			if len(recs) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no %ss in %s\n", obj, crm.Redact(url))
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ACE ID\tPARTNER ID\tNAME\tSTAGE\tSTATUS\tSYNC\tLAST MODIFIED\tFROM FILE")
			for _, r := range recs {
				lm := ""
				if !r.LastModified.IsZero() {
					lm = r.LastModified.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ACEID, r.PartnerID, r.Name, r.Stage, r.Status, r.SyncStatus, lm, r.SourceKey)
			}
			return w.Flush()
		},
	}
	addCRMFlags(export, &url, &object)
	export.Flags().BoolVar(&asJSON, "json", false, "print every record with all its ACE fields as JSON")
	cmd.AddCommand(export, newCRMCreateCmd(), newCRMEditCmd())
	return cmd
}

// addCRMFlags adds the required --crm and --object flags of the crm subcommands.
func addCRMFlags(cmd *cobra.Command, url, object *string) {
	cmd.Flags().StringVar(url, "crm", "", "CRM connector URL, e.g. sqlite:///var/lib/oppsync/acme.db (required)")
	cmd.Flags().StringVar(object, "object", "", "opportunity or lead (required)")
	_ = cmd.MarkFlagRequired("crm")
	_ = cmd.MarkFlagRequired("object")
}
