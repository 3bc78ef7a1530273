// Command devstack runs the local stack (Temporal, S3, KMS, fake STS) for `make demo` and
// manual runs, with one ACE customer set up on it.
//
//	devstack demo --dir DIR [--exit] [--samples DIR]
//	devstack up --dir DIR [--ui] [--customer NAME] [--search-attribute Name=Type]...
//	devstack ace-put --dir DIR --key KEY FILE
//	devstack fake-sts --addr HOST:PORT --roles FILE
//	devstack simulate-ace --dir DIR [--interval 1s]
//
// demo is `make demo`: a fresh stack with the Web UI, AWS's sample outbound files in the
// demo customer's bucket, a worker process, and the customer enrolled and synced through
// the starter CLI, then it runs until SIGINT or SIGTERM (see demo.go).
// up starts the stack, writes DIR/stack.env (the worker's environment plus the demo
// customer's bucket, role, External ID and KMS key), and runs until SIGINT or SIGTERM.
// ace-put writes FILE to the demo bucket as ACE would (e.g. an outbound file), using the
// running stack described by DIR/stack.env. fake-sts serves only the fake STS, with the
// roles of a JSON file (see fakests.Server.LoadRoles), for runs against other S3 servers.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack"
	"github.com/oppsync/oppsync/devstack/fakests"
)

// stackEnvFile is the file in --dir that describes the running stack (KEY=VALUE lines).
const stackEnvFile = "stack.env"

// Keys of stack.env beyond the worker's environment.
const (
	envDemoBucket     = "OPPSYNC_DEMO_BUCKET"
	envDemoRoleARN    = "OPPSYNC_DEMO_ROLE_ARN"
	envDemoExternalID = "OPPSYNC_DEMO_EXTERNAL_ID"
	envDemoKMSKeyARN  = "OPPSYNC_DEMO_KMS_KEY_ARN"
	// The demo's customer on the Selling API (demo-api): its role and External ID.
	envDemoAPIRoleARN    = "OPPSYNC_DEMO_API_ROLE_ARN"
	envDemoAPIExternalID = "OPPSYNC_DEMO_API_EXTERNAL_ID"
	envTemporalUI        = "TEMPORAL_UI_URL"
	// The S3 root user plays ACE; only ace-put uses it. The names avoid AWS_* on purpose:
	// a worker must never pick them up.
	envACERootKey    = "DEVSTACK_ACE_ROOT_ACCESS_KEY_ID"
	envACERootSecret = "DEVSTACK_ACE_ROOT_SECRET_ACCESS_KEY"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "demo":
		err = demo(os.Args[2:])
	case "up":
		err = up(os.Args[2:])
	case "ace-put":
		err = acePut(os.Args[2:])
	case "fake-sts":
		err = fakeSTS(os.Args[2:])
	case "simulate-ace":
		err = simulateACE(os.Args[2:])
	case "help", "-h", "-help", "--help":
		fmt.Println(usageText)
		return
	default:
		usage()
	}
	if err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "devstack:") {
			msg = "devstack: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, usageText)
	os.Exit(2)
}

const usageText = `usage:
  devstack demo --dir DIR [--exit] [--samples DIR]
      the whole of OppSync on a fresh local stack: AWS's sample ACE files synced into a
      SQLite CRM by a worker, the customer enrolled with the starter CLI (make demo)
  devstack up --dir DIR [--ui] [--customer NAME] [--search-attribute Name=Type]...
      the local stack (Temporal, S3, KMS, fake STS) and one ACE customer, nothing else
  devstack ace-put --dir DIR --key KEY FILE
      put FILE into the customer's bucket as ACE would, on a running demo or up
  devstack fake-sts --addr HOST:PORT --roles FILE
      only the fake STS
  devstack simulate-ace --dir DIR [--interval 1s] [--delay 0s]
      answer the customer's inbound files as ACE would (acesim, a simulator, not ACE),
      on a running demo or up (see simulate.go)

Run devstack COMMAND --help for a command's flags.`

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	dir := fs.String("dir", "", "directory for the stack's state, logs and stack.env (required)")
	ui := fs.Bool("ui", false, "serve the Temporal Web UI")
	customer := fs.String("customer", "demo", "name of the ACE customer to set up (goes into the bucket name)")
	// The workflow's own search attributes are always registered: without them no
	// customer can be enrolled.
	searchAttrs := customersync.SearchAttributeTypes()
	fs.Func("search-attribute", "extra Temporal search attribute to register, Name=Type (repeatable; OppSync's own are always registered)", func(v string) error {
		name, typ, ok := strings.Cut(v, "=")
		if !ok || name == "" || typ == "" {
			return errors.New("want Name=Type, e.g. CustomerId=Keyword")
		}
		searchAttrs[name] = typ
		return nil
	})
	_ = fs.Parse(args)
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("up needs --dir and no arguments")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	stack, err := devstack.Start(startCtx, devstack.Options{
		Dir:              *dir,
		UI:               *ui,
		SearchAttributes: searchAttrs,
		Logf:             func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	defer stack.Stop()
	cust, err := stack.NewCustomer(startCtx, *customer)
	if err != nil {
		return err
	}

	envPath, err := writeStackEnv(*dir, stack, cust)
	if err != nil {
		return err
	}
	defer os.Remove(envPath) // a stale stack.env would point at dead ports

	fmt.Printf(`OppSync local stack is up.
  Temporal     %s (namespace %s)%s
  S3           %s  bucket %s
  STS (fake)   %s  role %s
  KMS          %s  ACE key %s
  Logs         %s
  Environment  %s  (set -a; . %s; set +a)
Put ACE files: devstack ace-put --dir %s --key opportunity-outbound/NAME.json FILE
Ctrl-C stops everything.
`, stack.TemporalAddress, stack.Namespace, uiLine(stack.UIURL), stack.S3Endpoint, cust.Bucket,
		stack.STSEndpoint, cust.RoleARN, stack.KMSEndpoint, cust.KMSKeyARN, stack.LogDir(), envPath, envPath, *dir)

	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "devstack: stopping")
	return nil
}

