// Command worker runs OppSync's Temporal worker: it polls the oppsync task queue and runs the
// customer workflows and their activities.
//
// Temporal connection settings come the SDK's standard way (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, or a TEMPORAL_PROFILE in the
// temporal.toml config file); AWS settings come the AWS SDK's standard way (the default
// credential chain for the worker's own identity, AWS_REGION, AWS_ENDPOINT_URL_S3/_STS/_KMS
// for a local stack).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/worker"

	"github.com/oppsync/oppsync/activities"
	_ "github.com/oppsync/oppsync/crm/sqlite" // the embedded default CRM
	"github.com/oppsync/oppsync/logging"
	"github.com/oppsync/oppsync/workflows"
)

const usage = `Usage: worker [flags]

Runs the OppSync worker until SIGINT or SIGTERM, then stops taking work and lets running
activities finish (up to --stop-timeout).

Environment:
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE    Temporal frontend (default 127.0.0.1:7233, default)
  TEMPORAL_API_KEY, TEMPORAL_TLS_*        Temporal Cloud / mTLS, read by the SDK's envconfig
  TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE  a profile of the Temporal config file
  AWS_REGION, AWS_PROFILE, ...            the worker's own AWS identity (it only assumes roles)
  AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_KMS
                                          local stand-ins for AWS endpoints
  OPPSYNC_S3_PATH_STYLE=true              path-style S3 addressing (local S3 servers)

Flags:
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	logFormat := fs.String("log-format", "auto", "log format: json, pretty, or auto (pretty on a terminal, else json)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	stopTimeout := fs.Duration("stop-timeout", 30*time.Second, "how long running activities may take to finish on shutdown")
	maxActivities := fs.Int("max-concurrent-activities", 200, "activities this worker runs at once")
	taskQueue := fs.String("task-queue", envOr("OPPSYNC_TASK_QUEUE", workflows.TaskQueue), "task queue to poll (env OPPSYNC_TASK_QUEUE); customers are enrolled onto it")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	log, err := logging.New(os.Stderr, logging.Format(*logFormat), *logLevel)
	if err != nil {
		return err
	}

	copts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return fmt.Errorf("read Temporal connection settings: %w", err)
	}
	copts.Logger = logging.Temporal(log.With().Str("component", "temporal").Logger())
	c, err := client.Dial(copts)
	if err != nil {
		return fmt.Errorf("connect to Temporal at %q (set TEMPORAL_ADDRESS): %w", copts.HostPort, err)
	}
	defer c.Close()

	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load the worker's AWS configuration: %w", err)
	}
	pathStyle, _ := strconv.ParseBool(os.Getenv("OPPSYNC_S3_PATH_STYLE"))
	acts := activities.New(activities.AWSOptions{Base: awsCfg, S3PathStyle: pathStyle}, log)
	defer func() { _ = acts.Close() }()

	w := worker.New(c, *taskQueue, worker.Options{
		WorkerStopTimeout:                  *stopTimeout,
		MaxConcurrentActivityExecutionSize: *maxActivities,
	})
	workflows.Register(w, acts)
	log.Info().Str("task_queue", *taskQueue).Str("namespace", copts.Namespace).Msg("worker starting")
	if err := w.Run(worker.InterruptCh()); err != nil {
		return fmt.Errorf("worker stopped: %w", err)
	}
	log.Info().Msg("worker stopped")
	return nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
