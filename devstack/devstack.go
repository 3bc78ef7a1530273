// Package devstack runs the local stand-in for everything OppSync talks to outside the CRM,
// as real server processes on free loopback ports: the Temporal dev server, versitygw as
// the S3 server holding ACE's buckets, local-kms as ACE's KMS, the fake STS and the fake
// Secrets Manager (the vendor's, for CRM credentials) in-process, and optionally Toxiproxy
// to inject faults. Integration tests, the benchmark and `make demo`
// use it; the README's "The local stack" says what each stand-in does and does not do.
//
// The binaries come from `make tools` (the repository's bin/). Start reports ErrToolsMissing
// when one is absent. The package does not import testing: tests decide themselves whether
// a missing tool is a skip or a failure.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/oppsync/oppsync/devstack/fakesm"
	"github.com/oppsync/oppsync/devstack/fakests"
	"github.com/oppsync/oppsync/devstack/sellingcontract"
)

// Names of the binaries in the bin directory, as `make tools` installs them.
const (
	TemporalBin  = "temporal"
	VersityGWBin = "versitygw"
	LocalKMSBin  = "local-kms"
	ToxiproxyBin = "server" // github.com/Shopify/toxiproxy/v2/cmd/server
)

// Fixed facts of the local stack.
const (
	// Region is ACE's region: every ACE bucket seen is in us-west-2.
	Region = "us-west-2"
	// Namespace is the Temporal namespace the dev server always creates.
	Namespace = "default"
	// KMSAccountID is the account local-kms pretends to be, i.e. ACE's account.
	KMSAccountID = "123456789012"
	// ACEKeyAlias is the alias of the stack's stand-in for ACE's bucket key.
	ACEKeyAlias = "alias/ace-demo"
	// PayloadKeyAlias is the alias of the vendor's own KMS key that encrypts Temporal
	// payloads (OPPSYNC_PAYLOAD_KMS_KEY in Env).
	PayloadKeyAlias = "alias/oppsync-payloads"
	// VendorAccountID is the account the fake Secrets Manager pretends to be: the vendor's,
	// where the CRM credentials of its customers are kept.
	VendorAccountID = "111122223333"
)

// DefaultTemporalPragmas make the dev server's database a write-ahead log synced at
// checkpoints (journal_mode=WAL, synchronous=NORMAL) instead of SQLite's default rollback
// journal with synchronous=FULL, which syncs the disk several times per transaction: every
// Temporal write (a task scheduled, a heartbeat, an activity completed) waited for them, and
// a workflow doing hundreds of activities spent most of its time there. A committed write
// still survives a crash of the server; only a power loss may lose the last ones, which a
// local stack can afford.
var DefaultTemporalPragmas = []string{"journal_mode=WAL", "synchronous=NORMAL"}

// ErrToolsMissing reports that a server binary is not in the bin directory; the wrapping
// error names the binaries and says to run `make tools`.
var ErrToolsMissing = errors.New("devstack: local stack tools missing")

// Options configures Start.
type Options struct {
	// Dir holds the stack's state and logs (Dir/logs/<server>.log). Required; a relative
	// path is made absolute. Temporal's database, the S3 data and the ACE key persist in it
	// across runs; the rest of the KMS state is recreated every run.
	Dir string
	// BinDir holds the server binaries. Default: $OPPSYNC_BIN_DIR, else the bin/ directory
	// next to the go.mod found by walking up from the working directory.
	BinDir string
	// UI serves the Temporal Web UI too (Stack.UIURL).
	UI bool
	// CodecEndpoint, with UI, is the codec server the Web UI decodes payloads through
	// (the dev server's --ui-codec-endpoint); the browser calls it, without credentials
	// unless the user turns on "Include cross-origin credentials" in the UI.
	CodecEndpoint string
	// Toxiproxy starts a Toxiproxy server, for Stack.ProxyS3.
	Toxiproxy bool
	// TemporalPragmas are the SQLite pragmas of the Temporal dev server's database
	// (--sqlite-pragma NAME=VALUE). Nil means DefaultTemporalPragmas; an empty, non-nil
	// slice leaves SQLite's own defaults (a rollback journal and synchronous=FULL: several
	// fsyncs per Temporal write), for comparison.
	TemporalPragmas []string
	// SearchAttributes are the Temporal search attributes to register, name → type
	// (Text, Keyword, Int, Double, Bool, Datetime, KeywordList).
	SearchAttributes map[string]string
	// Logf, if set, receives progress messages.
	Logf func(format string, args ...any)
}

