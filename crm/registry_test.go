package crm

import (
	"context"
	"errors"
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

// CheckURL refuses credentials given by value (any parameter Redact would hide, unless it
// is a NAME_env/_file/_secret reference) and a userinfo password, quoting the URL redacted,
// and runs the scheme's registered check.
func TestCheckURL(t *testing.T) {
	RegisterCheck("test-check", func(u *url.URL) error {
		if u.Query().Get("mode") == "bad" {
			return errors.New("mode=bad is not a mode")
		}
		return nil
	})
	ok := []string{
		"sqlite:///var/lib/oppsync/crm.db",
		"x://h?token_env=TOKEN&client_secret_file=/run/s&refresh_token_secret=arn:aws:secretsmanager:us-west-2:111122223333:secret:x",
		"x://h?client_id=abc&portal=42",
		"x://user@h/path",
		"test-check://h?mode=good",
		"unregistered://h?flag", // a connector without a check: Open judges the rest
	}
	for _, u := range ok {
		if err := CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", u, err)
		}
	}
	bad := map[string]string{
		"hubspot://api.hubapi.com?token=pat-hunter2":                      `gives token by value`,
		"salesforce://login?client_id=a&refresh_token=hunter2":            `gives refresh_token by value`,
		"x://h?api_key=hunter2&Password=hunter2":                          `gives Password, api_key by value`,
		"postgres://app:hunter2@db/crm":                                   "must not embed a password",
		"test-check://h?mode=bad":                                         "mode=bad is not a mode",
		"/var/lib/crm.db":                                                 "has no scheme",
		"x://h/%zz?token=hunter2":                                         "is not a URL",
		"test-check://h?mode=bad&token=hunter2":                           "mode=bad",
		"x://h?token_env=T&client_secret=hunter2&client_secret_env=OTHER": "client_secret by value",
	}
	for u, want := range bad {
		err := CheckURL(u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckURL(%q) = %v, want an error with %q", u, err, want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("CheckURL(%q) repeats the secret: %v", u, err)
		}
	}
}
