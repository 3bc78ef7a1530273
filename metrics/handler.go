// Package metrics exports OppSync's metrics, and the Temporal SDK's own, to Prometheus. Its
// Handler implements the SDK's client.MetricsHandler: pass it in client.Options and every
// SDK metric (temporal_workflow_task_*, temporal_activity_*, temporal_request_*, ...)
// appears in the registry, and OppSync's own metrics go through the same handler from
// activities (activity.GetMetricsHandler) and workflows (workflow.GetMetricsHandler, which
// drops what a replay would count twice). names.go lists OppSync's metrics; server.go
// serves /metrics and /healthz.
package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// Buckets are the histogram buckets of every timer, in seconds: from a millisecond (a
// workflow task) to an hour (a backlog cycle).
var Buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// Handler is a client.MetricsHandler backed by a Prometheus registry. Counters become
// CounterVecs named <name>_total, gauges GaugeVecs named <name>, timers HistogramVecs named
// <name>_seconds (a suffix already there is not repeated); tags become labels.
//
// Prometheus needs one label set per metric name, while the SDK's API lets any call site
// add any tags. A name's label names are therefore fixed the first time it is used: later
// uses fill labels they lack with "" and drop tags the first use did not have. A name that
// cannot be registered (e.g. it clashes with another collector) records nothing.
type Handler struct {
	reg  *prometheus.Registry
	tags map[string]string
	fam  *families
}

var _ client.MetricsHandler = (*Handler)(nil)

// New returns a handler that registers its metrics in reg (a new registry when nil).
func New(reg *prometheus.Registry) *Handler {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &Handler{reg: reg, fam: &families{byName: map[string]*family{}}}
}

// Registry is the registry the handler's metrics live in, for promhttp.
func (h *Handler) Registry() *prometheus.Registry { return h.reg }

// WithTags returns a handler that adds tags to every metric it records (over h's own).
func (h *Handler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	if merged == nil {
		merged = make(map[string]string, len(tags))
	}
	for k, v := range tags {
		merged[sanitize(k)] = v
	}
	return &Handler{reg: h.reg, tags: merged, fam: h.fam}
}

// Counter returns the counter name, exported as name_total.
func (h *Handler) Counter(name string) client.MetricsCounter {
	f := h.fam.get(h.reg, kindCounter, name, h.tags)
	if f == nil {
		return nop{}
	}
	c, err := f.counter.GetMetricWithLabelValues(f.values(h.tags)...)
	if err != nil {
		return nop{}
	}
	return counter{c}
}

// Gauge returns the gauge name.
func (h *Handler) Gauge(name string) client.MetricsGauge {
	f := h.fam.get(h.reg, kindGauge, name, h.tags)
	if f == nil {
		return nop{}
	}
	g, err := f.gauge.GetMetricWithLabelValues(f.values(h.tags)...)
	if err != nil {
		return nop{}
	}
	return gauge{g}
}

// Timer returns the timer name, exported as the histogram name_seconds.
func (h *Handler) Timer(name string) client.MetricsTimer {
	f := h.fam.get(h.reg, kindTimer, name, h.tags)
	if f == nil {
		return nop{}
	}
	o, err := f.histogram.GetMetricWithLabelValues(f.values(h.tags)...)
	if err != nil {
		return nop{}
	}
	return timer{o}
}

type kind int

const (
	kindCounter kind = iota
	kindGauge
	kindTimer
)

// families holds every metric family registered so far, shared by a handler and the
// handlers WithTags derives from it.
type families struct {
	mu     sync.RWMutex
	byName map[string]*family // by exported name; nil: registration failed
}

type family struct {
	labels    []string // fixed at first use, sorted
	counter   *prometheus.CounterVec
	gauge     *prometheus.GaugeVec
	histogram *prometheus.HistogramVec
}

// values returns the label values for tags in the family's label order.
func (f *family) values(tags map[string]string) []string {
	vals := make([]string, len(f.labels))
	for i, l := range f.labels {
		vals[i] = tags[l] // "" when missing
	}
	return vals
}

func exportedName(k kind, name string) string {
	name = sanitize(name)
	switch k {
	case kindCounter:
		if !strings.HasSuffix(name, "_total") {
			name += "_total"
		}
	case kindTimer:
		if !strings.HasSuffix(name, "_seconds") {
			name += "_seconds"
		}
	}
	return name
}

func (fs *families) get(reg *prometheus.Registry, k kind, name string, tags map[string]string) *family {
	full := exportedName(k, name)
	fs.mu.RLock()
	f, ok := fs.byName[full]
	fs.mu.RUnlock()
	if ok {
		return f.of(k)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.byName[full]; ok {
		return f.of(k)
	}
	f = &family{labels: slices.Sorted(maps.Keys(tags))}
	help := help(full)
	var c prometheus.Collector
	switch k {
	case kindCounter:
		f.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: full, Help: help}, f.labels)
		c = f.counter
	case kindGauge:
		f.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: full, Help: help}, f.labels)
		c = f.gauge
	case kindTimer:
		f.histogram = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: full, Help: help, Buckets: Buckets}, f.labels)
		c = f.histogram
	}
	if err := reg.Register(c); err != nil {
		fs.byName[full] = nil
		return nil
	}
	fs.byName[full] = f
	return f
}

// of returns f if it was registered as kind k: a name used as a gauge and later as a
// counter (same exported name only for names like x_total) records nothing the second way.
func (f *family) of(k kind) *family {
	switch {
	case f == nil:
		return nil
	case k == kindCounter && f.counter != nil, k == kindGauge && f.gauge != nil, k == kindTimer && f.histogram != nil:
		return f
	}
	return nil
}

// sanitize makes s a valid Prometheus metric or label name: [a-zA-Z_][a-zA-Z0-9_]*.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

type counter struct{ c prometheus.Counter }

func (c counter) Inc(d int64) {
	if d > 0 { // a Prometheus counter only goes up
		c.c.Add(float64(d))
	}
}

type gauge struct{ g prometheus.Gauge }

func (g gauge) Update(v float64) { g.g.Set(v) }

type timer struct{ o prometheus.Observer }

func (t timer) Record(d time.Duration) { t.o.Observe(d.Seconds()) }

type nop struct{}

func (nop) Inc(int64)            {}
func (nop) Update(float64)       {}
func (nop) Record(time.Duration) {}
