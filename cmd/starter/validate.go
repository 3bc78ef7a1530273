package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/ace/rules"
)

// validateFileReport is one file's entry in `starter validate --json`.
type validateFileReport struct {
	File string `json:"file"`
	// Report is the validation's outcome; nil when the file could not be validated (Error).
	*rules.InboundReport
	// Error says why the file could not be validated at all (unreadable, not JSON, no records array).
	Error string `json:"error,omitempty"`
}

func (r validateFileReport) problems() int {
	if r.Error != "" {
		return 1
	}
	return len(r.Problems)
}

func newValidateCmd() *cobra.Command {
	var (
		asJSON bool
		today  string
	)
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check inbound ACE files offline against AWS's field rules",
		Long: `validate checks opportunity and lead inbound files (the CRM → ACE direction) before they
are uploaded, against the field tables AWS publishes (embedded from ace/rules/fields): the envelope
(version, spmsId, records array), ACE's limits (JSON, at most 1 MB and 50 records), and per
record the mandatory and conditionally mandatory fields, standard values, multi-select and
array formats, lengths, ranges, dates not in the past, DUNS, AWS account ids, postal codes by
country, the national-security and marketing-activity rules, and which fields may be set on
creation.

A file's folder (opportunity-inbound/, lead-inbound/) or else its "opportunities" / "leads"
array says which object it holds. Problems are printed per file, record and field; the exit
status is 1 when any file has a problem.`,
		Example: `  starter validate opportunity-inbound/acme_20261127T101500.000Z.json
  starter validate --json --today 2026-11-27 out/*.json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("give at least one inbound file to validate")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := rules.Options{}
			if today != "" {
				t, err := time.Parse(time.DateOnly, today)
				if err != nil {
					return usageError{fmt.Errorf("--today %q is not a date in the form YYYY-MM-DD", today)}
				}
				opts.Today = t
			}
			reports := make([]validateFileReport, 0, len(args))
			for _, file := range args {
				reports = append(reports, validateFile(file, opts))
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(reports); err != nil {
					return err
				}
			} else if err := printValidateReports(out, reports); err != nil {
				return err
			}
			var problems, files int
			for _, r := range reports {
				if n := r.problems(); n > 0 {
					problems += n
					files++
				}
			}
			if problems > 0 {
				return fmt.Errorf("%d problem(s) in %d of %d file(s); fix them in the CRM before the files are uploaded",
					problems, files, len(reports))
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a machine-readable report (a JSON array, one entry per file)")
	cmd.Flags().StringVar(&today, "today", "", `date that "date cannot be in the past" compares with, YYYY-MM-DD (default: today, UTC)`)
	return cmd
}

// validateFile reads and validates one file. The file's path serves as its key, so a path
// under opportunity-inbound/ or lead-inbound/ names its object like an S3 key does.
func validateFile(file string, opts rules.Options) validateFileReport {
	r := validateFileReport{File: file}
	body, err := os.ReadFile(file)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	rep, err := rules.ValidateInboundFile(file, body, opts)
	if err != nil {
		var fe *ace.FileError
		if errors.As(err, &fe) {
			r.Error = fe.Reason
		} else {
			r.Error = err.Error()
		}
		return r
	}
	r.InboundReport = rep
	return r
}

func printValidateReports(w io.Writer, reports []validateFileReport) error {
	for _, r := range reports {
		var err error
		switch {
		case r.Error != "":
			_, err = fmt.Fprintf(w, "%s: cannot validate: %s\n", r.File, r.Error)
		case r.OK():
			_, err = fmt.Fprintf(w, "%s: OK (%s file, version %s, %d record(s))\n", r.File, r.Object, r.Version, r.Records)
		default:
			_, err = fmt.Fprintf(w, "%s: %d problem(s) (%s file, version %s, %d record(s))\n",
				r.File, len(r.Problems), r.Object, r.Version, r.Records)
			for _, p := range r.Problems {
				if err == nil {
					_, err = fmt.Fprintf(w, "  %s\n", problemLine(p))
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// problemLine formats a problem as "file | record 0 (id) | field [rule] message".
func problemLine(p rules.Problem) string {
	where := "file"
	if p.Record >= 0 {
		where = fmt.Sprintf("record %d", p.Record)
		if p.RecordID != "" {
			where += fmt.Sprintf(" (%s)", p.RecordID)
		}
	}
	if p.Field != "" {
		where += " " + p.Field
	}
	return fmt.Sprintf("%s: [%s] %s", where, p.Rule, p.Message)
}
