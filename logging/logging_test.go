package logging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/log"
)

func TestRedactingHidesSecrets(t *testing.T) {
	tests := []struct{ in, secret string }{
		{`{"message":"creds AKIAIOSFODNN7EXAMPLE used"}`, "AKIAIOSFODNN7EXAMPLE"},
		{`{"auth":"Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"}`, "eyJhbGciOiJIUzI1NiJ9"},
		{`{"secret":"wJalrXUtnFEMI/K7MDENG"}`, "wJalrXUtnFEMI"},
		{`{"message":"url?token=abcdef123456"}`, "abcdef123456"},
		{`{"externalId":"6b1f0f5e-9d1c"}`, "6b1f0f5e-9d1c"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if _, err := Redacting(&buf).Write([]byte(tt.in)); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), tt.secret) || !strings.Contains(buf.String(), "[REDACTED]") {
			t.Errorf("Redacting(%s) = %s", tt.in, buf.String())
		}
	}
	var buf bytes.Buffer
	_, _ = Redacting(&buf).Write([]byte(`{"customer":"acme","key":"opportunity-outbound/a.json"}`))
	if buf.String() != `{"customer":"acme","key":"opportunity-outbound/a.json"}` {
		t.Errorf("ordinary line changed: %s", buf.String())
	}
}

func TestTemporalLoggerAddsCustomerAndEnv(t *testing.T) {
	var buf bytes.Buffer
	l := Temporal(zerolog.New(&buf))
	l.(log.WithLogger).With("WorkflowID", "oppsync/acme/prod").Info("hello", "Attempt", 1)
	out := buf.String()
	for _, want := range []string{`"customer":"acme"`, `"env":"prod"`, `"Attempt":1`, `"message":"hello"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log line %s lacks %s", out, want)
		}
	}
}

// The pretty format written to a file (the demo's logs) has no ANSI colour codes.
func TestPrettyToFileHasNoColour(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log, err := New(f, FormatPretty, "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Warn().Str("customer", "acme").Msg("sync cycle failed")
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("\x1b[")) || !bytes.Contains(b, []byte("sync cycle failed")) {
		t.Fatalf("pretty log in a file: %q", b)
	}
}
