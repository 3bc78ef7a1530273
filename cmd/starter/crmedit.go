package main

// `starter crm create` and `starter crm edit`: the sales team's side of a CRM, for CRMs whose
// connector offers it (the embedded SQLite CRM does). They stand in for the CRM's own user
// interface in the demo and on a laptop; OppSync itself never creates or edits records this
// way, it only reads the changes they make and sends them to ACE.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

// crmEditor is the CRM-side API of a store: creating and editing records as the sales team
// does. The SQLite store implements it.
type crmEditor interface {
	Create(ctx context.Context, object ace.Object, partnerID string, fields json.RawMessage) (crm.Watermark, error)
	Edit(ctx context.Context, object ace.Object, id string, patch json.RawMessage) (crm.Watermark, error)
}

// openEditor opens the CRM at url and returns it as a crmEditor, with a function closing it.
func openEditor(ctx context.Context, url string, object string) (crmEditor, ace.Object, func(), error) {
	obj := ace.Object(object)
	if !obj.Valid() {
		return nil, "", nil, usageError{fmt.Errorf("object %q is not valid: use opportunity or lead", object)}
	}
	store, err := crm.Open(ctx, url)
	if err != nil {
		return nil, "", nil, fmt.Errorf("open CRM %s: %w", crm.Redact(url), err)
	}
	ed, ok := store.(crmEditor)
	if !ok {
		_ = store.Close()
		return nil, "", nil, fmt.Errorf("the CRM %s offers no create or edit API here: make the change in the CRM itself", crm.Redact(url))
	}
	return ed, obj, func() { _ = store.Close() }, nil
}

func newCRMCreateCmd() *cobra.Command {
	var url, object, partnerID, file string
	cmd := &cobra.Command{
		Use:   "create --crm URL --object opportunity|lead --partner-id ID --file RECORD.json",
		Short: "Create a record in the CRM as the sales team would (a CRM→ACE change)",
		Long: `Create a record in the CRM as the sales team would: an opportunity or lead ACE does not
know yet. The next sync cycle of a customer enrolled with --spms-id validates it and sends
it to ACE; ACE's result then writes its ACE id and sync status back onto the record.

RECORD.json is one record in ACE's inbound key names (a JSON object), or an inbound file
(payload version 2.0) holding exactly one record of the object. --partner-id is the CRM's
own id of the record (partnerCrmUniqueIdentifier / partnerCrmLeadId).`,
		Example: "  starter crm create --crm sqlite://$PWD/.dev/crm.db --object opportunity --partner-id CRM-OPP-1 --file opp.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := os.ReadFile(file)
			if err != nil {
				return usageError{err}
			}
			ed, obj, closeStore, err := openEditor(cmd.Context(), url, object)
			if err != nil {
				return err
			}
			defer closeStore()
			rec, err := oneRecord(body, obj)
			if err != nil {
				return usageError{fmt.Errorf("%s: %w", file, err)}
			}
			w, err := ed.Create(cmd.Context(), obj, partnerID, rec)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s %s in %s (change %d): the next sync cycle sends it to ACE\n",
				obj, partnerID, crm.Redact(url), w)
			return nil
		},
	}
	f := cmd.Flags()
	addCRMFlags(cmd, &url, &object)
	f.StringVar(&partnerID, "partner-id", "", "the CRM's own id of the new record (required)")
	f.StringVar(&file, "file", "", "JSON file of the record (required)")
	for _, req := range []string{"partner-id", "file"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}

// oneRecord returns body as one record: a JSON object, or the only record of object in an
// inbound file's envelope.
func oneRecord(body []byte, object ace.Object) (json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	key := "opportunities"
	if object == ace.ObjectLead {
		key = "leads"
	}
	list, ok := top[key]
	if !ok {
		return body, nil
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(list, &recs); err != nil || len(recs) != 1 {
		return nil, fmt.Errorf("an inbound file must hold exactly one record in %q to be created from", key)
	}
	return recs[0], nil
}

func newCRMEditCmd() *cobra.Command {
	var (
		url, object, id, patchFile string
		sets, setJSON              []string
	)
	cmd := &cobra.Command{
		Use:   "edit --crm URL --object opportunity|lead --id ID (--set KEY=VALUE... | --set-json KEY=JSON... | --patch-file F)",
		Short: "Edit a record in the CRM as the sales team would (a CRM→ACE change)",
		Long: `Edit a record in the CRM as the sales team would. --id is the record's partner id or,
for an AWS referral the CRM has no id for yet, its ACE id. The change is a JSON Merge Patch
(RFC 7386) in ACE's key names: --patch-file, then each --set KEY=VALUE (VALUE a string) and
--set-json KEY=JSON (a number, array, null to clear, ...). A change that changes nothing is
not sent; otherwise the next sync cycle validates it and sends it to ACE.

Accepting an AWS referral: --set partnerAcceptanceStatus=Accepted (opportunities) or
--set currentLeadStage=Accepted (leads); ACE then shares the referral's masked fields.`,
		Example: `  starter crm edit --crm sqlite://$PWD/.dev/crm.db --object opportunity --id O1234567 --set partnerAcceptanceStatus=Accepted
  starter crm edit --crm sqlite://$PWD/.dev/crm.db --object opportunity --id CRM-OPP-1 --set stage=Qualified --set-json expectedMonthlyAwsRevenue=8000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			patch, err := buildPatch(patchFile, sets, setJSON)
			if err != nil {
				return usageError{err}
			}
			ed, obj, closeStore, err := openEditor(cmd.Context(), url, object)
			if err != nil {
				return err
			}
			defer closeStore()
			w, err := ed.Edit(cmd.Context(), obj, id, patch)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "edited %s %s in %s (change %d): the next sync cycle sends it to ACE unless nothing changed\n",
				obj, id, crm.Redact(url), w)
			return nil
		},
	}
	f := cmd.Flags()
	addCRMFlags(cmd, &url, &object)
	f.StringVar(&id, "id", "", "the record's partner id, or its ACE id (required)")
	f.StringArrayVar(&sets, "set", nil, "KEY=VALUE: set field KEY to the string VALUE (repeatable)")
	f.StringArrayVar(&setJSON, "set-json", nil, "KEY=JSON: set field KEY to a JSON value, null clears it (repeatable)")
	f.StringVar(&patchFile, "patch-file", "", "JSON Merge Patch file, applied before --set and --set-json")
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

// buildPatch merges the patch file and the --set and --set-json flags into one JSON object.
func buildPatch(patchFile string, sets, setJSON []string) (json.RawMessage, error) {
	patch := map[string]json.RawMessage{}
	if patchFile != "" {
		b, err := os.ReadFile(patchFile)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &patch); err != nil || patch == nil {
			return nil, fmt.Errorf("%s: a patch must be a JSON object (%v)", patchFile, err)
		}
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want KEY=VALUE", kv)
		}
		b, _ := json.Marshal(v)
		patch[k] = b
	}
	for _, kv := range setJSON {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || !json.Valid([]byte(v)) {
			return nil, fmt.Errorf("--set-json %q: want KEY=JSON, e.g. amount=5000 or tags='[\"a\"]' or note=null", kv)
		}
		patch[k] = bytes.TrimSpace([]byte(v))
	}
	if len(patch) == 0 {
		return nil, errors.New("nothing to change: give --set, --set-json or --patch-file")
	}
	return json.Marshal(patch)
}
