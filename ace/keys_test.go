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
