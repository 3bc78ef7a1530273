package crm

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A call in flight reports progress every ProgressEvery until it ends, and nothing after.
func TestProgressWhileReportsUntilStopped(t *testing.T) {
	var n atomic.Int64
	ctx := WithProgress(context.Background(), func() { n.Add(1) })
	stop := ProgressWhile(ctx)
	time.Sleep(ProgressEvery*2 + ProgressEvery/2)
	stop()
	stop() // twice is harmless
	got := n.Load()
	if got < 1 {
		t.Fatalf("%d reports during %s, want at least one", got, ProgressEvery*2)
	}
	time.Sleep(ProgressEvery + ProgressEvery/2)
	if after := n.Load(); after != got {
		t.Errorf("%d reports after stop, want none", after-got)
	}
}

// Without a listener nothing runs, and a cancelled context ends the reports.
func TestProgressWhileWithoutListenerOrAfterCancel(t *testing.T) {
	ProgressWhile(context.Background())()

	var n atomic.Int64
	ctx, cancel := context.WithCancel(WithProgress(context.Background(), func() { n.Add(1) }))
	stop := ProgressWhile(ctx)
	defer stop()
	cancel()
	time.Sleep(ProgressEvery + ProgressEvery/2)
	if got := n.Load(); got != 0 {
		t.Errorf("%d reports after the context ended, want none", got)
	}
}