// Stack is a running local stack. Stop it when done.
type Stack struct {
	// TemporalAddress is the dev server's frontend, host:port.
	TemporalAddress string
	// Namespace is the Temporal namespace to use.
	Namespace string
	// UIURL is the Temporal Web UI, when Options.UI was set.
	UIURL string

	// S3Endpoint is the S3 server's base URL; clients must use path-style addressing.
	S3Endpoint string
	// S3RootAccessKey and S3RootSecret are the S3 server's root user, which bypasses bucket
	// policies: it plays ACE (and the bucket owner), never the partner.
	S3RootAccessKey string
	S3RootSecret    string

	// KMSEndpoint is the KMS server's base URL.
	KMSEndpoint string
	// ACEKeyARN and ACEKeyID identify the stand-in for ACE's bucket key (also ACEKeyAlias).
	ACEKeyARN string
	ACEKeyID  string

	// STSEndpoint is the fake STS's base URL, and STS the fake itself, for registering roles.
	STSEndpoint string
	STS         *fakests.Server

	// SecretsManagerEndpoint is the fake Secrets Manager's base URL, and SecretsManager the
	// fake itself; PutSecret stores a CRM credential in it.
	SecretsManagerEndpoint string
	SecretsManager         *fakesm.Server

	// SellingAPIEndpoint is the contract server of the Partner Central Selling API (ACE's
	// API transport), and SellingAPI the server itself, for AWS's side (referrals,
	// approvals). The fake STS's role credentials call it as the role's account, verified;
	// any other key as sellingcontract.DefaultAccountID.
	SellingAPIEndpoint string
	SellingAPI         *sellingcontract.Server

	// ToxiproxyURL is Toxiproxy's API, when Options.Toxiproxy was set.
	ToxiproxyURL string

	// Region is the AWS region of every endpoint.
	Region string

	binDir    string
	logDir    string
	adminURL  string // versitygw's admin API
	s3Port    int
	children  []*Process
	stopSTS   func()
	stopSM    func()
	stopSell  func()
	logf      func(format string, args ...any)
	stopOnce  sync.Once
	proxySeq  int
	proxyLock sync.Mutex

	temporal      *Process // the running Temporal dev server, replaced by RestartTemporal
	temporalArgs  []string // its command line, reused on restart (same port, same database)
	temporalProbe func(context.Context) error
}

// ToolsPresent reports, as an error wrapping ErrToolsMissing, which of the stack's binaries
// (Temporal, versitygw, local-kms, Toxiproxy) are missing from binDir.
func ToolsPresent(binDir string) error {
	return requireTools(binDir, TemporalBin, VersityGWBin, LocalKMSBin, ToxiproxyBin)
}

func requireTools(binDir string, names ...string) error {
	var missing []string
	for _, name := range names {
		info, err := os.Stat(filepath.Join(binDir, name))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			if name == ToxiproxyBin {
				name += " (toxiproxy)"
			}
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s not found in %s; run `make tools`", ErrToolsMissing, strings.Join(missing, ", "), binDir)
	}
	return nil
}

// DefaultBinDir is where the stack looks for binaries when Options.BinDir is empty:
// $OPPSYNC_BIN_DIR, else bin/ beside the nearest go.mod above the working directory.
func DefaultBinDir() (string, error) {
	if dir := os.Getenv("OPPSYNC_BIN_DIR"); dir != "" {
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("devstack: find bin directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin"), nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("devstack: no go.mod above %s; set OPPSYNC_BIN_DIR or Options.BinDir", wd)
		}
	}
}

