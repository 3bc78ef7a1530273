package hubspot

import (
	"context"
	"sync"
	"time"
)

// limiter spaces one customer's requests to HubSpot: a token bucket holding up to n
// requests, refilled at n per interval (HubSpot's private-app burst limit is 100 per
// 10 s), plus a pause that a 429 sets from HubSpot's own hints. One Store has one limiter,
// and the worker keeps one Store per CRM URL, i.e. per customer.
type limiter struct {
	n        float64
	interval time.Duration

	mu     sync.Mutex
	tokens float64
	last   time.Time
	until  time.Time // no request before this (after a 429)
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
}

func newLimiter(n int, interval time.Duration) *limiter {
	return &limiter{n: float64(n), interval: interval, tokens: float64(n), now: time.Now, sleep: sleepCtx}
}

// wait blocks until a request may go, or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return ctx.Err()
	}
	for {
		l.mu.Lock()
		now := l.now()
		if !l.last.IsZero() {
			l.tokens += now.Sub(l.last).Seconds() / l.interval.Seconds() * l.n
			if l.tokens > l.n {
				l.tokens = l.n
			}
		}
		l.last = now
		var d time.Duration
		switch {
		case now.Before(l.until):
			d = l.until.Sub(now)
		case l.n <= 0: // no limit configured
			l.mu.Unlock()
			return ctx.Err()
		case l.tokens >= 1:
			l.tokens--
			l.mu.Unlock()
			return nil
		default:
			d = time.Duration((1 - l.tokens) / l.n * float64(l.interval))
		}
		l.mu.Unlock()
		if err := l.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// pause holds every request for d: HubSpot said the window is used up.
func (l *limiter) pause(d time.Duration) {
	if l == nil || d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if u := l.now().Add(d); u.After(l.until) {
		l.until = u
	}
	l.tokens = min(l.tokens, 0)
}
