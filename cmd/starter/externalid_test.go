package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/oppsync/oppsync/customersync"
)

func TestNewExternalID(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		id := newExternalID()
		if len(id) != externalIDLength {
			t.Fatalf("newExternalID() = %q: %d characters, want %d", id, len(id), externalIDLength)
		}
		if err := customersync.CheckExternalID(id); err != nil {
			t.Fatalf("newExternalID() = %q is not accepted: %v", id, err)
		}
		if !regexp.MustCompile(customersync.ExternalIDPattern).MatchString(id) {
			t.Fatalf("newExternalID() = %q has characters outside AWS's set", id)
		}
		if seen[id] {
			t.Fatalf("newExternalID() repeated %q", id)
		}
		seen[id] = true
		for _, r := range id {
			counts[r]++
		}
	}
	// 86,000 characters over 62 symbols: about 1387 each. Every symbol appears, and none is
	// far off (a modulo bias without rejection would favour the first 8 symbols by ~25%).
	if len(counts) != len(base62) {
		t.Errorf("%d distinct characters, want %d", len(counts), len(base62))
	}
	for r, n := range counts {
		if n < 1100 || n > 1700 {
			t.Errorf("character %q appeared %d times, want about 1387", r, n)
		}
	}
}

func TestCheckExternalID(t *testing.T) {
	tests := []struct {
		id     string
		wantOK bool
	}{
		{strings.Repeat("a", customersync.MinExternalIDLength), true},
		{strings.Repeat("a", customersync.MinExternalIDLength-1), false},
		{strings.Repeat("a", customersync.MaxExternalIDLength+1), false},
		{"6b1f0f5e-9d1c-4a53-9d3f-8f0f3c2a1b7e", true}, // a UUID is 36 characters
		{"abc_+=,.@:/-" + strings.Repeat("x", 30), true},
		{strings.Repeat("a", 40) + " b", false},
		{strings.Repeat("a", 40) + "é", false},
	}
	for _, tt := range tests {
		if err := customersync.CheckExternalID(tt.id); (err == nil) != tt.wantOK {
			t.Errorf("workflows.CheckExternalID(%q) = %v, want ok=%v", tt.id, err, tt.wantOK)
		}
	}
}

func TestExternalIDNewCommand(t *testing.T) {
	out, _, err := runStarterCLI(t, "external-id", "new")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSuffix(out, "\n")
	if strings.Contains(id, "\n") || customersync.CheckExternalID(id) != nil || len(id) != externalIDLength {
		t.Errorf("external-id new printed %q, want one %d-character External ID", out, externalIDLength)
	}
	out2, _, _ := runStarterCLI(t, "external-id", "new")
	if out2 == out {
		t.Errorf("two runs printed the same External ID %q", out)
	}
	for _, args := range [][]string{{"external-id", "new", "extra"}, {"external-id", "new", "--length", "8"}} {
		if _, _, err := runStarterCLI(t, args...); !isUsageError(err) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}

// runStarterCLI runs the starter CLI in-process with args and returns its stdout and stderr.
func runStarterCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}
