// Package integration runs OppSync end to end on the real local stack: the Temporal dev
// server, versitygw (S3), local-kms and the fake STS, with real workers.
package integration

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/oppsync/oppsync/activities"
	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/crm"
	_ "github.com/oppsync/oppsync/crm/sqlite"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack"
	"github.com/oppsync/oppsync/workflows"
)

// env is the shared stack of the package's tests; each test uses its own customer, CRM
// database and (where it runs its own worker) task queue.
var env struct {
	stack    *devstack.Stack
	temporal client.Client
	binDir   string // worker and starter binaries built for this run
	s3Calls  atomic.Int64
	codec    *codec.Codec // nil when payload encryption is off
	skip     string
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		env.skip = "integration tests need the local stack; skipped with -short"
		return m.Run()
	}
	binDir := os.Getenv("OPPSYNC_BIN_DIR")
	if binDir == "" {
		binDir, _ = devstack.DefaultBinDir()
	}
	if err := devstack.ToolsPresent(binDir); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "integration: CI=true and the local stack is missing:", err)
			return 1
		}
		env.skip = err.Error()
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "oppsync-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Options{Dir: dir, BinDir: binDir,
		SearchAttributes: customersync.SearchAttributeTypes()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: start local stack:", err)
		return 1
	}
	defer stack.Stop()
	env.stack = stack
	// This process is a worker too: give it the worker's environment.
	for _, kv := range stack.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	env.binDir = filepath.Join(dir, "bin")
	for _, cmd := range [][]string{
		{"go", "build", "-o", filepath.Join(env.binDir, "oppsync-worker"), "../cmd/oppsync-worker"},
		{"go", "build", "-o", filepath.Join(env.binDir, "starter"), "../cmd/starter"},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "integration: %v: %v\n%s", cmd, err, out)
			return 1
		}
	}
	payloads, err := codec.NewFromEnv(ctx) // the stack's payload key, as worker and starter use it
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: payload codec:", err)
		return 1
	}
	copts := client.Options{HostPort: stack.TemporalAddress, Namespace: stack.Namespace, Logger: quietLogger{}}
	codec.Apply(&copts, payloads)
	env.codec = payloads
	env.temporal, err = client.Dial(copts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: dial temporal:", err)
		return 1
	}
	defer env.temporal.Close()
	return m.Run()
}

func requireStack(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
}

// countingTransport counts the HTTP requests the in-process workers send to S3, and keeps
// the writes (PUTs) so tests can check where OppSync wrote and with which headers.
type countingTransport struct{ next http.RoundTripper }

// s3Put is one PUT request the worker sent.
type s3Put struct {
	Path    string // /bucket/key (path-style)
	Query   string
	Header  http.Header
	Body    []byte
	Status  int
	Tagging bool
}

var puts struct {
	sync.Mutex
	list []s3Put
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	env.s3Calls.Add(1)
	var put *s3Put
	if r.Method == http.MethodPut {
		put = &s3Put{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Tagging: r.URL.Query().Has("tagging")}
		if r.Body != nil {
			body, err := io.ReadAll(r.Body)
			_ = r.Body.Close()
			if err != nil {
				return nil, err
			}
			put.Body = body
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	resp, err := c.next.RoundTrip(r)
	if put != nil {
		if resp != nil {
			put.Status = resp.StatusCode
		}
		puts.Lock()
		puts.list = append(puts.list, *put)
		puts.Unlock()
	}
	return resp, err
}

// putsTo returns the PUTs sent to a bucket so far.
func putsTo(bucket string) []s3Put {
	puts.Lock()
	defer puts.Unlock()
	var out []s3Put
	for _, p := range puts.list {
		if strings.HasPrefix(p.Path, "/"+bucket+"/") {
			out = append(out, p)
		}
	}
	return out
}

// startWorker runs an in-process worker on its own task queue until the test ends.
func startWorker(t *testing.T, taskQueue string) {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	acts := activities.New(activities.AWSOptions{
		Base: cfg, S3PathStyle: true,
		HTTPClient: &http.Client{Transport: countingTransport{http.DefaultTransport}},
	}, zerolog.New(io.Discard))
	w := worker.New(env.temporal, taskQueue, workflows.WorkerOptions())
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Stop()
		_ = acts.Close()
	})
}

// customer sets up an ACE-like bucket and role, and a CRM database, for one test.
type customer struct {
	*devstack.Customer
	crmURL    string
	taskQueue string
}

