package metrics_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/oppsync/oppsync/activities"
	_ "github.com/oppsync/oppsync/crm/sqlite"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack"
	"github.com/oppsync/oppsync/metrics"
	"github.com/oppsync/oppsync/workflows"
)

// startStack starts the local stack; a missing tool skips the test, except under CI=true.
func startStack(t *testing.T) *devstack.Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the local stack; skipped with -short")
	}
	binDir, err := devstack.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := devstack.ToolsPresent(binDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Options{Dir: t.TempDir(), BinDir: binDir,
		SearchAttributes: customersync.SearchAttributeTypes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Stop)
	for _, kv := range stack.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return stack
}

// The worker's endpoints on a real Temporal dev server: /healthz follows the worker and
// the server, /metrics has the SDK's metrics and OppSync's after a customer synced a file.
func TestEndpointsOnLocalStack(t *testing.T) {
	stack := startStack(t)
	ctx := context.Background()
	mh := metrics.New(nil)
	c, err := client.Dial(client.Options{HostPort: stack.TemporalAddress, Namespace: stack.Namespace,
		MetricsHandler: mh, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	health := metrics.NewHealth(c)
	srv, err := metrics.Listen("127.0.0.1:0", metrics.Mux(mh.Registry(), health))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve() }()
	defer func() { _ = srv.Shutdown(ctx) }()
	base := "http://" + srv.Addr()

	if code, body := httpGet(t, base+"/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not started") {
		t.Errorf("/healthz before the worker started = %d %q, want 503 not started", code, body)
	}

	// A worker as cmd/oppsync-worker/main.go builds it, on its own task queue.
	cust, err := stack.NewCustomer(ctx, "acme-observed")
	if err != nil {
		t.Fatal(err)
	}
	taskQueue := "oppsync-metrics-test"
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acts := activities.New(activities.AWSOptions{Base: awsCfg, S3PathStyle: true}, zerolog.New(io.Discard))
	defer func() { _ = acts.Close() }()
	w := worker.New(c, taskQueue, worker.Options{})
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	health.SetStarted()
	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the worker started = %d %q, want 200", code, body)
	}

	cfg := customersync.CustomerConfig{
		Customer: cust.Name, Env: customersync.EnvBeta, RoleARN: cust.RoleARN, ExternalID: cust.ExternalID,
		Bucket: cust.Bucket, Region: stack.Region, KMSKeyARN: cust.KMSKeyARN,
		CRM: "sqlite://" + filepath.Join(t.TempDir(), "crm.db"), PollInterval: time.Hour,
	}.WithDefaults()
	wfID := customersync.WorkflowID(cust.Name, cfg.Env)
	sync := customersync.NewClient(c, taskQueue)
	if _, err := sync.Enroll(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.TerminateWorkflow(ctx, wfID, "", "test over") }()
	awaitFirstCycle(t, sync, cfg)

	body, err := os.ReadFile(filepath.Join("..", "ace", "testdata", "samples", "opportunity-outbound.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := stack.PutAsACE(ctx, cust.Bucket, "opportunity-outbound/metrics.json", body); err != nil {
		t.Fatal(err)
	}
	if err := stack.PutAsACE(ctx, cust.Bucket, "lead-outbound/broken.json", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	sum, err := sync.SyncNow(ctx, cfg.Customer, cfg.Env)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts.Files != 2 || sum.Counts.Quarantined != 1 { // Files counts the quarantined file too
		t.Fatalf("cycle synced %d files and quarantined %d, want 2 and 1 (errors %v)", sum.Counts.Files, sum.Counts.Quarantined, sum.Errors)
	}

	// One worker counts customers by state through visibility.
	counter := &metrics.CustomerCounter{Client: c, WorkflowType: customersync.WorkflowName,
		StateAttribute: customersync.SearchState.GetName(), Metrics: mh,
		States: []string{string(customersync.HealthHealthy), string(customersync.HealthPaused),
			string(customersync.HealthNeedsAttention), string(customersync.HealthBackingOff)}}
	var out string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := counter.Count(ctx); err != nil {
			t.Fatal(err)
		}
		_, out = httpGet(t, base+"/metrics")
		if strings.Contains(out, `oppsync_customers{state="healthy"} 1`+"\n") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{
		`oppsync_customers{state="healthy"} 1`,
		`oppsync_customers{state="paused"} 0`,
		"temporal_workflow_task_execution_latency_seconds_bucket{",
		"temporal_activity_execution_latency_seconds_count{",
		"temporal_workflow_task_queue_poll_succeed_total{",
		"temporal_request_total{",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// OppSync's counters carry the SDK's activity tags (task queue, activity and workflow
	// type: no customer) and their own.
	for _, want := range []struct{ name, labels, value string }{
		{"oppsync_files_synced_total", `object="opportunity"`, "1"},
		{"oppsync_records_synced_total", `object="opportunity",result="inserted"`, "1"},
		{"oppsync_records_synced_total", `object="opportunity",result="updated"`, "0"},
		{"oppsync_files_quarantined_total", `object="lead"`, "1"},
	} {
		if !hasSeries(out, want.name, want.labels, want.value) {
			t.Errorf("/metrics lacks %s{...%s...} %s", want.name, want.labels, want.value)
		}
	}
	if strings.Contains(out, cust.Name) {
		t.Errorf("/metrics names the customer %s: no metric may carry a customer label", cust.Name)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", out)
	}

	// Temporal gone: /healthz says so within the check's timeout.
	stack.Stop()
	began := time.Now()
	code, msg := httpGet(t, base+"/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, "Temporal health check failed") {
		t.Errorf("/healthz with Temporal stopped = %d %q, want 503 naming the health check", code, msg)
	}
	if d := time.Since(began); d > metrics.HealthCheckTimeout+time.Second {
		t.Errorf("/healthz with Temporal stopped took %s, want at most about %s", d, metrics.HealthCheckTimeout)
	}
}

// awaitFirstCycle waits for the cycle every enrollment runs at once, on the empty bucket.
func awaitFirstCycle(t *testing.T, sync *customersync.Client, cfg customersync.CustomerConfig) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := sync.Status(context.Background(), cfg.Customer, cfg.Env)
		if err != nil {
			t.Fatal(err)
		}
		if st.State.Cycles >= 1 && st.Phase == customersync.PhaseWaiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: first cycle not done after a minute (phase %s)", customersync.WorkflowID(cfg.Customer, cfg.Env), st.Phase)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasSeries reports whether the exposition out has a series of name whose labels include
// labels (consecutive, in sorted order) with the value.
func hasSeries(out, name, labels, value string) bool {
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(line, name+"{")
		if ok && strings.Contains(rest, labels) && strings.HasSuffix(strings.TrimSpace(rest), "} "+value) {
			return true
		}
	}
	return false
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
