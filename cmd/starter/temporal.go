package main

import (
	"context"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"

	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/customersync"
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

// syncClient dials Temporal for one command and returns the typed client of the customer
// workflows, and the function that closes the connection.
func syncClient() (*customersync.Client, func(), error) {
	c, err := dial()
	if err != nil {
		return nil, nil, err
	}
	return customersync.NewClient(c, ""), c.Close, nil
}
