package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func validateTestdata(name string) string {
	return filepath.Join("..", "..", "ace", "rules", "testdata", "validate", name)
}

func runValidate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newValidateCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), err
}

func TestValidateCmdValid(t *testing.T) {
	out, err := runValidate(t, "--today", "2026-11-27", validateTestdata("opportunity-valid.json"),
		validateTestdata("lead-valid.json"))
	if err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if strings.Count(out, ": OK (") != 2 {
		t.Errorf("output:\n%s", out)
	}
}

func TestValidateCmdProblems(t *testing.T) {
	out, err := runValidate(t, "--today", "2026-11-27", validateTestdata("opportunity-valid.json"),
		validateTestdata("opportunity-picklist.json"), filepath.Join("..", "..", "ace", "testdata", "samples", "lead-inbound-update.json"))
	var ue usageError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "2 problem(s) in 2 of 3 file(s)") {
		t.Errorf("err = %v, want a plain error (exit 1) counting 2 problems", err)
	}
	for _, want := range []string{
		"opportunity-valid.json: OK",
		"opportunity-picklist.json: 1 problem(s)",
		`record 0 (CRM-OPP-0001) stage: [picklist] stage "Prospecting" is not a standard value; allowed: Prospect,`,
		"lead-inbound-update.json: 1 problem(s) (lead file, version 1.0, 1 record(s))",
		"record 0 (testLeadIdentifier) currentLeadStage: [mandatory]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestValidateCmdJSON(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.json")
	notJSON := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(notJSON, []byte("{oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runValidate(t, "--json", "--today", "2026-11-27", filepath.Join("..", "..", "ace", "testdata", "samples",
		"opportunity-inbound-create.json"), missing, notJSON)
	if err == nil {
		t.Error("no error for files with problems")
	}
	var reports []struct {
		File     string `json:"file"`
		Object   string `json:"object"`
		Error    string `json:"error"`
		Problems []struct {
			Record   int    `json:"record"`
			RecordID string `json:"recordId"`
			Field    string `json:"field"`
			Rule     string `json:"rule"`
			Message  string `json:"message"`
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(reports) != 3 {
		t.Fatalf("%d reports", len(reports))
	}
	var rules []string
	for _, p := range reports[0].Problems {
		rules = append(rules, p.Field+"/"+p.Rule)
		if p.RecordID != "TestIdentifier" || p.Record != 0 {
			t.Errorf("problem %+v", p)
		}
	}
	if got := strings.Join(rules, ","); got != "targetCloseDate/date-not-in-past,solutionOffered/solution-id" {
		t.Errorf("sample problems %s", got)
	}
	if reports[0].Object != "opportunity" {
		t.Errorf("object %q", reports[0].Object)
	}
	if reports[1].Error == "" || reports[2].Error == "" || !strings.Contains(reports[2].Error, "invalid JSON") {
		t.Errorf("errors = %q, %q", reports[1].Error, reports[2].Error)
	}
}

func TestValidateCmdUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--today", "27/11/2026", validateTestdata("opportunity-valid.json")},
		{"--bogus", validateTestdata("opportunity-valid.json")},
	} {
		_, err := runValidate(t, args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("validate %q: err = %v, want usageError (exit 2)", args, err)
		}
	}
	// Every testdata file breaking a rule fails validation with the rule named in its file name.
	files, _ := filepath.Glob(validateTestdata("*.json"))
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasSuffix(base, "-valid.json") {
			continue
		}
		rule := strings.TrimSuffix(base[strings.Index(base, "-")+1:], ".json")
		out, err := runValidate(t, "--today", "2026-11-27", f)
		if err == nil || !strings.Contains(out, "["+rule+"]") {
			t.Errorf("%s: err = %v, output lacks [%s]:\n%s", base, err, rule, out)
		}
	}
}

func TestValidateCmdRegistered(t *testing.T) {
	cmd, _, err := newRootCmd().Find([]string{"validate"})
	if err != nil || cmd.Name() != "validate" {
		t.Errorf("root has no validate command: %v", err)
	}
}
