package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/oppsync/oppsync/metrics"
)

func TestHandlerExportsCountersGaugesAndTimers(t *testing.T) {
	h := metrics.New(nil)
	sdk := h.WithTags(map[string]string{"namespace": "default", "task_queue": "oppsync"})
	sdk.Counter("temporal_request").Inc(2)
	sdk.Counter("temporal_request").Inc(1)
	sdk.Counter("temporal_request").Inc(-5) // a counter never goes down
	sdk.WithTags(map[string]string{"worker_type": "WorkflowWorker"}).Gauge("temporal_worker_task_slots_available").Update(7)
	sdk.Timer("temporal_workflow_task_execution_latency").Record(30 * time.Millisecond)
	metrics.FileSynced(h, "opportunity", metrics.RecordCounts{Inserted: 3, Updated: 1})
	metrics.FileQuarantined(h, "lead")
	metrics.CycleFinished(h, time.Unix(0, 0), time.Unix(2, 0), true)

	want := `
# HELP temporal_request_total Temporal SDK metric temporal_request_total (see docs.temporal.io/references/sdk-metrics).
# TYPE temporal_request_total counter
temporal_request_total{namespace="default",task_queue="oppsync"} 3
# HELP temporal_worker_task_slots_available Temporal SDK metric temporal_worker_task_slots_available (see docs.temporal.io/references/sdk-metrics).
# TYPE temporal_worker_task_slots_available gauge
temporal_worker_task_slots_available{namespace="default",task_queue="oppsync",worker_type="WorkflowWorker"} 7
# HELP oppsync_files_synced_total Outbound files synced into a CRM and acknowledged, by object (opportunity, lead).
# TYPE oppsync_files_synced_total counter
oppsync_files_synced_total{object="opportunity"} 1
# HELP oppsync_records_synced_total Records written to a CRM, by object and result (inserted, updated, unchanged, stale).
# TYPE oppsync_records_synced_total counter
oppsync_records_synced_total{object="opportunity",result="inserted"} 3
oppsync_records_synced_total{object="opportunity",result="stale"} 0
oppsync_records_synced_total{object="opportunity",result="unchanged"} 0
oppsync_records_synced_total{object="opportunity",result="updated"} 1
# HELP oppsync_files_quarantined_total Outbound files quarantined (left in place: invalid, empty, too large), by object.
# TYPE oppsync_files_quarantined_total counter
oppsync_files_quarantined_total{object="lead"} 1
`
	if err := testutil.GatherAndCompare(h.Registry(), strings.NewReader(want),
		"temporal_request_total", "temporal_worker_task_slots_available", "oppsync_files_synced_total",
		"oppsync_records_synced_total", "oppsync_files_quarantined_total"); err != nil {
		t.Error(err)
	}
	out := scrape(t, h)
	for _, line := range []string{
		`temporal_workflow_task_execution_latency_seconds_bucket{namespace="default",task_queue="oppsync",le="0.05"} 1`,
		`temporal_workflow_task_execution_latency_seconds_sum{namespace="default",task_queue="oppsync"} 0.03`,
		`oppsync_cycle_duration_seconds_count{result="ok"} 1`,
		`oppsync_cycle_duration_seconds_sum{result="ok"} 2`,
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// A name used with different tag sets keeps the label names of its first use.
func TestHandlerFixesLabelsAtFirstUse(t *testing.T) {
	h := metrics.New(nil)
	h.WithTags(map[string]string{"a": "1", "b": "2"}).Counter("x").Inc(1)
	h.WithTags(map[string]string{"a": "3"}).Counter("x").Inc(1)                     // b filled with ""
	h.WithTags(map[string]string{"a": "4", "b": "5", "c": "6"}).Counter("x").Inc(1) // c dropped
	h.WithTags(map[string]string{"bad-name.tag": "v"}).Gauge("odd.name-1").Update(1)
	h.Gauge("x_total").Update(1) // clashes with the counter: ignored, no panic
	want := `
# HELP x_total x_total
# TYPE x_total counter
x_total{a="1",b="2"} 1
x_total{a="3",b=""} 1
x_total{a="4",b="5"} 1
# HELP odd_name_1 odd_name_1
# TYPE odd_name_1 gauge
odd_name_1{bad_name_tag="v"} 1
`
	if err := testutil.GatherAndCompare(h.Registry(), strings.NewReader(want), "x_total", "odd_name_1"); err != nil {
		t.Error(err)
	}
}

type fakeChecker struct{ err error }

func (f fakeChecker) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return &client.CheckHealthResponse{}, f.err
}

func TestHealthStates(t *testing.T) {
	tests := []struct {
		name     string
		checker  fakeChecker
		started  bool
		stopping bool
		want     int
		body     string
	}{
		{"not started", fakeChecker{}, false, false, http.StatusServiceUnavailable, "not started"},
		{"started", fakeChecker{}, true, false, http.StatusOK, "ok"},
		{"temporal down", fakeChecker{errors.New("connection refused")}, true, false, http.StatusServiceUnavailable, "connection refused"},
		{"stopping", fakeChecker{}, true, true, http.StatusServiceUnavailable, "stopping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := metrics.NewHealth(tt.checker)
			if tt.started {
				h.SetStarted()
			}
			if tt.stopping {
				h.SetStopping()
			}
			code, body := get(t, metrics.Mux(metrics.New(nil).Registry(), h), "/healthz")
			if code != tt.want || !strings.Contains(body, tt.body) {
				t.Errorf("GET /healthz = %d %q, want %d containing %q", code, body, tt.want, tt.body)
			}
		})
	}
}

type fakeCounter map[string]int64

func (f fakeCounter) CountWorkflow(_ context.Context, req *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error) {
	for state, n := range f {
		if strings.HasSuffix(req.GetQuery(), "SyncState='"+state+"'") {
			return &workflowservice.CountWorkflowExecutionsResponse{Count: n}, nil
		}
	}
	return nil, errors.New("no such state")
}

func TestCustomerCounter(t *testing.T) {
	h := metrics.New(nil)
	c := &metrics.CustomerCounter{Client: fakeCounter{"healthy": 997, "paused": 2, "needs-attention": 1},
		WorkflowType: "CustomerSync", StateAttribute: "SyncState", Metrics: h,
		States: []string{"healthy", "paused", "needs-attention", "backing-off"}}
	if got, want := c.Query("paused"), "WorkflowType='CustomerSync' AND ExecutionStatus='Running' AND SyncState='paused'"; got != want {
		t.Errorf("Query = %q, want %q", got, want)
	}
	err := c.Count(context.Background())
	if err == nil || !strings.Contains(err.Error(), "backing-off") {
		t.Errorf("Count error = %v, want one naming the backing-off count", err)
	}
	want := `
# HELP oppsync_customers Running customer workflows by sync state (healthy, paused, needs-attention, backing-off).
# TYPE oppsync_customers gauge
oppsync_customers{state="healthy"} 997
oppsync_customers{state="needs-attention"} 1
oppsync_customers{state="paused"} 2
`
	if err := testutil.GatherAndCompare(h.Registry(), strings.NewReader(want), "oppsync_customers"); err != nil {
		t.Error(err)
	}
}

func scrape(t *testing.T, h *metrics.Handler) string {
	t.Helper()
	code, body := get(t, metrics.Mux(h.Registry(), metrics.NewHealth(fakeChecker{})), "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	return body
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}
