package crm

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sqlite:///var/lib/oppsync/crm.db", "sqlite:///var/lib/oppsync/crm.db"},
		{"sqlite:data/crm.db", "sqlite:data/crm.db"},
		{"postgres://app:hunter2@db:5432/crm?sslmode=require", "postgres://app:REDACTED@db:5432/crm?sslmode=require"},
		{"postgres://app@db/crm", "postgres://app@db/crm"},
		{"hubspot://api?access_token=abc&portal=42&apiKey=k&client_secret=s&X-Amz-Security-Token=t&password=p",
			"hubspot://api?access_token=REDACTED&portal=42&apiKey=REDACTED&client_secret=REDACTED&X-Amz-Security-Token=REDACTED&password=REDACTED"},
		{"x://h/?Token=a&token=b&flag", "x://h/?Token=REDACTED&token=REDACTED&flag"},
		{"sqlite:rel.db?key=1", "sqlite:rel.db?key=REDACTED"},
		{"x://u:p@h/%zz", "x:REDACTED"},
		{"://u:p@h", "REDACTED"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRegisterPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"nil func":     func() { Register("test-nil", nil) },
		"empty scheme": func() { Register("", func(ctx context.Context, u *url.URL) (Store, error) { return nil, nil }) },
		"duplicate": func() {
			open := func(ctx context.Context, u *url.URL) (Store, error) { return nil, nil }
			Register("test-dup", open)
			Register("TEST-DUP", open)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Register did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestOpenUnknownSchemeWithoutConnectors(t *testing.T) {
	_, err := Open(context.Background(), "sqlite:///x.db")
	if err == nil || !strings.Contains(err.Error(), `unknown CRM scheme "sqlite"`) {
		t.Errorf("err = %v", err)
	}
}
