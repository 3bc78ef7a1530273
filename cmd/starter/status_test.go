package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/customersync"
)

// status --json prints durations as the temporal CLI does ("10m0s"), not as nanoseconds.
func TestStatusJSONDurations(t *testing.T) {
	st := customersync.Status{Customer: "acme", Env: customersync.EnvProd, Config: customersync.CustomerConfig{
		PollInterval: 10 * time.Minute, ResultTimeout: 2 * time.Hour, ResultPollInterval: 5 * time.Second}}
	var out bytes.Buffer
	if err := writeStatusJSON(&out, st); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"pollInterval": "10m0s", "resultTimeout": "2h0m0s", "resultPollInterval": "5s"} {
		if got := doc.Config[name]; got != want {
			t.Errorf("config.%s = %v, want %q", name, got, want)
		}
	}
	if strings.Contains(out.String(), "600000000000") {
		t.Errorf("nanoseconds in the output:\n%s", out.String())
	}
}

// What status --json prints reads back as a customersync.Status (scripts, the demo).
func TestStatusJSONReadsBack(t *testing.T) {
	st := customersync.Status{Customer: "acme", Health: customersync.HealthHealthy, Config: customersync.CustomerConfig{
		Customer: "acme", PollInterval: 10 * time.Minute, ResultTimeout: 2 * time.Hour}}
	var out bytes.Buffer
	if err := writeStatusJSON(&out, st); err != nil {
		t.Fatal(err)
	}
	var back customersync.Status
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Config != st.Config || back.Health != st.Health {
		t.Fatalf("read back %+v, want %+v", back.Config, st.Config)
	}
	// History's form, nanoseconds, still reads.
	var cfg customersync.CustomerConfig
	if err := json.Unmarshal([]byte(`{"customer":"acme","pollInterval":600000000000}`), &cfg); err != nil || cfg.PollInterval != 10*time.Minute || cfg.Customer != "acme" {
		t.Fatalf("nanoseconds: %+v, %v", cfg, err)
	}
}