// Start starts the stack and returns once every server answers. ctx bounds the startup
// only; the servers run until Stop. On error nothing is left running.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.Dir == "" {
		return nil, errors.New("devstack: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	binDir := opts.BinDir
	if binDir == "" {
		if binDir, err = DefaultBinDir(); err != nil {
			return nil, err
		}
	}
	if binDir, err = filepath.Abs(binDir); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	tools := []string{TemporalBin, VersityGWBin, LocalKMSBin}
	if opts.Toxiproxy {
		tools = append(tools, ToxiproxyBin)
	}
	if err := requireTools(binDir, tools...); err != nil {
		return nil, err
	}

	s := &Stack{
		Namespace: Namespace,
		Region:    Region,
		binDir:    binDir,
		logDir:    filepath.Join(dir, "logs"),
		logf:      opts.Logf,
		STS:       fakests.New(),

		SecretsManager: fakesm.New(Region, VendorAccountID),
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	for _, d := range []string{s.logDir, filepath.Join(dir, "s3", "data"), filepath.Join(dir, "s3", "iam")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
	}

	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	temporalPort, uiPort, s3Port, adminPort, kmsPort, toxiPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]

	// Start everything, then wait for everything: the servers boot in parallel.
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	var waits []func(context.Context) error
	add := func(wait func(context.Context) error, err error) error {
		if err != nil {
			return err
		}
		waits = append(waits, wait)
		return nil
	}
	if err := add(s.startTemporal(opts, dir, temporalPort, uiPort)); err != nil {
		return nil, err
	}
	if err := add(s.startS3(dir, s3Port, adminPort)); err != nil {
		return nil, err
	}
	if err := add(s.startKMS(dir, kmsPort)); err != nil {
		return nil, err
	}
	if opts.Toxiproxy {
		if err := add(s.startToxiproxy(toxiPort)); err != nil {
			return nil, err
		}
	}
	stsURL, stopSTS, err := s.STS.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	s.STSEndpoint, s.stopSTS = stsURL, stopSTS
	smURL, stopSM, err := s.SecretsManager.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	s.SecretsManagerEndpoint, s.stopSM = smURL, stopSM
	if s.SellingAPI, err = sellingcontract.New(sellingcontract.WithResolver(sellingcontract.FirstOf(
		sellingcontract.FromSTS(s.STS), sellingcontract.AnyKey(sellingcontract.DefaultAccountID)))); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	if s.SellingAPIEndpoint, s.stopSell, err = s.SellingAPI.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}

	if err := waitAll(ctx, waits); err != nil {
		return nil, err
	}
	s.logf("devstack: ready in %s: temporal %s, S3 %s, KMS %s, STS %s, Secrets Manager %s, Selling API %s (logs in %s)",
		dir, s.TemporalAddress, s.S3Endpoint, s.KMSEndpoint, s.STSEndpoint, s.SecretsManagerEndpoint, s.SellingAPIEndpoint, s.logDir)
	ok = true
	return s, nil
}

func (s *Stack) spawn(name string, env []string, bin string, args ...string) (*Process, error) {
	c, err := spawn(name, s.logDir, env, filepath.Join(s.binDir, bin), args...)
	if err != nil {
		return nil, err
	}
	s.children = append(s.children, c)
	return c, nil
}

