package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"

	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/workflows"
)

// dial connects to Temporal with the SDK's standard environment settings.
func dial() (client.Client, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, fmt.Errorf("read Temporal connection settings: %w", err)
	}
	opts.Logger = tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	// The same payload encryption as the worker's: the CLI writes configurations (role,
	// External ID) into history and reads statuses back.
	payloads, err := codec.NewFromEnv(context.Background())
	if err != nil {
		return nil, err
	}
	codec.Apply(&opts, payloads)
	c, err := client.Dial(opts)
	if err != nil {
		addr := opts.HostPort
		if addr == "" {
			addr = client.DefaultHostPort
		}
		return nil, fmt.Errorf("cannot reach Temporal at %s (set TEMPORAL_ADDRESS, or start the local stack with `make demo`): %w", addr, err)
	}
	return c, nil
}

// explain turns a Temporal error about a customer's workflow into an operator's message.
func explain(err error, customer string, env workflows.Env) error {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("customer %s/%s is not enrolled (no running workflow %s): enroll it with `starter enroll`", customer, env, workflows.WorkflowID(customer, env))
	}
	return fmt.Errorf("customer %s/%s: %w", customer, env, err)
}
