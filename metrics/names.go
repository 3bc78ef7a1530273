package metrics

import (
	"strings"
	"time"

	"go.temporal.io/sdk/client"
)

// OppSync's metrics, as recorded through a client.MetricsHandler (names before the
// exported suffix: counters get _total, timers _seconds). No metric carries a customer
// label: thousands of customers would make thousands of series each; per-customer detail is
// in the workflow's status and search attributes.
const (
	// FilesSynced counts outbound files synced into a CRM and acknowledged {object}.
	FilesSynced = "oppsync_files_synced"
	// RecordsSynced counts records written to a CRM {object, result}; result is one of the
	// Result* values.
	RecordsSynced = "oppsync_records_synced"
	// FilesQuarantined counts files left in place because they cannot be synced as they
	// are {object}.
	FilesQuarantined = "oppsync_files_quarantined"
	// ValidationFailures counts records rejected by validation {object}.
	ValidationFailures = "oppsync_validation_failures"
	// CycleDuration times sync cycles {result=ok|failed}, recorded by the workflow.
	CycleDuration = "oppsync_cycle_duration"
	// Customers is the number of running customer workflows in each sync state {state},
	// counted through Temporal's visibility by one worker (see CustomerCounter).
	Customers = "oppsync_customers"
)

// Label names and values of OppSync's metrics.
const (
	LabelObject = "object"
	LabelResult = "result"
	LabelState  = "state"

	ResultInserted  = "inserted"
	ResultUpdated   = "updated"
	ResultUnchanged = "unchanged"
	ResultStale     = "stale"

	CycleOK     = "ok"
	CycleFailed = "failed"
)

var helpTexts = map[string]string{
	FilesSynced + "_total":        "Outbound files synced into a CRM and acknowledged, by object (opportunity, lead).",
	RecordsSynced + "_total":      "Records written to a CRM, by object and result (inserted, updated, unchanged, stale).",
	FilesQuarantined + "_total":   "Outbound files quarantined (left in place: invalid, empty, too large), by object.",
	ValidationFailures + "_total": "Records rejected by validation, by object.",
	CycleDuration + "_seconds":    "Duration of customer sync cycles, by result (ok, failed).",
	Customers:                     "Running customer workflows by sync state (healthy, paused, needs-attention, backing-off).",
}

func help(name string) string {
	if h, ok := helpTexts[name]; ok {
		return h
	}
	if strings.HasPrefix(name, "temporal_") {
		return "Temporal SDK metric " + name + " (see docs.temporal.io/references/sdk-metrics)."
	}
	return name
}

// RecordCounts is what one file contributed to the CRM, by result.
type RecordCounts struct {
	Inserted, Updated, Unchanged, Stale int
}

// FileSynced records a file synced: one file and its records by result. h is
// activity.GetMetricsHandler(ctx) in an activity.
func FileSynced(h client.MetricsHandler, object string, n RecordCounts) {
	h = h.WithTags(map[string]string{LabelObject: object})
	h.Counter(FilesSynced).Inc(1)
	RecordsWritten(h, object, n)
}

// RecordsWritten records records written to the CRM by result, also for a file that was
// then quarantined (its readable records are still synced).
func RecordsWritten(h client.MetricsHandler, object string, n RecordCounts) {
	for _, r := range []struct {
		result string
		n      int
	}{{ResultInserted, n.Inserted}, {ResultUpdated, n.Updated}, {ResultUnchanged, n.Unchanged}, {ResultStale, n.Stale}} {
		// Touch every result, also with 0, so that each series exists from the first file.
		h.WithTags(map[string]string{LabelObject: object, LabelResult: r.result}).Counter(RecordsSynced).Inc(int64(r.n))
	}
}

// FileQuarantined records a quarantined file.
func FileQuarantined(h client.MetricsHandler, object string) {
	h.WithTags(map[string]string{LabelObject: object}).Counter(FilesQuarantined).Inc(1)
}

// ValidationFailed records n records rejected by validation.
func ValidationFailed(h client.MetricsHandler, object string, n int) {
	h.WithTags(map[string]string{LabelObject: object}).Counter(ValidationFailures).Inc(int64(n))
}

// CycleFinished records a sync cycle's duration. Call it from the workflow with
// workflow.GetMetricsHandler(ctx) and times from workflow.Now: that handler drops
// recordings during replay, so a cycle is counted once.
func CycleFinished(h client.MetricsHandler, started, finished time.Time, ok bool) {
	result := CycleOK
	if !ok {
		result = CycleFailed
	}
	h.WithTags(map[string]string{LabelResult: result}).Timer(CycleDuration).Record(finished.Sub(started))
}
