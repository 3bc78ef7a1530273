package workflows

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/oppsync/oppsync/customersync"
)

// midCycleHistory is the recorded history of TestMidCycleMessagesOnTemporal.
const midCycleHistory = "snapshot-mid-cycle-messages.json"

// On a real Temporal server (the dev server of bin/temporal), a configure and a check land
// while a cycle's access check runs: the cycle ends on the configuration it started with,
// the operator's check runs after it (on the new configuration) and answers, and the next
// cycle starts at once on the new configuration. The activities are stubs registered under the real names (what they
// do is not the point: the commands the workflow issues are). With
// OPPSYNC_RECORD_HISTORY_DIR set, the history is written there as midCycleHistory, the way
// testdata/histories/snapshot-mid-cycle-messages.json was made.
func TestMidCycleMessagesOnTemporal(t *testing.T) {
	c := startTemporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	old := validConfig()
	old.Customer = "midcycle"
	old.SpmsID = "12345"
	old.PollInterval = time.Hour
	next := old
	next.Bucket = "ace-apn-67890-prod-us-west-2"
	next.CRM = "sqlite:///var/lib/oppsync/midcycle-new.db"

	var mu sync.Mutex
	var calls []seenConfig
	running, maxAtOnce := 0, 0
	enter := func() {
		mu.Lock()
		defer mu.Unlock()
		running++
		maxAtOnce = max(maxAtOnce, running)
	}
	leave := func(c seenConfig) {
		mu.Lock()
		defer mu.Unlock()
		running--
		calls = append(calls, c)
	}
	firstCheck, release := make(chan struct{}), make(chan struct{})
	checks := 0
	w := worker.New(c, "midcycle", worker.Options{})
	w.RegisterWorkflowWithOptions(CustomerSync, workflow.RegisterOptions{Name: customersync.WorkflowName})
	register := func(name string, fn any) { w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	register("Check", func(_ context.Context, in customersync.CheckInput) (customersync.CheckReport, error) {
		enter()
		mu.Lock()
		checks++
		first := checks == 1
		mu.Unlock()
		if first {
			close(firstCheck)
			<-release
		}
		leave(seenConfig{activity: "Check", bucket: in.Target.Bucket, crm: in.CRM})
		return customersync.CheckReport{}, nil
	})
	register("Poll", func(_ context.Context, in customersync.PollInput) (customersync.PollResult, error) {
		enter()
		leave(seenConfig{activity: "Poll", bucket: in.List.Target.Bucket, crm: in.Inbound.CRM})
		return customersync.PollResult{ListResult: customersync.ListResult{
			Objects: []customersync.ObjectRef{{Key: "opportunity-outbound/1.json", ETag: `"e1"`, Size: 10}}}, Changes: true}, nil
	})
	register("SyncBatch", func(_ context.Context, in customersync.SyncBatchInput) (customersync.SyncBatchResult, error) {
		enter()
		leave(seenConfig{activity: "SyncBatch", bucket: in.Target.Bucket, crm: in.CRM})
		return customersync.SyncBatchResult{Files: 1, Records: 1, Inserted: 1}, nil
	})
	register("SendChanges", func(_ context.Context, in customersync.SendInput) (customersync.SendResult, error) {
		enter()
		leave(seenConfig{activity: "SendChanges", bucket: in.Target.Bucket, crm: in.CRM})
		return customersync.SendResult{}, nil
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	cs := customersync.NewClient(c, "midcycle")
	if _, err := cs.Enroll(ctx, old); err != nil {
		t.Fatal(err)
	}
	<-firstCheck // the first cycle is checking access
	if _, err := cs.Configure(ctx, next); err != nil {
		t.Fatal(err)
	}
	checked := make(chan error, 1)
	go func() {
		rep, err := cs.Check(ctx, old.Customer, old.Env)
		if err == nil && !rep.OK() {
			err = errors.New("the check found a broken link: " + rep.Diagnosis)
		}
		checked <- err
	}()
	// The check's update is accepted (its handler then waits for the cycle) before the
	// cycle's access check may end.
	for accepted(ctx, t, c, customersync.WorkflowID(old.Customer, old.Env)) < 3 { // enroll, configure, check
		time.Sleep(50 * time.Millisecond)
	}
	close(release)
	if err := <-checked; err != nil {
		t.Fatalf("check sent mid-cycle: %v", err)
	}
	// The second cycle, on the new configuration, starts at once; sync-now waits for it.
	if _, err := cs.SyncNow(ctx, old.Customer, old.Env); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Offboard(ctx, old.Customer, old.Env); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if maxAtOnce != 1 {
		t.Errorf("%d activities ran at once; calls: %+v", maxAtOnce, calls)
	}
	// In order: the first cycle (check, poll, batch, send) on the old configuration, then
	// the operator's check, on the configuration current when it runs (the new one), which
	// stands for the next cycle's, then cycles on the new configuration.
	want := []string{"Check", "Poll", "SyncBatch", "SendChanges", "Check", "Poll", "SyncBatch", "SendChanges"}
	if len(calls) < len(want) {
		t.Fatalf("calls %+v: want the first cycle, the operator's check, and more cycles", calls)
	}
	for i, c := range calls {
		cfg := next
		if i < 4 {
			cfg = old
		}
		if i < len(want) && c.activity != want[i] {
			t.Errorf("call %d is %s, want %s; calls %+v", i, c.activity, want[i], calls)
		}
		if c.bucket != cfg.Bucket || c.crm != cfg.CRM {
			t.Errorf("call %d (%s) got bucket %s and CRM %s, want %s and %s", i, c.activity, c.bucket, c.crm, cfg.Bucket, cfg.CRM)
		}
	}
	recordTo(t, c, customersync.WorkflowID(old.Customer, old.Env), midCycleHistory)
}

// accepted counts the updates the workflow accepted so far.
func accepted(ctx context.Context, t *testing.T, c client.Client, id string) int {
	t.Helper()
	n := 0
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED {
			n++
		}
	}
	return n
}

// recordTo writes the workflow's history as JSON to $OPPSYNC_RECORD_HISTORY_DIR/name when
// that variable is set. The payloads are plain JSON (this test's client has no codec).
func recordTo(t *testing.T, c client.Client, id, name string) {
	t.Helper()
	dir := os.Getenv("OPPSYNC_RECORD_HISTORY_DIR")
	if dir == "" {
		return
	}
	hist := &historypb.History{}
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// startTemporal starts bin/temporal's dev server (in memory, OppSync's search attributes
// registered) and returns a client of it. Without the binary it skips, under CI=true it
// fails.
func startTemporal(t *testing.T) client.Client {
	t.Helper()
	bin := filepath.Join(os.Getenv("OPPSYNC_BIN_DIR"), "temporal")
	if os.Getenv("OPPSYNC_BIN_DIR") == "" {
		bin = filepath.Join("..", "bin", "temporal")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the Temporal CLI is missing (%v): make tools builds it into bin/", err)
		}
		t.Skipf("the Temporal CLI is missing (%v): make tools builds it into bin/ (OPPSYNC_BIN_DIR names another)", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(port), "--headless", "--log-level", "warn"}
	names := make([]string, 0)
	for name, typ := range customersync.SearchAttributeTypes() {
		args = append(args, "--search-attribute", name+"="+typ)
		names = append(names, name)
	}
	log, err := os.Create(filepath.Join(t.TempDir(), "temporal.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		c, err := client.Dial(client.Options{HostPort: l.Addr().String(), Logger: quietLog{}})
		if err == nil {
			sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
			if err == nil && registered(sa.GetCustomAttributes(), names) {
				t.Cleanup(c.Close)
				return c
			}
			c.Close()
		}
		if ctx.Err() != nil {
			t.Fatalf("the Temporal dev server did not come up within a minute (log %s): %v", log.Name(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func registered(attrs map[string]enumspb.IndexedValueType, names []string) bool {
	for _, n := range names {
		if _, ok := attrs[n]; !ok {
			return false
		}
	}
	return true
}

type quietLog struct{}

func (quietLog) Debug(string, ...any) {}
func (quietLog) Info(string, ...any)  {}
func (quietLog) Warn(string, ...any)  {}
func (quietLog) Error(string, ...any) {}
