package sellingapi

import (
	"context"
	"fmt"
	"time"

	smithytime "github.com/aws/smithy-go/time"
	"golang.org/x/time/rate"
)

// Access is the quota class of an operation.
type Access int

// Quota classes.
const (
	AccessRead Access = iota + 1
	AccessWrite
)

func (a Access) String() string {
	switch a {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// OperationAccess returns the quota class of an operation: AccessRead for List* and Get*,
// AccessWrite for the others and for names the model does not know (the safe side).
func OperationAccess(operation string) Access {
	if a, ok := operationAccess[operation]; ok {
		return a
	}
	return AccessWrite
}

// AWS's published per-partner-account quotas of the Partner Central Selling API: reads 10 per
// second (and 100,000 per 24 hours), writes 1 per second (and 10,000 per 24 hours). Source: "Quotas
// for the AWS Partner Central Selling API", https://docs.aws.amazon.com/partner-central/latest/selling-api/quotas.html
// (the Smithy model links to that page from ThrottlingException but does not carry the numbers).
// The page lists the operations of each class; this package classes the operations it does not
// list by name (List*/Get* read, the rest write). The page grants CreateEngagement 15 per
// second; the Limiter holds it to the write rate, which is slower but safe. The daily quotas
// are not enforced here: past them the service answers ThrottlingException.
const (
	DefaultReadsPerSecond  = 10
	DefaultWritesPerSecond = 1
)

// Limiter keeps the calls of one partner account under its read and write quotas with two
// token buckets. Share one Limiter between every Client (and so every activity) that calls on
// behalf of the same partner account, through WithLimiter; a Limiter is safe for concurrent use.
type Limiter struct {
	read, write *rate.Limiter

	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// PacingMargin is how much slower than its quota a Limiter spaces calls: the service counts
// calls as they arrive, and two calls sent exactly one quota interval apart can arrive a few
// milliseconds closer together (network and scheduling jitter). At the exact quota a third to
// a half of the writes were refused and retried (`make bench-api` against the contract
// server, whose buckets hold one write); 5% wider spacing costs 5% of the ceiling instead.
const PacingMargin = 0.05

// NewLimiter returns a Limiter admitting at most readsPerSecond reads and writesPerSecond
// writes, spaced PacingMargin wider than the rate, with a burst of one (calls are spaced
// evenly, so no one-second window sees more than the rate). A rate of 0 or less means
// unlimited.
func NewLimiter(readsPerSecond, writesPerSecond float64) *Limiter {
	bucket := func(perSecond float64) *rate.Limiter {
		if perSecond <= 0 {
			return rate.NewLimiter(rate.Inf, 1)
		}
		return rate.NewLimiter(rate.Limit(perSecond*(1-PacingMargin)), 1)
	}
	return &Limiter{
		read:  bucket(readsPerSecond),
		write: bucket(writesPerSecond),
		now:   time.Now,
		sleep: smithytime.SleepWithContext,
	}
}

// NewDefaultLimiter returns a Limiter at AWS's published rates (DefaultReadsPerSecond,
// DefaultWritesPerSecond).
func NewDefaultLimiter() *Limiter {
	return NewLimiter(DefaultReadsPerSecond, DefaultWritesPerSecond)
}

// Wait blocks until operation may be sent under its quota. It returns an error, and gives the
// token back, when ctx ends first or its deadline comes before the token would.
func (l *Limiter) Wait(ctx context.Context, operation string) error {
	access := OperationAccess(operation)
	bucket := l.write
	if access == AccessRead {
		bucket = l.read
	}
	now := l.now()
	r := bucket.ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("%s %s: the %s limiter cannot admit a call", SigningName, operation, access)
	}
	delay := r.DelayFrom(now)
	if delay <= 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && deadline.Before(now.Add(delay)) {
		r.CancelAt(now)
		return fmt.Errorf("%s %s: the %s quota admits the call in %v, after the context's deadline: %w",
			SigningName, operation, access, delay, context.DeadlineExceeded)
	}
	if err := l.sleep(ctx, delay); err != nil {
		r.CancelAt(l.now())
		return fmt.Errorf("%s %s: waiting for the %s quota: %w", SigningName, operation, access, err)
	}
	return nil
}
