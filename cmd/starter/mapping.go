package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oppsync/oppsync/crm/mapping"
)

// newMappingCmd is `starter mapping show|validate`. A mapping with problems is an ordinary
// error (exit 1) listing every problem.
func newMappingCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Print and check CRM field mappings (ACE fields ⇄ Salesforce or HubSpot fields)",
	}
	var crmName, file string
	show := &cobra.Command{
		Use:   "show --crm salesforce|hubspot [--file F]",
		Short: "Print a mapping as YAML: the shipped default for a CRM, or a mapping file",
		Long: `Print a mapping as YAML. Without --file it prints the default OppSync ships for the CRM,
with comments naming the custom fields a CRM admin must create; start a customer's mapping
from it and pass the file in the CRM URL (mapping=/path/to/file.yaml).`,
		Example: "  starter mapping show --crm salesforce > acme.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file != "" {
				m, err := mapping.Load(file)
				if err != nil {
					return err
				}
				b, err := m.YAML()
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			b := mapping.DefaultYAML(crmName)
			if b == nil {
				return usageError{fmt.Errorf("no default mapping for CRM %q: use --crm %s", crmName, strings.Join(mapping.CRMs, " or --crm "))}
			}
			_, err := cmd.OutOrStdout().Write(b)
			return err
		},
	}
	show.Flags().StringVar(&crmName, "crm", "", "CRM whose default mapping to print: salesforce or hubspot")
	show.Flags().StringVar(&file, "file", "", "print this mapping file instead of the default")

	validate := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a mapping file against ACE's field tables and report every problem",
		Long: `Check a mapping file against ACE's field tables: ACE field names, value maps against ACE's
standard picklist values, the required settings (external id, raw record, ACE
lastModifiedDate, the CRM's modification stamp) and that every mandatory ACE field is
mapped. Every problem is printed; the exit code is 1 if there is any.`,
		Example: "  starter mapping validate /etc/oppsync/acme.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := mapping.Load(args[0])
			if err != nil {
				return err
			}
			if err := m.Validate(); err != nil {
				var ve *mapping.ValidationError
				if errors.As(err, &ve) {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid %s mapping (%d objects)\n", args[0], m.CRM, len(m.Objects))
			return nil
		},
	}
	cmd.AddCommand(show, validate)
	return cmd
}
