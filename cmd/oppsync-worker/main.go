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
	"github.com/oppsync/oppsync/codec"
	_ "github.com/oppsync/oppsync/crm/hubspot"    // hubspot:// CRM URLs
	_ "github.com/oppsync/oppsync/crm/salesforce" // salesforce:// CRM URLs
	_ "github.com/oppsync/oppsync/crm/sqlite"     // the embedded default CRM
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/logging"
	"github.com/oppsync/oppsync/metrics"
	"github.com/oppsync/oppsync/sellingapi"
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
  OPPSYNC_HTTP_LISTEN                     address of /metrics and /healthz (--http-listen)
  OPPSYNC_PAYLOAD_KMS_KEY                 KMS key (id, ARN or alias) encrypting every Temporal
                                          payload; required unless OPPSYNC_PAYLOAD_ENCRYPTION=off

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
	activityPollers := fs.Int("activity-pollers", workflows.DefaultActivityPollers, "concurrent long-polls for activity tasks (more pollers: less queue wait per file)")
	workflowPollers := fs.Int("workflow-pollers", workflows.DefaultWorkflowPollers, "concurrent long-polls for workflow tasks")
	taskQueue := fs.String("task-queue", envOr("OPPSYNC_TASK_QUEUE", customersync.TaskQueue), "task queue to poll (env OPPSYNC_TASK_QUEUE); customers are enrolled onto it")
	httpListen := fs.String("http-listen", envOr("OPPSYNC_HTTP_LISTEN", "127.0.0.1:8080"), "address serving /metrics (Prometheus) and /healthz (env OPPSYNC_HTTP_LISTEN; 0.0.0.0:8080 in a container; empty: none)")
	countCustomers := fs.Bool("count-customers", envOr("OPPSYNC_COUNT_CUSTOMERS", "false") == "true", "export oppsync_customers{state} from a visibility count every 30s (env OPPSYNC_COUNT_CUSTOMERS=true); one worker of a fleet is enough")
	outboundMemory := fs.Int64("outbound-memory", envInt64("OPPSYNC_OUTBOUND_MEMORY", activities.DefaultOutboundMemory),
		"bytes of outbound file bodies this worker holds at once across all customers' batches (env OPPSYNC_OUTBOUND_MEMORY); parsed they take about 2.5 times as much heap, so keep it under 40% of the memory limit minus ~100 MiB")
	sellingReads := fs.Float64("selling-reads-per-second", envFloat("OPPSYNC_SELLING_READS_PER_SECOND", sellingapi.DefaultReadsPerSecond),
		"Selling API reads a second this worker process allows each partner account (env OPPSYNC_SELLING_READS_PER_SECOND; AWS's published quota is 10: raise it only when AWS raised the account's quota, and split it between worker processes)")
	sellingWrites := fs.Float64("selling-writes-per-second", envFloat("OPPSYNC_SELLING_WRITES_PER_SECOND", sellingapi.DefaultWritesPerSecond),
		"Selling API writes a second this worker process allows each partner account (env OPPSYNC_SELLING_WRITES_PER_SECOND; AWS's published quota is 1)")
	workflowCache := fs.Int("workflow-cache-size", 0, "workflows kept in memory between tasks (sticky cache; 0: the SDK default, 10000); smaller saves memory, evicted workflows replay their history on their next task")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if *sellingReads <= 0 || *sellingWrites <= 0 {
		return fmt.Errorf("--selling-reads-per-second %g, --selling-writes-per-second %g: want positive rates (AWS's published quotas are %d and %d)",
			*sellingReads, *sellingWrites, sellingapi.DefaultReadsPerSecond, sellingapi.DefaultWritesPerSecond)
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
	payloads, err := codec.NewFromEnv(context.Background())
	if err != nil {
		return err
	}
	if payloads == nil {
		log.Warn().Msg("payload encryption is off (" + codec.EnvEncryption + "=off): customer data goes into Temporal in clear")
	}
	codec.Apply(&copts, payloads)
	mh := metrics.New(nil)
	if err := metrics.RegisterRuntime(mh.Registry()); err != nil {
		return fmt.Errorf("register runtime metrics: %w", err)
	}
	copts.MetricsHandler = mh
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
	activities.LimitOutboundMemory(acts, *outboundMemory)
	activities.SetSellingLimits(acts, *sellingReads, *sellingWrites, "")

	if *workflowCache > 0 {
		worker.SetStickyWorkflowCacheSize(*workflowCache)
	}
	fatal := make(chan error, 1)
	w := worker.New(c, *taskQueue, worker.Options{
		WorkerStopTimeout:                  *stopTimeout,
		MaxConcurrentActivityExecutionSize: *maxActivities,
		MaxConcurrentActivityTaskPollers:   *activityPollers,
		MaxConcurrentWorkflowTaskPollers:   *workflowPollers,
		OnFatalError: func(err error) {
			select {
			case fatal <- err:
			default: // the first fatal error stops the worker
			}
		},
	})
	workflows.Register(w, acts)

	health := metrics.NewHealth(c)
	if *httpListen != "" {
		srv, err := metrics.Listen(*httpListen, metrics.Mux(mh.Registry(), health))
		if err != nil {
			return err
		}
		go func() {
			if err := srv.Serve(); err != nil {
				log.Error().Err(err).Msg("/metrics and /healthz server stopped")
			}
		}()
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}()
		log.Info().Str("address", srv.Addr()).Msg("serving /metrics and /healthz")
	}
	if *countCustomers {
		counter := &metrics.CustomerCounter{
			Client: c, Namespace: copts.Namespace, WorkflowType: customersync.WorkflowName,
			StateAttribute: customersync.SearchState.GetName(), Metrics: mh,
			States: []string{string(customersync.HealthHealthy), string(customersync.HealthPaused),
				string(customersync.HealthNeedsAttention), string(customersync.HealthBackingOff)},
		}
		cctx, stopCounting := context.WithCancel(ctx)
		defer stopCounting()
		go counter.Run(cctx, metrics.DefaultCountInterval, func(err error) {
			log.Warn().Err(err).Msg("could not count customers by state (oppsync_customers)")
		})
	}

	log.Info().Str("task_queue", *taskQueue).Str("namespace", copts.Namespace).Msg("worker starting")
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	health.SetStarted()
	var runErr error
	select {
	case <-worker.InterruptCh():
	case runErr = <-fatal:
	}
	health.SetStopping()
	w.Stop()
	if runErr != nil {
		return fmt.Errorf("worker stopped: %w", runErr)
	}
	log.Info().Msg("worker stopped")
	return nil
}

func envInt64(name string, fallback int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil && v > 0 {
		return v
	}
	return fallback
}

func envFloat(name string, fallback float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v > 0 {
		return v
	}
	return fallback
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
