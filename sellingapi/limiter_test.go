package sellingapi

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// fakeClock drives a Limiter without real time: sleeping advances the clock and records the
// wait, so the tests count waits instead of measuring them.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

func newFakeLimiter(reads, writes float64) (*Limiter, *fakeClock) {
	clock := &fakeClock{now: signedAt}
	l := NewLimiter(reads, writes)
	l.now, l.sleep = clock.Now, clock.Sleep
	return l, clock
}

func TestOperationAccess(t *testing.T) {
	for op, want := range map[string]Access{
		"ListOpportunities": AccessRead, "GetOpportunity": AccessRead, "GetAwsOpportunitySummary": AccessRead,
		"CreateOpportunity": AccessWrite, "UpdateOpportunity": AccessWrite, "AssociateOpportunity": AccessWrite,
		"StartEngagementFromOpportunityTask": AccessWrite, "TagResource": AccessWrite, "NoSuchOperation": AccessWrite,
	} {
		if got := OperationAccess(op); got != want {
			t.Errorf("OperationAccess(%s) = %v, want %v", op, got, want)
		}
	}
}

// Two clients sharing one Limiter (two activities of one customer) are held to one write per
// second together, and reads are not held up by writes.
func TestLimiterSpacesWritesAcrossClients(t *testing.T) {
	f := newFakeService(t, throttleThen(0, `{}`))
	l, clock := newFakeLimiter(DefaultReadsPerSecond, DefaultWritesPerSecond)
	a := newTestClient(f, testOptions(nil), WithLimiter(l))
	b := newTestClient(f, testOptions(nil), WithLimiter(l))
	ctx := context.Background()
	in := &UpdateOpportunityInput{Catalog: aws.String("AWS"), Identifier: aws.String("O1")}
	for i, c := range []*Client{a, b, a, b, a} {
		if _, err := c.UpdateOpportunity(ctx, in); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	// The first write goes at once, each later one waits a full write interval of the shared
	// bucket (a second, PacingMargin wider).
	if want := spaced(DefaultWritesPerSecond, 4); !closeTo(clock.waits, want) {
		t.Fatalf("write waits %v, want %v", clock.waits, want)
	}
	clock.waits = nil
	// Reads have their own bucket (full: one goes at once), then 10 per second.
	for i := 0; i < 3; i++ {
		if _, err := b.GetOpportunity(ctx, &GetOpportunityInput{Catalog: aws.String("AWS"), Identifier: aws.String("O1")}); err != nil {
			t.Fatal(err)
		}
	}
	if want := spaced(DefaultReadsPerSecond, 2); !closeTo(clock.waits, want) {
		t.Errorf("read waits %v, want %v", clock.waits, want)
	}
	if f.callCount() != 8 {
		t.Errorf("%d calls, want 8", f.callCount())
	}
}

// A throttled call that is retried takes a token for every attempt: the retry must not burst
// past the quota that was just exceeded.
func TestLimiterCountsThrottleRetries(t *testing.T) {
	f := newFakeService(t, throttleThen(1, `{}`))
	l, clock := newFakeLimiter(DefaultReadsPerSecond, DefaultWritesPerSecond)
	c := newTestClient(f, testOptions(&noSleep{}), WithLimiter(l))
	if _, err := c.SubmitOpportunity(context.Background(), &SubmitOpportunityInput{}); err != nil {
		t.Fatal(err)
	}
	// The backoff does not advance the fake clock, so the second attempt waits for its token.
	if want := spaced(DefaultWritesPerSecond, 1); !closeTo(clock.waits, want) || f.callCount() != 2 {
		t.Errorf("limiter waits %v after %d calls, want %v after 2", clock.waits, f.callCount(), want)
	}
}

func TestLimiterRespectsContext(t *testing.T) {
	l, clock := newFakeLimiter(DefaultReadsPerSecond, DefaultWritesPerSecond)
	if err := l.Wait(context.Background(), "CreateOpportunity"); err != nil {
		t.Fatal(err)
	}
	// Cancelled while waiting: the error says so and the token goes back to the bucket.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, "CreateOpportunity"); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v, want context.Canceled", err)
	}
	if tokens := l.write.TokensAt(clock.Now()); tokens != 0 {
		t.Errorf("%v write tokens after the cancelled wait, want 0 (the reservation returned)", tokens)
	}
	// A deadline before the token comes fails at once, without sleeping.
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	l.now = func() time.Time { return time.Now() }
	_ = l.write.ReserveN(time.Now(), 1) // empty the bucket in real time
	if err := l.Wait(dctx, "UpdateOpportunity"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v, want context.DeadlineExceeded", err)
	}
	if len(clock.waits) != 0 {
		t.Errorf("waited %v", clock.waits)
	}
}

func TestUnlimitedLimiter(t *testing.T) {
	l, clock := newFakeLimiter(0, 0)
	for i := 0; i < 5; i++ {
		if err := l.Wait(context.Background(), "CreateOpportunity"); err != nil {
			t.Fatal(err)
		}
	}
	if len(clock.waits) != 0 {
		t.Errorf("an unlimited limiter waited %v", clock.waits)
	}
}

// Many activities may call through one client and limiter at once (run with -race).
func TestConcurrentCallsShareOneLimiter(t *testing.T) {
	f := newFakeService(t, throttleThen(0, `{}`))
	c := newTestClient(f, testOptions(&noSleep{}), WithLimiter(NewLimiter(1000, 1000)))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				_, err = c.GetOpportunity(context.Background(), &GetOpportunityInput{})
			} else {
				_, err = c.UpdateOpportunity(context.Background(), &UpdateOpportunityInput{})
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if f.callCount() != 20 {
		t.Errorf("%d calls, want 20", f.callCount())
	}
}

// spaced is n waits of one call interval at perSecond, PacingMargin wider.
func spaced(perSecond float64, n int) []time.Duration {
	d := time.Duration(float64(time.Second) / (perSecond * (1 - PacingMargin)))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// closeTo reports whether got and want agree to a microsecond each (the rate limiter rounds).
func closeTo(got, want []time.Duration) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if d := got[i] - want[i]; d > time.Microsecond || d < -time.Microsecond {
			return false
		}
	}
	return true
}
