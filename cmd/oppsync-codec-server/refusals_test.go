package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// A browser without a session is refused about a hundred times a page view: the log gets
// one summary line with the count, then at most one a minute.
func TestRefusalsLoggedAsOneSummaryAMinute(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	r := newRefusals(zerolog.New(&out), func() time.Time { return now })
	refused := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusUnauthorized) })
	h := accessLog(zerolog.New(&out).Level(zerolog.InfoLevel), r, refused)
	page := func(n int) {
		for range n {
			req := httptest.NewRequest(http.MethodPost, "/decode", strings.NewReader("{}"))
			req.Header.Set("Origin", "http://127.0.0.1:8233")
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	}
	lines := func() []string { return strings.Split(strings.TrimSpace(out.String()), "\n") }

	page(100)
	if l := lines(); len(l) != 1 || !strings.Contains(l[0], `"refused":1`) {
		t.Fatalf("after 100 refusals the log has %d lines, want 1 (the first refusal):\n%s", len(l), out.String())
	}
	r.flush() // within the minute: nothing
	if len(lines()) != 1 {
		t.Fatalf("a flush within the minute logged:\n%s", out.String())
	}
	now = now.Add(61 * time.Second)
	r.flush()
	l := lines()
	if len(l) != 2 || !strings.Contains(l[1], `"refused":99`) || !strings.Contains(l[1], "401 /decode http://127.0.0.1:8233 ×99") {
		t.Fatalf("the minute's summary: %d lines, want 2 with the 99 other refusals:\n%s", len(l), out.String())
	}
	now = now.Add(10 * time.Minute)
	r.flush() // nothing new: nothing logged
	if len(lines()) != 2 {
		t.Fatalf("a flush with nothing counted logged:\n%s", out.String())
	}
	if strings.Contains(out.String(), "token=") || strings.Contains(out.String(), "Cookie") {
		t.Fatal("the summary carries request headers")
	}
}
