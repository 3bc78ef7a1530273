package main

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// refusalSummaryEvery is how often at most the codec server logs its refused requests. A
// browser without a session asks to decode about a hundred times per page view of the Web
// UI; one line a minute says the same.
const refusalSummaryEvery = time.Minute

// refusals counts refused requests (401, 403) and logs them as one summary line at most
// every refusalSummaryEvery: the first refusal at once, later ones when the next refusal or
// flush comes a minute after the last line.
type refusals struct {
	log   zerolog.Logger
	now   func() time.Time
	mu    sync.Mutex
	last  time.Time      // when the last summary was logged
	count map[string]int // since then, by "status path origin"
}

func newRefusals(log zerolog.Logger, now func() time.Time) *refusals {
	return &refusals{log: log, now: now, count: map[string]int{}}
}

// add counts one refused request and logs the summary if one is due.
func (r *refusals) add(status int, path, origin string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if origin == "" {
		origin = "-"
	}
	r.count[strconv.Itoa(status)+" "+path+" "+origin]++
	r.flushLocked(false)
}

// flush logs what was counted if a summary is due; the server calls it every minute so
// that the last refusals of a burst are reported too.
func (r *refusals) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushLocked(false)
}

func (r *refusals) flushLocked(force bool) {
	now := r.now()
	if len(r.count) == 0 || (!force && !r.last.IsZero() && now.Sub(r.last) < refusalSummaryEvery) {
		return
	}
	total := 0
	kinds := make([]string, 0, len(r.count))
	for k, n := range r.count {
		total += n
		kinds = append(kinds, k+" ×"+strconv.Itoa(n))
	}
	sort.Strings(kinds)
	ev := r.log.Warn().Int("refused", total).Str("requests", strings.Join(kinds, "; "))
	if !r.last.IsZero() {
		ev = ev.Str("since", now.Sub(r.last).Round(time.Second).String())
	}
	ev.Msg("codec requests refused (missing or expired session or token, or a foreign origin): log in at /login")
	r.last = now
	clear(r.count)
}
