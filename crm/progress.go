package crm

import "context"

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
