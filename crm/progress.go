package crm

import (
	"context"
	"sync"
	"time"
)

type progressKey struct{}

// WithProgress returns a context whose connector calls report progress to fn: connectors
// call Progress in their loops and while they wait on a rate limiter or a lock, so that a
// long write (a HubSpot portal capped at a few hundred records a second taking a backlog of
// tens of thousands) keeps its Temporal activity heartbeating. fn must be cheap and safe
// for concurrent use (activity.RecordHeartbeat is: the SDK throttles it).
func WithProgress(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// Progress reports that the work under ctx is alive; it does nothing when no one listens.
func Progress(ctx context.Context) {
	if fn, ok := ctx.Value(progressKey{}).(func()); ok && fn != nil {
		fn()
	}
}

// ProgressEvery is how often a call in flight reports progress (ProgressWhile).
const ProgressEvery = time.Second

// ProgressWhile reports progress every ProgressEvery until stop is called: connectors wrap
// each HTTP call in it, so that a live activity waiting on one slow answer keeps
// heartbeating. Without it, a call the SaaS answers after the activity's heartbeat timeout
// gets the attempt retried on another worker while the call is still in flight, and the
// two attempts then write one customer's records at once: the older write can land last,
// past the stale check it passed before. Only a dead worker (or one cut off from
// Temporal) stops heartbeating; a live one is bounded by its calls' own timeouts. Nothing
// runs when no one listens.
func ProgressWhile(ctx context.Context) (stop func()) {
	fn, ok := ctx.Value(progressKey{}).(func())
	if !ok || fn == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				fn()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}