func (s *Stack) startTemporal(opts Options, dir string, port, uiPort int) (func(context.Context) error, error) {
	s.TemporalAddress = "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--db-filename", filepath.Join(dir, "temporal.db")}
	pragmas := opts.TemporalPragmas
	if pragmas == nil {
		pragmas = DefaultTemporalPragmas
	}
	for _, p := range pragmas {
		args = append(args, "--sqlite-pragma", p)
	}
	if opts.UI {
		args = append(args, "--ui-port", strconv.Itoa(uiPort))
		s.UIURL = "http://127.0.0.1:" + strconv.Itoa(uiPort)
		if opts.CodecEndpoint != "" {
			args = append(args, "--ui-codec-endpoint", opts.CodecEndpoint)
		}
	} else {
		args = append(args, "--headless")
	}
	names := make([]string, 0, len(opts.SearchAttributes))
	for name := range opts.SearchAttributes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		args = append(args, "--search-attribute", name+"="+opts.SearchAttributes[name])
	}
	c, err := s.spawn("temporal", nil, TemporalBin, args...)
	if err != nil {
		return nil, err
	}
	s.temporal, s.temporalArgs = c, args
	// Ready means the frontend serves, the default namespace exists and our search
	// attributes are registered: listing the namespace's search attributes checks all three.
	probe := func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, TemporalBin), "operator", "search-attribute", "list",
			"--address", s.TemporalAddress, "--namespace", Namespace, "--output", "json")
		cmd.WaitDelay = time.Second
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("temporal operator search-attribute list: %w", err)
		}
		var list struct {
			CustomAttributes map[string]string `json:"customAttributes"`
		}
		if err := json.Unmarshal(out, &list); err != nil {
			return fmt.Errorf("temporal operator search-attribute list: %w", err)
		}
		for _, name := range names {
			if _, ok := list.CustomAttributes[name]; !ok {
				return fmt.Errorf("search attribute %s not registered yet", name)
			}
		}
		return nil
	}
	s.temporalProbe = probe
	return func(ctx context.Context) error {
		if err := c.waitReady(ctx, 60*time.Second, probe); err != nil {
			return err
		}
		s.logf("devstack: temporal serving at %s (log %s)", s.TemporalAddress, c.logPath)
		return nil
	}, nil
}

func (s *Stack) startS3(dir string, port, adminPort int) (func(context.Context) error, error) {
	s.s3Port = port
	s.S3Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	s.adminURL = "http://127.0.0.1:" + strconv.Itoa(adminPort)
	if err := s.loadRootCredentials(filepath.Join(dir, "s3", "root-credentials")); err != nil {
		return nil, err
	}
	// Root credentials go through the environment, not argv, so ps does not show them.
	env := []string{"ROOT_ACCESS_KEY_ID=" + s.S3RootAccessKey, "ROOT_SECRET_ACCESS_KEY=" + s.S3RootSecret}
	c, err := s.spawn("versitygw", env, VersityGWBin,
		"--port", "127.0.0.1:"+strconv.Itoa(port),
		"--admin-port", "127.0.0.1:"+strconv.Itoa(adminPort),
		"--region", Region,
		"--iam-dir", filepath.Join(dir, "s3", "iam"),
		"--health", "/health",
		"--quiet",
		"posix", filepath.Join(dir, "s3", "data"))
	if err != nil {
		return nil, err
	}
	health := s.S3Endpoint + "/health"
	return func(ctx context.Context) error {
		if err := c.waitReady(ctx, 30*time.Second, httpOK(health)); err != nil {
			return err
		}
		s.logf("devstack: S3 (versitygw) at %s (log %s)", s.S3Endpoint, c.logPath)
		return nil
	}, nil
}

// loadACEKey reads the ACE key's id and 64-hex-digit backing key from path ("ID:KEY"), or
// makes and saves new ones.
func loadACEKey(path string) (keyID, backingKey string, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		id, key, ok := strings.Cut(strings.TrimSpace(string(data)), ":")
		if b, err := hex.DecodeString(key); !ok || err != nil || len(b) != 32 || id == "" {
			return "", "", fmt.Errorf("devstack: %s: want KEYID:<64 hex digits>; delete it to make a new ACE key", path)
		}
		return id, key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", "", fmt.Errorf("devstack: %w", err)
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	keyID, backingKey = newUUID(), hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(keyID+":"+backingKey+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("devstack: save ACE key: %w", err)
	}
	return keyID, backingKey, nil
}

// loadRootCredentials reads the S3 root user's keys from path, or makes and saves new ones.
// They persist with the S3 data because versitygw records the root user's access key as
// the owner of the buckets it creates: new root keys would lose access to them.
func (s *Stack) loadRootCredentials(path string) error {
	data, err := os.ReadFile(path)
	if err == nil {
		key, secret, ok := strings.Cut(strings.TrimSpace(string(data)), ":")
		if !ok || key == "" || secret == "" {
			return fmt.Errorf("devstack: %s: want ACCESSKEY:SECRET; delete it together with %s to start afresh", path, filepath.Dir(path))
		}
		s.S3RootAccessKey, s.S3RootSecret = key, secret
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("devstack: %w", err)
	}
	s.S3RootAccessKey = "ROOT" + randomKey(16)
	s.S3RootSecret = randomSecret()
	if err := os.WriteFile(path, []byte(s.S3RootAccessKey+":"+s.S3RootSecret+"\n"), 0o600); err != nil {
		return fmt.Errorf("devstack: save S3 root credentials: %w", err)
	}
	return nil
}