// writeStackEnv writes DIR/stack.env: the worker's environment for stack plus the
// customer's bucket, role, External ID and KMS key, the UI URL, the S3 root user that
// ace-put plays ACE with, and extra (NAME=value lines). It returns the file's path.
func writeStackEnv(dir string, stack *devstack.Stack, cust *devstack.Customer, extra ...string) (string, error) {
	env := append(stack.Env(),
		envDemoBucket+"="+cust.Bucket,
		envDemoRoleARN+"="+cust.RoleARN,
		envDemoExternalID+"="+cust.ExternalID,
		envDemoKMSKeyARN+"="+cust.KMSKeyARN,
		envTemporalUI+"="+stack.UIURL,
		envACERootKey+"="+stack.S3RootAccessKey,
		envACERootSecret+"="+stack.S3RootSecret,
	)
	env = append(env, extra...)
	envPath := filepath.Join(dir, stackEnvFile)
	if err := os.WriteFile(envPath, []byte(strings.Join(env, "\n")+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", envPath, err)
	}
	return envPath, nil
}

func uiLine(url string) string {
	if url == "" {
		return ""
	}
	return ", UI " + url
}

func acePut(args []string) error {
	fs := flag.NewFlagSet("ace-put", flag.ExitOnError)
	dir := fs.String("dir", "", "directory of a running `devstack demo` or `devstack up` (required)")
	key := fs.String("key", "", "object key, e.g. opportunity-outbound/opp_2024.json (required)")
	_ = fs.Parse(args)
	if *dir == "" || *key == "" || fs.NArg() != 1 {
		fs.Usage()
		return errors.New("ace-put needs --dir, --key and one FILE")
	}
	envPath := filepath.Join(*dir, stackEnvFile)
	env, err := readEnv(envPath)
	if err != nil {
		return fmt.Errorf("%w (is `devstack demo --dir %s` or `devstack up --dir %s` running?)", err, *dir, *dir)
	}
	body, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	client := s3.New(s3.Options{
		Region:       env["AWS_REGION"],
		BaseEndpoint: aws.String(env["AWS_ENDPOINT_URL_S3"]),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(env[envACERootKey], env[envACERootSecret], ""),
	})
	bucket := env[envDemoBucket]
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(*key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	}); err != nil {
		return fmt.Errorf("put s3://%s/%s as ACE: %w", bucket, *key, err)
	}
	fmt.Printf("put s3://%s/%s (%d bytes)\n", bucket, *key, len(body))
	return nil
}

// readEnv reads KEY=VALUE lines.
func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

func fakeSTS(args []string) error {
	fs := flag.NewFlagSet("fake-sts", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	roles := fs.String("roles", "", "JSON file of roles: [{roleArn, externalId, credentials: {accessKeyId, secretAccessKey}}] (required)")
	_ = fs.Parse(args)
	if *roles == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("fake-sts needs --roles")
	}
	srv := fakests.New()
	if err := srv.LoadRoles(*roles); err != nil {
		return err
	}
	url, stop, err := srv.Start(*addr)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("fake STS at %s with %d roles (AWS_ENDPOINT_URL_STS=%s)\n", url, len(srv.Roles()), url)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	<-ctx.Done()
	return nil
}
