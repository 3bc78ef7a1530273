package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/devstack"
)

// `devstack demo --exit` runs the newcomer's demo end to end with the real binaries, as
// `make demo` does, and a second run on the same directory works too.
func TestDemoSyncsSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs the local stack; skipped with -short")
	}
	toolsDir, err := devstack.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := devstack.ToolsPresent(toolsDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}

	// The three binaries side by side, as `make build` leaves them in bin/.
	bin := t.TempDir()
	for name, pkg := range map[string]string{
		"oppsync-worker":       "github.com/oppsync/oppsync/cmd/oppsync-worker",
		"starter":              "github.com/oppsync/oppsync/cmd/starter",
		"devstack":             "github.com/oppsync/oppsync/cmd/devstack",
		"oppsync-codec-server": "github.com/oppsync/oppsync/cmd/oppsync-codec-server",
	} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	devstackBin := filepath.Join(bin, "devstack")

	out, err := exec.Command(devstackBin, "demo", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--exit") || !strings.Contains(string(out), "Ctrl-C") {
		t.Fatalf("demo --help: %v\n%s", err, out)
	}

	dir := filepath.Join(t.TempDir(), "demo")
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, devstackBin, "demo", "--dir", dir, "--exit")
		cmd.Env = append(os.Environ(), "OPPSYNC_BIN_DIR="+toolsDir)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("run %d: devstack demo --exit: %v\n%s", run, err, out)
		}
		for _, want := range []string{
			"OXXXXXX", "LXXXXXX", // the samples' ids, in the CRM export
			"Temporal Web UI  http://127.0.0.1:",
			"/namespaces/default/workflows/oppsync%2Fdemo%2Fbeta",
			"logs/worker.log",
			"set -a; . ",
			// The codec server, wired to the UI, with its token in a file.
			"--ui-codec-endpoint http://127.0.0.1:",
			"/login with the token in ",
			"Include cross-origin",
			// An AWS referral arrives masked.
			`customerEmail="Accept To View"`,
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("run %d: output lacks %q:\n%s", run, want, out)
			}
		}
		// CRM → ACE → result → CRM: the opportunity the demo created ends with an ACE id and
		// "accepted".
		if m := regexp.MustCompile(`(?m)^  (O\d{7})  DEMO-OPP-1 .*\baccepted\b`).FindStringSubmatch(string(out)); m == nil {
			t.Errorf("run %d: the created opportunity DEMO-OPP-1 does not end with an ACE id and \"accepted\" in the CRM export:\n%s", run, out)
		}
		if !strings.Contains(string(out), "OK: DEMO-OPP-1 went CRM → ACE → result → CRM: ACE id O") {
			t.Errorf("run %d: no inbound round trip reported:\n%s", run, out)
		}
		// The second customer, on the Selling API's contract server: enrolled with the
		// starter, an AWS referral accepted and unmasked, a CRM opportunity created there,
		// the server's call counts and URL printed.
		for _, want := range []string{
			"--transport api",
			"OK: the AWS referral engi-",
			`customerEmail="sam.rivera@contoso.example"`,
			"CreateOpportunity 1",
			"Selling API      http://127.0.0.1:",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("run %d: output lacks %q (the Selling API customer):\n%s", run, want, out)
			}
		}
		if m := regexp.MustCompile(`OK: DEMO-API-OPP-1 reached the Selling API as opportunity (O\d+) \(sync status accepted\)`).FindStringSubmatch(string(out)); m == nil {
			t.Errorf("run %d: the API customer's CRM opportunity did not reach the contract server with its id written back:\n%s", run, out)
		}
		if info, err := os.Stat(filepath.Join(dir, codecTokenFile)); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("run %d: %s missing or not 0600 (%v)", run, codecTokenFile, err)
		}
		if _, err := os.Stat(filepath.Join(dir, stackEnvFile)); !os.IsNotExist(err) {
			t.Errorf("run %d: %s left behind after the demo stopped (err %v)", run, stackEnvFile, err)
		}
		if info, err := os.Stat(filepath.Join(dir, "logs", "worker.log")); err != nil || info.Size() == 0 {
			t.Errorf("run %d: worker.log missing or empty (%v)", run, err)
		}
	}
}

// The demo refuses to empty a directory holding anything it did not make.
func TestPrepareDemoDirKeepsForeignFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareDemoDir(dir); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("prepareDemoDir over a foreign file: err = %v, want it to name notes.txt", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Fatal(err)
	}

	// An earlier demo's state is removed, and a second demo cannot take the directory.
	state := t.TempDir()
	for _, name := range []string{"temporal.db", "crm.db", "logs/worker.log"} {
		p := filepath.Join(state, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unlock, err := prepareDemoDir(state)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, name := range []string{"temporal.db", "crm.db", "logs"} {
		if _, err := os.Stat(filepath.Join(state, name)); !os.IsNotExist(err) {
			t.Errorf("%s survived (err %v)", name, err)
		}
	}
	if _, err := prepareDemoDir(state); err == nil || !strings.Contains(err.Error(), "another demo") {
		t.Fatalf("second prepareDemoDir while locked: err = %v, want another demo is running", err)
	}
}