func (s *Stack) startKMS(dir string, port int) (func(context.Context) error, error) {
	// local-kms never re-seeds an existing data directory: give it a fresh one every run,
	// seeded with the same ACE key, so data keys made in an earlier run still decrypt.
	kmsDir := filepath.Join(dir, "kms")
	if err := os.RemoveAll(filepath.Join(kmsDir, "data")); err != nil {
		return nil, fmt.Errorf("devstack: reset KMS data: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(kmsDir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	keyID, backingKey, err := loadACEKey(filepath.Join(kmsDir, "ace-key"))
	if err != nil {
		return nil, err
	}
	s.ACEKeyID = keyID
	s.ACEKeyARN = fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", Region, KMSAccountID, s.ACEKeyID)
	// The vendor's payload key persists like ACE's: Temporal's database outlives a run, and
	// its histories stay readable only with the same key.
	payloadKeyID, payloadBackingKey, err := loadACEKey(filepath.Join(kmsDir, "payload-key"))
	if err != nil {
		return nil, err
	}
	seed := fmt.Sprintf(`Keys:
  Symmetric:
    Aes:
      - Metadata:
          KeyId: %s
          Description: "ACE's bucket key (local stand-in)"
        BackingKeys:
          - %s
      - Metadata:
          KeyId: %s
          Description: "vendor payload key: wraps the data keys of OppSync's Temporal payloads"
        BackingKeys:
          - %s
Aliases:
  - AliasName: %s
    TargetKeyId: %s
  - AliasName: %s
    TargetKeyId: %s
`, s.ACEKeyID, backingKey, payloadKeyID, payloadBackingKey, ACEKeyAlias, s.ACEKeyID, PayloadKeyAlias, payloadKeyID)
	seedPath := filepath.Join(kmsDir, "seed.yaml")
	if err := os.WriteFile(seedPath, []byte(seed), 0o600); err != nil {
		return nil, fmt.Errorf("devstack: write KMS seed: %w", err)
	}
	s.KMSEndpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	c, err := s.spawn("local-kms", []string{
		"PORT=" + strconv.Itoa(port),
		"KMS_ACCOUNT_ID=" + KMSAccountID,
		"KMS_REGION=" + Region,
		"KMS_SEED_PATH=" + seedPath,
		"KMS_DATA_PATH=" + filepath.Join(kmsDir, "data"),
	}, LocalKMSBin)
	if err != nil {
		return nil, err
	}
	client := kms.New(kms.Options{
		Region:           Region,
		BaseEndpoint:     aws.String(s.KMSEndpoint),
		Credentials:      credentials.NewStaticCredentialsProvider(vendorAccessKeyID, vendorSecretKey, ""),
		RetryMaxAttempts: 1,
	})
	// Ready means the seeded key resolves through its alias to the ARN we expect.
	probe := func(ctx context.Context) error {
		out, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ACEKeyAlias)})
		if err != nil {
			return err
		}
		if got := aws.ToString(out.KeyMetadata.Arn); got != s.ACEKeyARN {
			return fmt.Errorf("%s resolves to %s, want %s (seed %s not loaded?)", ACEKeyAlias, got, s.ACEKeyARN, seedPath)
		}
		return nil
	}
	return func(ctx context.Context) error {
		if err := c.waitReady(ctx, 30*time.Second, probe); err != nil {
			return err
		}
		s.logf("devstack: KMS (local-kms) at %s, ACE key %s (log %s)", s.KMSEndpoint, s.ACEKeyARN, c.logPath)
		return nil
	}, nil
}

