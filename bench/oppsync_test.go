package bench

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/oppsync/oppsync/activities"
	_ "github.com/oppsync/oppsync/crm/sqlite"
	"github.com/oppsync/oppsync/workflows"
)

// oppsyncResult is what one OppSync run measured.
type oppsyncResult struct {
	concurrency int
	elapsed     time.Duration // the backlog's sync-now-wait, from call to return
	files       int
	records     int
	events      int   // events in the run's history (enrollment, first cycle, backlog, idle cycle)
	s3Backlog   int64 // S3 requests during the backlog cycle
	s3Idle      int64 // S3 requests during the idle cycle after it
	timing      historyTiming
}

func (r oppsyncResult) recordsPerSec() float64 { return float64(r.records) / r.elapsed.Seconds() }
func (r oppsyncResult) filesPerSec() float64   { return float64(r.files) / r.elapsed.Seconds() }

// runOppSync syncs a backlog of files×records through a customer workflow served by an
// in-process worker that reaches S3 at endpoint, and measures it.
//
// timer, when set, is called with true just before the backlog's sync-now-wait and with
// false just after it, so the caller can time that span alone.
func runOppSync(b *testing.B, s *benchStack, kind, endpoint string, concurrency, files, records int, timer func(bool)) oppsyncResult {
	b.Helper()
	ctx := context.Background()
	cust, err := s.NewCustomer(ctx, s.name(kind))
	if err != nil {
		b.Fatal(err)
	}
	taskQueue := "oppsync-bench-" + cust.Name

	// The worker, as worker/main.go builds it, plus the S3 endpoint override and a counter.
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		b.Fatal(err)
	}
	s3Client := newCountingClient()
	acts := activities.New(activities.AWSOptions{
		Base: awsCfg, S3PathStyle: true, S3Endpoint: endpoint, HTTPClient: s3Client,
		SessionName: "oppsync-bench",
	}, zerolog.New(io.Discard))
	w := worker.New(s.temporal, taskQueue, workflows.WorkerOptions())
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		w.Stop()
		_ = acts.Close()
	}()

	cfg := workflows.CustomerConfig{
		Customer: cust.Name, Env: workflows.EnvBeta, RoleARN: cust.RoleARN, ExternalID: cust.ExternalID,
		Bucket: cust.Bucket, Region: s.Region, KMSKeyARN: cust.KMSKeyARN,
		CRM:             "sqlite://" + filepath.Join(b.TempDir(), "crm.db"),
		PollInterval:    time.Hour, // cycles run on sync-now only
		FileConcurrency: concurrency,
	}.WithDefaults()
	wfID := workflows.WorkflowID(cust.Name, cfg.Env)
	enroll(b, s.temporal, wfID, taskQueue, cfg)
	defer func() { _ = s.temporal.TerminateWorkflow(ctx, wfID, "", "benchmark over") }()
	awaitFirstCycle(b, s.temporal, wfID)

	putBacklog(b, s.Stack, cust, files, records)

	before := s3Client.n.Load()
	if timer != nil {
		timer(true)
	}
	start := time.Now()
	sum := syncNow(b, s.temporal, wfID)
	elapsed := time.Since(start)
	if timer != nil {
		timer(false)
	}
	res := oppsyncResult{concurrency: concurrency, elapsed: elapsed, s3Backlog: s3Client.n.Load() - before}
	if !sum.OK() {
		b.Fatalf("OppSync (concurrency %d): backlog cycle failed: %v", concurrency, sum.Errors)
	}
	if sum.Counts.Files != files || sum.Counts.Records != files*records {
		b.Fatalf("OppSync (concurrency %d): backlog cycle synced %d files, %d records; want %d files, %d records",
			concurrency, sum.Counts.Files, sum.Counts.Records, files, files*records)
	}
	res.files, res.records = sum.Counts.Files, sum.Counts.Records

	before = s3Client.n.Load()
	idle := syncNow(b, s.temporal, wfID)
	res.s3Idle = s3Client.n.Load() - before
	if !idle.OK() || idle.Counts.Files != 0 {
		b.Fatalf("OppSync (concurrency %d): idle cycle after the backlog synced %d files, errors %v; want 0 files, no errors",
			concurrency, idle.Counts.Files, idle.Errors)
	}

	res.events, res.timing = readHistory(b, s.temporal, wfID)
	return res
}

// enroll starts the customer's workflow with update-with-start, as `starter enroll` does.
func enroll(b *testing.B, c client.Client, wfID, taskQueue string, cfg workflows.CustomerConfig) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID: wfID, TaskQueue: taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.WorkflowName, workflows.SyncInput{Config: cfg})
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateName: workflows.UpdateConfigure, Args: []any{cfg},
			WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		b.Fatalf("enroll %s: %v%s", wfID, err, workflowTaskFailure(c, wfID))
	}
}

