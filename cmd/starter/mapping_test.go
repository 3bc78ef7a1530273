package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oppsync/oppsync/crm/mapping"
)

func runStarter(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestMappingShowAndValidate(t *testing.T) {
	for _, name := range []string{"salesforce", "hubspot"} {
		out, err := runStarter(t, "mapping", "show", "--crm", name)
		if err != nil {
			t.Fatalf("show --crm %s: %v", name, err)
		}
		path := filepath.Join(t.TempDir(), name+".yaml")
		if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := runStarter(t, "mapping", "validate", path); err != nil || !strings.Contains(out, "valid "+name+" mapping") {
			t.Errorf("validate the shown default: %q, %v", out, err)
		}
		if out, err := runStarter(t, "mapping", "show", "--crm", name, "--file", path); err != nil || !strings.Contains(out, "externalId:") {
			t.Errorf("show --file: %q, %v", out, err)
		}
	}
	if _, err := runStarter(t, "mapping", "show", "--crm", "dynamics"); err == nil {
		t.Error("show --crm dynamics succeeded")
	}
}

func TestMappingValidateReportsEveryProblem(t *testing.T) {
	m := mapping.Default("salesforce")
	om := m.Objects["opportunity"]
	om.Raw = ""
	om.Fields = om.Fields[1:]                       // drops partnerProjectTitle
	om.Fields[0].Values["Prospekt"] = "Prospecting" // not an ACE stage
	b, _ := m.YAML()
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runStarter(t, "mapping", "validate", path)
	if err == nil {
		t.Fatal("bad mapping validated")
	}
	if _, usage := err.(usageError); usage {
		t.Error("a bad mapping should exit 1, not 2")
	}
	for _, want := range []string{"raw is missing", "mandatory ACE field partnerProjectTitle", `"Prospekt"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
