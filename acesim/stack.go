package acesim

import (
	"context"

	"github.com/oppsync/oppsync/devstack"
)

// NewForStack returns a simulator of bucket on the local stack, acting as the stack's S3
// root user, which plays ACE.
func NewForStack(ctx context.Context, stack *devstack.Stack, bucket string, opts Options) *Sim {
	return New(stack.RootS3(ctx), bucket, opts)
}

// Start runs a simulator of bucket on the local stack in the background until stop is
// called or ctx ends; stop waits for it to finish. To emit outbound files as well, use
// NewForStack and (*Sim).Start.
func Start(ctx context.Context, stack *devstack.Stack, bucket string, opts Options) (stop func()) {
	return NewForStack(ctx, stack, bucket, opts).Start(ctx)
}