// workflowTaskFailure returns the last workflow task failure in the workflow's history, to
// say why an update failed, or "" when there is none.
func workflowTaskFailure(c client.Client, wfID string) string {
	iter := c.GetWorkflowHistory(context.Background(), wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var last string
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			return ""
		}
		if a := e.GetWorkflowTaskFailedEventAttributes(); a != nil {
			last = "\nlast workflow task failure: " + a.GetFailure().GetMessage() + "\n" + a.GetFailure().GetStackTrace()
		}
	}
	return last
}

// awaitFirstCycle waits for the cycle every enrollment runs at once (on an empty bucket).
func awaitFirstCycle(b *testing.B, c client.Client, wfID string) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		v, err := c.QueryWorkflow(context.Background(), wfID, "", workflows.QueryStatus)
		if err != nil {
			b.Fatalf("query %s: %v", wfID, err)
		}
		var st workflows.Status
		if err := v.Get(&st); err != nil {
			b.Fatal(err)
		}
		if st.State.Cycles >= 1 && st.Phase == workflows.PhaseWaiting {
			if c := st.State.LastCycle; c != nil && !c.OK() {
				b.Fatalf("%s: first cycle failed: %v", wfID, c.Errors)
			}
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: first cycle not done after a minute (phase %s, cycles %d)", wfID, st.Phase, st.State.Cycles)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncNow runs one cycle with the sync-now-wait update and returns its summary.
func syncNow(b *testing.B, c client.Client, wfID string) workflows.CycleSummary {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: wfID, UpdateName: workflows.UpdateSyncNow, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		b.Fatalf("sync-now-wait on %s: %v", wfID, err)
	}
	var sum workflows.CycleSummary
	if err := h.Get(ctx, &sum); err != nil {
		b.Fatalf("sync-now-wait on %s: %v", wfID, err)
	}
	return sum
}

// historyTiming breaks the backlog cycle's time down from the workflow history.
type historyTiming struct {
	activities    int           // SyncFile activities completed
	scheduleStart time.Duration // mean wait of an activity task in the task queue
	startClose    time.Duration // mean activity run time (S3 + CRM work)
	workflowTasks int           // workflow tasks completed during the cycle
	wftLatency    time.Duration // mean workflow task latency, scheduled to completed
	// gap is the mean time from an activity's completion to the next activity scheduled
	// after it: the round trip through a workflow task that a slot waits to be refilled.
	gap time.Duration
}

// readHistory counts every event of the workflow's current run and times the backlog
// cycle, the span from the first SyncFile scheduled to the last one completed.
func readHistory(b *testing.B, c client.Client, wfID string) (int, historyTiming) {
	b.Helper()
	iter := c.GetWorkflowHistory(context.Background(), wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			b.Fatalf("read history of %s: %v", wfID, err)
		}
		events = append(events, e)
	}

	var t historyTiming
	scheduled := map[int64]time.Time{}
	started := map[int64]time.Time{}
	wftScheduled := map[int64]time.Time{}
	type span struct{ from, to time.Time }
	var wfts []span
	var schedules, completions []time.Time
	var sumSS, sumSC time.Duration
	for _, e := range events {
		at := e.GetEventTime().AsTime()
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "SyncFile" {
				scheduled[e.GetEventId()] = at
				schedules = append(schedules, at)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			// With a retry policy the server writes this event when the activity closes, but
			// stamps it with the time the worker picked the task up.
			id := e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()
			if s, ok := scheduled[id]; ok {
				started[id] = at
				sumSS += at.Sub(s)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if st, ok := started[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]; ok {
				t.activities++
				sumSC += at.Sub(st)
				completions = append(completions, at)
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			wftScheduled[e.GetEventId()] = at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			wfts = append(wfts, span{wftScheduled[e.GetWorkflowTaskCompletedEventAttributes().GetScheduledEventId()], at})
		}
	}
	if t.activities == 0 {
		return len(events), t
	}
	t.scheduleStart = sumSS / time.Duration(t.activities)
	t.startClose = sumSC / time.Duration(t.activities)
	first, last := schedules[0], completions[len(completions)-1]
	var sumWFT time.Duration
	for _, w := range wfts {
		if !w.to.Before(first) && !w.to.After(last.Add(time.Second)) {
			t.workflowTasks++
			sumWFT += w.to.Sub(w.from)
		}
	}
	if t.workflowTasks > 0 {
		t.wftLatency = sumWFT / time.Duration(t.workflowTasks)
	}
	// Pair each completion with the first schedule after it (both are in history order).
	var sumGap time.Duration
	var gaps int
	j := 0
	for _, done := range completions {
		for j < len(schedules) && schedules[j].Before(done) {
			j++
		}
		if j == len(schedules) {
			break
		}
		sumGap += schedules[j].Sub(done)
		gaps++
		j++
	}
	if gaps > 0 {
		t.gap = sumGap / time.Duration(gaps)
	}
	return len(events), t
}