func newCustomer(t *testing.T, name string) *customer {
	t.Helper()
	c, err := env.stack.NewCustomer(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return &customer{Customer: c, crmURL: "sqlite://" + filepath.Join(t.TempDir(), "crm.db"), taskQueue: "oppsync-" + name}
}

func (c *customer) config() customersync.CustomerConfig {
	return customersync.CustomerConfig{
		Customer: c.Name, Env: customersync.EnvBeta, RoleARN: c.RoleARN, ExternalID: c.ExternalID,
		Bucket: c.Bucket, Region: env.stack.Region, KMSKeyARN: c.KMSKeyARN, CRM: c.crmURL,
		PollInterval: time.Hour, // cycles run on sync-now in tests
	}.WithDefaults()
}

func (c *customer) workflowID() string { return customersync.WorkflowID(c.Name, customersync.EnvBeta) }

// enroll starts the customer's workflow on its task queue (as `starter enroll` does) and
// waits for the first cycle.
func (c *customer) enroll(t *testing.T, cfg customersync.CustomerConfig) {
	t.Helper()
	c.start(t, cfg)
	c.awaitFirstCycle(t)
}

// start starts the customer's workflow (or reconfigures it) as `starter enroll` does.
func (c *customer) start(t *testing.T, cfg customersync.CustomerConfig) {
	t.Helper()
	if _, err := c.sync().Enroll(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = terminate(c.workflowID()) })
}

// sync is the typed client of the customer's workflow.
func (c *customer) sync() *customersync.Client {
	return customersync.NewClient(env.temporal, c.taskQueue)
}

// awaitFirstCycle waits for the cycle every enrollment runs at once, so that a test's
// sync-now runs a cycle of its own.
func (c *customer) awaitFirstCycle(t *testing.T) {
	t.Helper()
	eventually(t, time.Minute, "the first cycle", func() bool { return c.status(t).State.Cycles >= 1 })
}

// syncNow runs one cycle and returns its summary.
func (c *customer) syncNow(t *testing.T) customersync.CycleSummary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sum, err := c.sync().SyncNow(ctx, c.Name, customersync.EnvBeta)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// forceSend runs a cycle that sends every pending CRM change and returns its summary.
func (c *customer) forceSend(t *testing.T) customersync.CycleSummary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sum, err := c.sync().ForceSend(ctx, c.Name, customersync.EnvBeta)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func (c *customer) status(t *testing.T) customersync.Status {
	t.Helper()
	st, err := c.sync().Status(context.Background(), c.Name, customersync.EnvBeta)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// putAsACE writes an outbound file the way ACE does.
func (c *customer) putAsACE(t *testing.T, key string, body []byte) {
	t.Helper()
	if err := env.stack.PutAsACE(context.Background(), c.Bucket, key, body); err != nil {
		t.Fatal(err)
	}
}

// keys lists the bucket's keys under prefix (as ACE, seeing everything).
func (c *customer) keys(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := env.stack.RootS3(context.Background()).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{
		Bucket: aws.String(c.Bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		if k := aws.ToString(o.Key); !strings.HasSuffix(k, "/") {
			keys = append(keys, k)
		}
	}
	return keys
}

// records reads the customer's CRM.
func (c *customer) records(t *testing.T, object string) []crm.Record {
	t.Helper()
	store, err := crm.Open(context.Background(), c.crmURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	recs, err := store.List(context.Background(), aceObject(object))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// run runs a built binary (starter, worker) with the stack's environment.
func run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(env.binDir, bin), args...)
	cmd.Env = append(os.Environ(), env.stack.Env()...)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatal(err)
	}
	return string(out), err
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

func terminate(workflowID string) error {
	return env.temporal.TerminateWorkflow(context.Background(), workflowID, "", "test over")
}

// recordHistory writes the workflow's history as JSON to $OPPSYNC_RECORD_HISTORY_DIR/name
// when that variable is set: this is how workflows/testdata's replay histories are made
// (see the README's "Changing the workflow").
func recordHistory(t *testing.T, workflowID, name string) {
	t.Helper()
	dir := os.Getenv("OPPSYNC_RECORD_HISTORY_DIR")
	if dir == "" {
		return
	}
	hist := &historypb.History{Events: historyEvents(t, workflowID)}
	// Decode the payloads, as the codec server would for the UI, so the replay test needs no
	// KMS. These histories come from synthetic test data only.
	if env.codec != nil {
		err := proxy.VisitPayloads(context.Background(), hist, proxy.VisitPayloadsOptions{
			SkipSearchAttributes: true,
			Visitor: func(_ *proxy.VisitPayloadsContext, p []*commonpb.Payload) ([]*commonpb.Payload, error) {
				return env.codec.Decode(p)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// userS3 is an S3 client with the customer role's own permissions (the user behind the
// role), to check what the bucket policy allows.
func (c *customer) userS3(t *testing.T) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region: env.stack.Region, BaseEndpoint: aws.String(env.stack.S3Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
	})
}

// historyEvents is the events of a workflow's current run, in order.
func historyEvents(t *testing.T, workflowID string) []*historypb.HistoryEvent {
	t.Helper()
	it := env.temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}
