package crm

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

type classified bool

func (c classified) Error() string   { return "classified" }
func (c classified) Retryable() bool { return bool(c) }

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("wrapped: %w", classified(true)), true},
		{fmt.Errorf("wrapped: %w", classified(false)), false},
		{context.Canceled, false},
		{context.DeadlineExceeded, true},
		{errors.New("connection reset"), true},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
