package workflows

import (
	"testing"
	"time"

	"github.com/oppsync/oppsync/customersync"
)

// validConfig is a customer configuration that passes Validate.
func validConfig() customersync.CustomerConfig {
	return customersync.CustomerConfig{
		Customer: "acme", Env: customersync.EnvProd,
		RoleARN:    "arn:aws:iam::111122223333:role/oppsync-ace",
		ExternalID: "6b1f0f5e-9d1c-4a53-9d3f-8f0f3c2a1b7e",
		Bucket:     "ace-apn-12345-prod-us-west-2",
		KMSKeyARN:  "arn:aws:kms:us-west-2:444455556666:key/0d2c6c1e-0000-4000-8000-000000000000",
		CRM:        "sqlite:///var/lib/oppsync/acme.db",
	}.WithDefaults()
}

func TestNextDelayJitterAndBackoff(t *testing.T) {
	w := &customerSync{cfg: validConfig()}
	seen := map[time.Duration]bool{}
	for i := range 50 {
		w.state.Cycles = i
		d := w.nextDelay()
		if d < 9*time.Minute || d > 11*time.Minute {
			t.Fatalf("delay %s outside 10m ±10%%", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct delays in 50 cycles: no jitter", len(seen))
	}
	w.state.Cycles = 0
	w.state.ConsecutiveFailures = 3
	if d := w.nextDelay(); d < 36*time.Minute || d > 44*time.Minute {
		t.Fatalf("after 3 failures delay = %s, want about 40m", d)
	}
	w.state.ConsecutiveFailures = 30
	if d := w.nextDelay(); d > 66*time.Minute {
		t.Fatalf("back-off %s is not capped at about an hour", d)
	}
}

// A workflow run keeps accepting the configuration it started with under the rules of its
// day (the replay tests hold histories with a 25-character External ID); new configurations
// meet today's rules.
