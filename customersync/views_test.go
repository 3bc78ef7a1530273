package customersync

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestOperatorViewsURLs(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	views := OperatorViews(now)
	if len(views) < 5 || views[0].Query != `ExecutionStatus = "Running" AND SyncState = "needs-attention"` {
		t.Fatalf("views %+v", views)
	}
	if last := views[len(views)-1].Query; !strings.Contains(last, `LastSyncSuccess < "2026-11-30T09:30:00Z" OR LastSyncSuccess IS NULL`) {
		t.Errorf("not synced for a day: %s", last)
	}
	u, err := url.Parse(ListURL("http://127.0.0.1:8233/", "default", views[0].Query))
	if err != nil || u.Path != "/namespaces/default/workflows" || u.Query().Get("query") != views[0].Query || strings.Contains(u.RawQuery, " ") {
		t.Errorf("list URL %v (%v)", u, err)
	}
}
