package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/oppsync/oppsync/acesim"
)

// simulateACE is `devstack simulate-ace`: acesim, the simulator of ACE's side of the bucket,
// against the demo bucket of a running `devstack demo` or `devstack up`, until SIGINT or
// SIGTERM. It answers inbound files with result files as ACE would; it is not ACE.
func simulateACE(args []string) error {
	fs := flag.NewFlagSet("simulate-ace", flag.ExitOnError)
	dir := fs.String("dir", "", "directory of a running `devstack demo` or `devstack up` (required)")
	interval := fs.Duration("interval", acesim.DefaultInterval, "how often to poll the inbound folders")
	delay := fs.Duration("delay", 0, "how long each inbound file waits before it is answered (ACE takes minutes)")
	unmask := fs.Bool("unmask-on-accept", true, "send the unmasked outbound file when the partner accepts an AWS referral")
	_ = fs.Parse(args)
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("simulate-ace needs --dir and no arguments")
	}
	envPath := filepath.Join(*dir, stackEnvFile)
	env, err := readEnv(envPath)
	if err != nil {
		return fmt.Errorf("%w (is `devstack demo --dir %s` or `devstack up --dir %s` running?)", err, *dir, *dir)
	}
	bucket := env[envDemoBucket]
	if bucket == "" || env[envACERootKey] == "" {
		return fmt.Errorf("%s has no %s or %s; restart `devstack up` to rewrite it", envPath, envDemoBucket, envACERootKey)
	}
	// The S3 root user plays ACE, as in ace-put: it may write the results and outbound
	// folders, which the bucket policy keeps from the partner.
	client := s3.New(s3.Options{
		Region:       env["AWS_REGION"],
		BaseEndpoint: aws.String(env["AWS_ENDPOINT_URL_S3"]),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(env[envACERootKey], env[envACERootSecret], ""),
	})
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
	sim := acesim.New(client, bucket, acesim.Options{
		Interval:       *interval,
		Delay:          *delay,
		UnmaskOnAccept: *unmask,
		Logf:           logf,
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("acesim (a simulator of ACE, not ACE) answering s3://%s/{opportunity,lead}-inbound/ every %s; Ctrl-C stops it.\n",
		bucket, *interval)
	return sim.Run(ctx)
}