func (s *Stack) startToxiproxy(port int) (func(context.Context) error, error) {
	s.ToxiproxyURL = "http://127.0.0.1:" + strconv.Itoa(port)
	c, err := s.spawn("toxiproxy", nil, ToxiproxyBin, "-host", "127.0.0.1", "-port", strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if err := c.waitReady(ctx, 15*time.Second, httpOK(s.ToxiproxyURL+"/version")); err != nil {
			return err
		}
		s.logf("devstack: toxiproxy at %s (log %s)", s.ToxiproxyURL, c.logPath)
		return nil
	}, nil
}

// waitAll runs the readiness waits in parallel. The first failure abandons the others, so
// a server that dies at once is reported at once; only the real failures are returned.
func waitAll(ctx context.Context, waits []func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errs := make([]error, len(waits))
	var wg sync.WaitGroup
	for i, wait := range waits {
		wg.Go(func() {
			if errs[i] = wait(ctx); errs[i] != nil {
				cancel(errs[i])
			}
		})
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, errAbandoned) {
			failed = append(failed, err)
		}
	}
	if len(failed) == 0 {
		return errors.Join(errs...) // only abandoned waits: ctx itself ended
	}
	return errors.Join(failed...)
}

// Stop stops every server and waits for them to exit: SIGTERM to each process group, then
// SIGKILL to any still running after a few seconds. It is safe to call more than once.
func (s *Stack) Stop() {
	s.stopOnce.Do(func() {
		if s.stopSTS != nil {
			s.stopSTS()
		}
		if s.stopSM != nil {
			s.stopSM()
		}
		if s.stopSell != nil {
			s.stopSell()
		}
		for _, c := range s.children {
			c.signal(syscall.SIGTERM)
		}
		deadline := time.NewTimer(5 * time.Second)
		defer deadline.Stop()
		for _, c := range s.children {
			select {
			case <-c.done:
			case <-deadline.C:
				for _, c := range s.children {
					c.signal(syscall.SIGKILL)
				}
				<-c.done
			}
		}
		s.logf("devstack: stopped")
	})
}

// KillTemporal ends the Temporal dev server with SIGKILL, as a crash or an OOM kill would,
// and waits for it to exit. Its database (Options.Dir/temporal.db) stays; RestartTemporal
// starts it again.
func (s *Stack) KillTemporal() {
	c := s.temporal
	if c == nil {
		return
	}
	c.signal(syscall.SIGKILL)
	<-c.done
}

// RestartTemporal starts the Temporal dev server again on the same port and the same
// database, after KillTemporal (or a crash), and returns once it serves. Workflows, their
// histories and the task queues' pending tasks survive in the database.
func (s *Stack) RestartTemporal(ctx context.Context) error {
	if s.temporal == nil {
		return errors.New("devstack: RestartTemporal: the stack has no Temporal server")
	}
	if !s.temporal.exited() {
		s.KillTemporal()
	}
	c, err := s.spawn("temporal", nil, TemporalBin, s.temporalArgs...)
	if err != nil {
		return err
	}
	s.temporal = c
	if err := c.waitReady(ctx, 60*time.Second, s.temporalProbe); err != nil {
		return err
	}
	s.logf("devstack: temporal restarted at %s (log %s)", s.TemporalAddress, c.logPath)
	return nil
}

// PutSecret stores value in the stack's Secrets Manager as the secret called name (a new
// version if it exists: the ARN stays) and returns its ARN, for a CRM URL's NAME_secret=
// parameter (crm/secret). The stack keeps secrets in memory only: they are gone at Stop.
func (s *Stack) PutSecret(name, value string) (arn string) {
	return s.SecretsManager.Put(name, value)
}

// LogDir is the directory holding each server's log, <name>.log.
func (s *Stack) LogDir() string { return s.logDir }

// BinDir is the directory the stack's server binaries (temporal, ...) come from.
func (s *Stack) BinDir() string { return s.binDir }

// httpOK probes that GET url answers 200.
func httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

const (
	keyAlphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randomKey returns n random characters of an access key id's alphabet.
func randomKey(n int) string { return randomString(keyAlphabet, n) }

// randomSecret returns a random 40-character secret access key.
func randomSecret() string { return randomString(secretAlphabet, 40) }

func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

// randomDigits returns n random decimal digits, the first not zero.
func randomDigits(n int) string {
	return randomString("123456789", 1) + randomString("0123456789", n-1)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
