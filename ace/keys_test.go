package ace

import "testing"

func TestObjectForKey(t *testing.T) {
	tests := []struct {
		key  string
		want Object
		ok   bool
	}{
		{"opportunity-outbound/a.json", ObjectOpportunity, true},
		{"opportunity-inbound/a.json", ObjectOpportunity, true},
		{"opportunity-inbound-processed-results/a_result.json", ObjectOpportunity, true},
		{"lead-outbound/a.json", ObjectLead, true},
		{"lead-inbound/a.json", ObjectLead, true},
		{"lead-inbound-processed-results/a_result.json", ObjectLead, true},
		{"opportunity-outbound-archive/a.json", "", false},
		{"a.json", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := ObjectForKey(tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ObjectForKey(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestResultKeyFor(t *testing.T) {
	tests := []struct {
		inbound, folder, want string
		name                  string // InboundNameForResult(want)
	}{
		{"opportunity-inbound/abc.json", FolderOpportunityResults, "opportunity-inbound-processed-results/abc_result.json", "abc.json"},
		{"lead-inbound/test-2023-05-28T01:21:20.json", FolderLeadResults, "lead-inbound-processed-results/test-2023-05-28T01:21:20_result.json", "test-2023-05-28T01:21:20.json"},
		{"opportunity-inbound/abc.json", "opportunity-inbound-results", "opportunity-inbound-results/abc_result.json", "abc.json"},
	}
	for _, tt := range tests {
		if got := ResultKeyFor(tt.inbound, tt.folder); got != tt.want {
			t.Errorf("ResultKeyFor(%q, %q) = %q, want %q", tt.inbound, tt.folder, got, tt.want)
		}
		if name, ok := InboundNameForResult(tt.want); name != tt.name || !ok {
			t.Errorf("InboundNameForResult(%q) = %q, %v; want %q, true", tt.want, name, ok, tt.name)
		}
	}
}

func TestInboundNameForResult(t *testing.T) {
	tests := []struct {
		key, want string
		ok        bool
	}{
		{"opportunity-inbound-processed-results/abc_result.json", "abc.json", true},
		{"abc_result.json", "abc.json", true},
		{"opportunity-inbound-processed-results/_result.json", "", false},
		{"opportunity-inbound-processed-results/abc.json", "", false},
		{"opportunity-inbound-processed-results/abc.error.json", "", false},
	}
	for _, tt := range tests {
		got, ok := InboundNameForResult(tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("InboundNameForResult(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIsErrorFile(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"opportunity-inbound/abc.error.json", true},
		{"abc.txt.error.json", true},
		{"opportunity-inbound/abc.json", false},
		{"opportunity-inbound/error.json.bak", false},
	}
	for _, tt := range tests {
		if got := IsErrorFile(tt.key); got != tt.want {
			t.Errorf("IsErrorFile(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestAnsweredName(t *testing.T) {
	const folder = FolderOpportunityResults
	tests := []struct {
		key, want string
		ok        bool
	}{
		{folder + "CRM-1-7_20261127T150405Z_result.json", "CRM-1-7_20261127T150405Z", true},
		{folder + "CRM-1-7_20261127T150405Z.error.json", "CRM-1-7_20261127T150405Z", true},
		{folder + "CRM-1-7_20261127T150405Z.json.error.json", "CRM-1-7_20261127T150405Z", true},
		{folder + ".json.error.json", "", false},
		{folder + "notes.txt", "", false},
		{folder + "someone.json", "", false},
		{folder + "_result.json", "", false},
		{folder + ".error.json", "", false},
		{folder + "sub/x_result.json", "", false}, // not directly in the folder
		{FolderOpportunityInbound + "x_result.json", "", false},
		{FolderOpportunityResultsFAQ + "x_result.json", "", false}, // another folder than the one asked
	}
	for _, tt := range tests {
		got, ok := AnsweredName(folder, tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("AnsweredName(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

// Only the results folders AWS documents, under both of its spellings, and only per object.
func TestIsResultsFolder(t *testing.T) {
	for _, f := range []string{FolderOpportunityResults, FolderOpportunityResultsFAQ} {
		if !IsResultsFolder(ObjectOpportunity, f) || IsResultsFolder(ObjectLead, f) {
			t.Errorf("%s: want an opportunity results folder only", f)
		}
	}
	for _, f := range []string{FolderLeadResults, FolderLeadResultsFAQ} {
		if !IsResultsFolder(ObjectLead, f) || IsResultsFolder(ObjectOpportunity, f) {
			t.Errorf("%s: want a lead results folder only", f)
		}
	}
	for _, f := range []string{FolderOpportunityInbound, FolderOpportunityOutbound, "opportunity-outbound-archive/",
		"opportunity-outbound/x/", "opportunity-inbound-processed-results", "opportunity-inbound-processed-results/x/", ""} {
		if IsResultsFolder(ObjectOpportunity, f) {
			t.Errorf("%q accepted as a results folder", f)
		}
	}
}
