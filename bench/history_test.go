package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

// The benchmark reads what it reports from workflow histories, by event type only: it
// knows no activity name, so it measures today's per-file activities and a future batch
// activity (or a local activity) alike.

// fetchHistory returns every event of the workflow's current run.
func fetchHistory(b *testing.B, c client.Client, wfID string) []*historypb.HistoryEvent {
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
	return events
}

// actionCount is what a stretch of history costs in Temporal Cloud Actions, as far as the
// history shows it (docs.temporal.io/cloud/actions):
//   - Workflow started or continued-as-new: 1; a child workflow: 2.
//   - Activity: 1 per start or retry, so 1 per scheduled activity plus 1 per retry (the
//     attempt number of its started event, minus one).
//   - Local activities: all of those recorded in one workflow task count as 1 (so 1 per
//     workflow task that completed with LocalActivity markers).
//   - Timer started: 1 (also the implicit timer of workflow.AwaitWithTimeout).
//   - Signal: 1; Update: 1 (accepted ones are in history; rejected ones count too but are
//     not in history, and none is sent during an idle cycle).
//   - UpsertWorkflowSearchAttributes: 1 per command, except one that only sets
//     TemporalChangeVersion (workflow.GetVersion's bookkeeping, which is free).
//
// Not in history, so not counted here: activity heartbeats that reach the server (the SDK
// throttles them to one per 80% of the heartbeat timeout), queries, rejected updates.
type actionCount struct {
	Workflows, Activities, Retries, LocalActivityTasks, Timers, Signals, Updates, Upserts, Children int
}

func (a actionCount) total() int {
	return a.Workflows + a.Activities + a.Retries + a.LocalActivityTasks + a.Timers + a.Signals + a.Updates +
		a.Upserts + 2*a.Children
}

// String lists the non-zero kinds, e.g. "1 timer + 1 activity".
func (a actionCount) String() string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(a.Workflows, "workflow start")
	add(a.Timers, "timer")
	add(a.Activities, "activity")
	add(a.Retries, "activity retry")
	add(a.LocalActivityTasks, "local-activity task")
	add(a.Signals, "signal")
	add(a.Updates, "update")
	add(a.Upserts, "search-attribute upsert")
	add(a.Children, "child workflow (2 each)")
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}

// countActions counts the actions of events (see actionCount).
func countActions(events []*historypb.HistoryEvent) actionCount {
	var a actionCount
	laTasks := map[int64]bool{}
	for _, e := range events {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			a.Workflows++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a.Activities++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a.Retries += max(0, int(e.GetActivityTaskStartedEventAttributes().GetAttempt())-1)
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if attrs := e.GetMarkerRecordedEventAttributes(); attrs.GetMarkerName() == "LocalActivity" {
				laTasks[attrs.GetWorkflowTaskCompletedEventId()] = true
			}
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			a.Timers++
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			a.Signals++
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			a.Updates++
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			fields := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
			if len(fields) != 1 || fields["TemporalChangeVersion"] == nil {
				a.Upserts++
			}
		case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			a.Children++
		}
	}
	a.LocalActivityTasks = len(laTasks)
	return a
}

// activityTypes counts the activities scheduled in events by type, plus local activities
// (from their markers) as "<type> (local)", e.g. "SyncFile×200, ListOutbound×1".
func activityTypes(events []*historypb.HistoryEvent) map[string]int {
	out := map[string]int{}
	for _, e := range events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			out[a.GetActivityType().GetName()]++
		}
		if m := e.GetMarkerRecordedEventAttributes(); m.GetMarkerName() == "LocalActivity" {
			out["local activity"]++
		}
	}
	return out
}

func typesText(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(keys, func(a, b string) int { return m[b] - m[a] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// idleCycle is what one timer-driven cycle of an idle customer cost.
type idleCycle struct {
	events  int
	actions actionCount
}

// idleCycles splits events into the cycles started by the poll timer: each runs from the
// event after one TimerStarted to the next TimerStarted (timer fired, the cycle's work,
// the next timer). Only cycles whose timer fired (no sync-now, no update) are returned,
// and the first one after enrollment is left out (it checks access).
func idleCycles(events []*historypb.HistoryEvent) []idleCycle {
	var starts []int
	for i, e := range events {
		if e.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
			starts = append(starts, i)
		}
	}
	var out []idleCycle
	for j := 0; j+1 < len(starts); j++ {
		seg := events[starts[j]+1 : starts[j+1]+1]
		fired := false
		interrupted := false
		for _, e := range seg {
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_TIMER_FIRED:
				fired = true
			case enumspb.EVENT_TYPE_TIMER_CANCELED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
				enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
				interrupted = true
			}
		}
		if fired && !interrupted {
			out = append(out, idleCycle{events: len(seg), actions: countActions(seg)})
		}
	}
	return out
}

// historyTiming breaks a backlog cycle's time down from its stretch of history.
type historyTiming struct {
	activities    int           // activities completed (any type)
	scheduleStart time.Duration // mean wait of an activity task in the task queue
	startClose    time.Duration // mean activity run time (S3 + CRM work)
	longest       time.Duration // the longest activity
	workflowTasks int           // workflow tasks completed during the cycle
	wftLatency    time.Duration // mean workflow task latency, scheduled to completed
	wftBusy       time.Duration // sum of workflow task latencies: the workflow's serial part
}

// timeline times the activities and workflow tasks of events.
func timeline(events []*historypb.HistoryEvent) historyTiming {
	var t historyTiming
	scheduled := map[int64]time.Time{}
	started := map[int64]time.Time{}
	wftScheduled := map[int64]time.Time{}
	var sumSS, sumSC time.Duration
	for _, e := range events {
		at := e.GetEventTime().AsTime()
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			scheduled[e.GetEventId()] = at
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
				d := at.Sub(st)
				sumSC += d
				t.longest = max(t.longest, d)
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			wftScheduled[e.GetEventId()] = at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			if s, ok := wftScheduled[e.GetWorkflowTaskCompletedEventAttributes().GetScheduledEventId()]; ok {
				t.workflowTasks++
				t.wftBusy += at.Sub(s)
			}
		}
	}
	if t.activities > 0 {
		t.scheduleStart = sumSS / time.Duration(t.activities)
		t.startClose = sumSC / time.Duration(t.activities)
	}
	if t.workflowTasks > 0 {
		t.wftLatency = t.wftBusy / time.Duration(t.workflowTasks)
	}
	return t
}
