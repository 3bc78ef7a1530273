package bench

import (
	"context"
	"path/filepath"
	"sync"
	"syscall"

	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"go.temporal.io/sdk/client"

	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack"
)

// Environment variables that size the benchmark (the Makefile's FILES and RECORDS).
const (
	envFiles   = "OPPSYNC_BENCH_FILES"
	envRecords = "OPPSYNC_BENCH_RECORDS"
)

// Default sizes, as in the Makefile.
const (
	defaultFiles   = 200
	defaultRecords = 10
)

// sizes reads the number of files and records per file from the environment.
func sizes(b *testing.B) (files, records int) {
	b.Helper()
	read := func(name string, def int) int {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive integer", name, v)
		}
		return n
	}
	return read(envFiles, defaultFiles), read(envRecords, defaultRecords)
}

// benchStack is the local stack of one benchmark run and a Temporal client on it.
type benchStack struct {
	*devstack.Stack
	temporal client.Client
	// run tells this run's customers, task queues and workflow IDs apart from any other's.
	run string
	// crmDir, when set, is where customers' SQLite CRMs go (else a benchmark temp dir).
	crmDir string
}

// startStack starts the local stack with Toxiproxy for the benchmark. A missing tool skips
// the benchmark, except in CI, where it must fail rather than pass silently.
func startStack(b *testing.B, options ...func(*devstack.Options)) *benchStack {
	b.Helper()
	binDir, err := devstack.DefaultBinDir()
	if err != nil {
		b.Fatal(err)
	}
	if err := devstack.ToolsPresent(binDir); err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatal(err)
		}
		b.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := stackDir(b)
	opts := devstack.Options{Dir: filepath.Join(dir, "stack"), BinDir: binDir, Toxiproxy: true,
		SearchAttributes: customersync.SearchAttributeTypes()}
	for _, o := range options {
		o(&opts)
	}
	stack, err := devstack.Start(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stack.Stop)
	b.Logf("stack state in %s (%s)", opts.Dir, fsType(opts.Dir))
	// The in-process worker and the baseline load their AWS configuration from the
	// environment, as the worker binary does.
	for _, kv := range stack.Env() {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	// The worker and starter binaries encrypt payloads with the stack's key: so must this
	// client, to read statuses and cycle summaries.
	payloads, err := codec.NewFromEnv(ctx)
	if err != nil {
		b.Fatal(err)
	}
	copts := client.Options{HostPort: stack.TemporalAddress, Namespace: stack.Namespace, Logger: quietLogger{}}
	codec.Apply(&copts, payloads)
	c, err := client.Dial(copts)
	if err != nil {
		b.Fatalf("dial Temporal at %s: %v", stack.TemporalAddress, err)
	}
	b.Cleanup(c.Close)
	return &benchStack{Stack: stack, temporal: c, run: strconv.FormatInt(time.Now().UnixNano()/1e6%1e9, 36),
		crmDir: filepath.Join(dir, "crm")}
}

// envDir is where the benchmark keeps its stacks' state and CRM databases.
const envDir = "OPPSYNC_BENCH_DIR"

// stackDir makes a directory for one stack's state and CRMs, removed when the benchmark
// ends: under $OPPSYNC_BENCH_DIR, else under the repository's .dev/, the directory `make
// demo` and `devstack up --dir .dev` use. Not b.TempDir(): where /tmp is a tmpfs, every
// fsync of the Temporal dev server's and the CRM's SQLite databases is free there, and the
// benchmark would measure a machine operators do not run (see doc.go).
func stackDir(b *testing.B) string {
	b.Helper()
	root := os.Getenv(envDir)
	if root == "" {
		root = filepath.Join("..", ".dev", "bench")
	}
	root, err := filepath.Abs(root)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		b.Fatal(err)
	}
	dir, err := os.MkdirTemp(root, "run-")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "crm"), 0o755); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// fsType names the file system holding path (ext4, tmpfs, ...), for the output.
func fsType(path string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "file system unknown"
	}
	switch st.Type {
	case 0xEF53:
		return "ext4"
	case 0x01021994:
		return "tmpfs: fsync is free here"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("file system 0x%x", st.Type)
}

// envMu serialises awsConfig's changes to the process environment.
var envMu sync.Mutex

// awsConfig loads the AWS configuration the SDK's standard way from this stack's
// environment (endpoints, region, vendor credentials), whatever other stack set the
// process environment last: the configuration is resolved when loaded.
func (s *benchStack) awsConfig(b *testing.B) aws.Config {
	b.Helper()
	envMu.Lock()
	defer envMu.Unlock()
	var restore []func()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		restore = append(restore, func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		})
	}
	defer func() {
		for _, r := range restore {
			r()
		}
	}()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// s3Endpoint returns the S3 endpoint of a scenario: the S3 server itself, or a new Toxiproxy
// proxy in front of it that delays each direction by latency.
func (s *benchStack) s3Endpoint(b *testing.B, latency time.Duration) string {
	b.Helper()
	if latency == 0 {
		return s.S3Endpoint
	}
	endpoint, proxy, err := s.ProxyS3(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, stream := range []string{"upstream", "downstream"} {
		if _, err := proxy.AddToxic("latency_"+stream, "latency", stream, 1,
			map[string]any{"latency": latency.Milliseconds()}); err != nil {
			b.Fatalf("add %s latency toxic to the S3 proxy: %v", stream, err)
		}
	}
	b.Cleanup(func() { _ = proxy.Delete() })
	return endpoint
}

// name returns a customer name unique to this run (it goes into the bucket name and the
// workflow ID).
func (s *benchStack) name(kind string) string { return fmt.Sprintf("%s-%s", kind, s.run) }

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
