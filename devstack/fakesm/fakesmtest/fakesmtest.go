// Package fakesmtest starts the fake Secrets Manager for a test and points the process's
// default AWS configuration at it, as devstack.Env does for a worker.
package fakesmtest

import (
	"path/filepath"
	"testing"

	"github.com/oppsync/oppsync/devstack/fakesm"
)

// Use starts a fake Secrets Manager for account in region until the test ends, and sets
// the environment so that config.LoadDefaultConfig reaches it with dummy vendor keys and
// nothing from the developer's own AWS setup (profiles, files, instance metadata).
func Use(t testing.TB, region, account string) *fakesm.Server {
	t.Helper()
	srv := fakesm.New(region, account)
	endpoint, stop, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
		"AWS_ACCESS_KEY_ID":                "AKIAVENDOR",
		"AWS_SECRET_ACCESS_KEY":            "vendor-secret",
		"AWS_SESSION_TOKEN":                "",
		"AWS_PROFILE":                      "",
		"AWS_CONFIG_FILE":                  none,
		"AWS_SHARED_CREDENTIALS_FILE":      none,
		"AWS_EC2_METADATA_DISABLED":        "true",
		"AWS_MAX_ATTEMPTS":                 "1",
	} {
		t.Setenv(k, v)
	}
	return srv
}
