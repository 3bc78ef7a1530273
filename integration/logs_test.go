package integration

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/crm/hubspot/hscontract"
	"github.com/oppsync/oppsync/crm/salesforce/sfcontract"
	"github.com/oppsync/oppsync/logging"
	"github.com/oppsync/oppsync/workflows"
)

// A CRM's validation message quotes the value it refused. The file is quarantined with
// that message (status, and the encrypted history, keep it), and no log line of the
// worker, neither the activities' own nor the Temporal SDK's "Activity error", carries
// it or the record's other values: the logs name the code, the field and the ACE id.
func TestCRMRefusalTextStaysOutOfLogs(t *testing.T) {
	requireStack(t)
	const email = "jane.doe@example.com"
	msg := "Primary contact " + email + " of Test LLC is already a contact of another account"
	for _, cn := range connectors {
		t.Run(cn.name, func(t *testing.T) {
			requireStack(t)
			fake := cn.start(t)
			var wantField string
			switch f := fake.(type) {
			case *sfFake:
				wantField = "ACE_Primary_Contact_Email__c"
				f.srv.Refuse("OXXXXXX", sfcontract.RecordFailure{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: msg, Fields: []string{wantField}})
			case *hsFake:
				wantField = "ace_primary_contact_email"
				invalid := `Property values were not valid: [{\"isValid\":false,\"message\":\"` + msg +
					`\",\"error\":\"INVALID_EMAIL\",\"name\":\"` + wantField + `\"}]`
				f.srv.Inject(hscontract.Fault{Path: "deals/batch/upsert", Status: 400,
					Body: `{"status":"error","message":"` + invalid + `","correlationId":"c0ffee00-0042","category":"VALIDATION_ERROR"}`})
			}
			c := newCustomer(t, "conn-logs-"+cn.name)
			c.crmURL = fake.url()
			logs := startLoggingWorker(t, c.taskQueue)
			c.enroll(t, c.config())
			const key = "opportunity-outbound/refused.json"
			c.putAsACE(t, key, sample(t, "opportunity-outbound.json"))
			if s := c.syncNow(t); s.Counts.Quarantined != 1 {
				t.Fatalf("cycle: %+v, errors %v; want the file quarantined", s.Counts, s.Errors)
			}
			var reason string
			for _, q := range c.status(t).State.Quarantine {
				if q.Key == key {
					reason = q.Reason
				}
			}
			if !strings.Contains(reason, email) {
				t.Fatalf("quarantine reason %q: want the CRM's own message", reason)
			}

			// A refusal of the whole call (not of one record) fails the batch: the SDK logs
			// "Activity error" with the CRM's error, which quotes the e-mail too.
			switch f := fake.(type) {
			case *sfFake:
				f.srv.FailNext(1, sfcontract.Failure{Status: 400, Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: msg})
			case *hsFake:
				f.srv.Inject(hscontract.Fault{Path: "deals/batch/read", Status: 400,
					Body: `{"status":"error","message":"` + msg + `","correlationId":"c0ffee00-0043","category":"VALIDATION_ERROR"}`})
			}
			c.putAsACE(t, "opportunity-outbound/refused-call.json", sample(t, "opportunity-outbound.json"))
			if s := c.syncNow(t); s.OK() {
				t.Fatalf("cycle: %+v; want the CRM's refusal of the call to fail the batch", s.Counts)
			}

			out := logs.String()
			if !strings.Contains(out, "Activity error") || !strings.Contains(out, "file quarantined") {
				t.Fatalf("the worker's log lacks the SDK's and the activity's lines (the test would prove nothing):\n%s", out)
			}
			for _, pii := range []string{email, "Test LLC", "test@test.com"} {
				if strings.Contains(out, pii) {
					t.Errorf("the worker's log quotes %q:\n%s", pii, out)
				}
			}
			for _, line := range strings.Split(out, "\n") {
				var wants []string
				switch {
				case strings.Contains(line, "file quarantined"):
					wants = []string{"OXXXXXX", wantField, key}
				case strings.Contains(line, "Activity error"):
					wants = []string{"SyncBatch", "VALIDATION"} // the activity and the CRM's code
				}
				for _, want := range wants {
					if !strings.Contains(line, want) {
						t.Errorf("log line lacks %q: %s", want, line)
					}
				}
			}
		})
	}
}

// lockedBuffer is a log sink safe for the worker's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLoggingWorker runs a worker on taskQueue whose logs, the activities' and the
// Temporal SDK's (through logging's adapter, as the worker binary wires them), go to the
// returned buffer.
func startLoggingWorker(t *testing.T, taskQueue string) *lockedBuffer {
	t.Helper()
	logs := &lockedBuffer{}
	log := zerolog.New(logging.Redacting(logs))
	copts := client.Options{HostPort: env.stack.TemporalAddress, Namespace: env.stack.Namespace,
		Logger: logging.Temporal(log.With().Str("component", "temporal").Logger())}
	if env.codec != nil {
		codec.Apply(&copts, env.codec)
	}
	tc, err := client.Dial(copts)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	acts := activities.New(activities.AWSOptions{Base: cfg, S3PathStyle: true}, log)
	w := worker.New(tc, taskQueue, workflows.WorkerOptions())
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Stop()
		_ = acts.Close()
		tc.Close()
	})
	return logs
}
