package main

// The demo subcommand: `make demo`. It runs OppSync the way an operator would, with the real
// binaries (oppsync-worker, starter) against a fresh local stack, and tells a newcomer where
// to look afterwards.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/acesim"
	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack"
	"github.com/oppsync/oppsync/devstack/sellingcontract"
)

// Facts of the demo.
const (
	demoCustomer     = "demo"
	demoEnv          = customersync.EnvBeta // the stack's buckets are beta buckets (ace-apn-<name>-beta-…)
	demoPollInterval = "1m"
	// envDemoExit=1 is --exit, for `OPPSYNC_DEMO_EXIT=1 make demo` in CI.
	envDemoExit = "OPPSYNC_DEMO_EXIT"

	// The binaries `make build` puts beside devstack.
	workerBin      = "oppsync-worker"
	starterBin     = "starter"
	codecServerBin = "oppsync-codec-server"

	// samplesDir holds AWS's sample files, relative to the repository root.
	samplesDir = "ace/testdata/samples"

	lockFile = "demo.lock"
	// noFile is a path in --dir that never exists, given to the children as their AWS and
	// Temporal config files.
	noFile = "no-such-config-file"
)

// demoState is what a demo leaves in --dir; the next demo removes it all to start afresh.
var demoState = []string{"temporal.db*", "s3", "kms", "logs", "crm.db*", "crm-broken.db*", demoAPICRMFile + "*", stackEnvFile, codecTokenFile,
	demoRecordFile, demoAPIRecordFile}

// demoSamples are AWS's sample outbound files the demo seeds, with the folder ACE writes each to.
var demoSamples = []struct{ file, folder string }{
	{"opportunity-outbound.json", ace.FolderOpportunityOutbound},
	{"lead-outbound.json", ace.FolderLeadOutbound},
}

const demoUsage = `Usage: devstack demo --dir DIR [--exit] [--samples DIR]

Runs OppSync end to end on a fresh local stack, as ` + "`make demo`" + ` does:
  1. removes an earlier demo's state from DIR, then starts Temporal (with its Web UI),
     S3 (versitygw), KMS (local-kms) and a fake STS, with their state and logs in DIR;
  2. sets up the ACE customer "demo" and writes AWS's sample outbound files into its
     bucket as ACE would, under opportunity-outbound/ and lead-outbound/;
  3. starts the worker (oppsync-worker beside this binary), logging to DIR/logs/worker.log;
  4. starts the codec server (oppsync-codec-server beside this binary) that the Web UI
     decodes payloads through, with a new token in DIR/codec-token, and the ACE simulator
     (acesim, not ACE) on the bucket;
  5. enrolls the customer with the starter CLI (beside this binary), inbound included,
     runs a sync cycle and prints what the SQLite CRM (DIR/crm.db) then holds;
  6. CRM → ACE: creates an opportunity in the CRM as the sales team would, syncs it to
     ACE and waits for ACE's result (its ACE id, "accepted") to come back to the CRM;
  7. an AWS referral: ACE shares a masked opportunity, the sales team accepts it in the
     CRM, and the unmasked record arrives;
  8. a second customer, "demo-api", on the Partner Central Selling API (--transport api,
     played by the stack's contract server, not AWS; its CRM is DIR/crm-api.db): an AWS
     referral arrives masked, is accepted in the CRM and arrives unmasked; an opportunity
     created in the CRM reaches the contract server, whose call counts are printed;
  9. the operator's view: enrolls customer demo-broken with a wrong External ID (it goes
     to needs-attention, broken link sts:AssumeRole) and drops a truncated file into the
     demo customer's bucket (quarantined);
  10. prints where to look (Web UI, codec server login, commands, logs) and runs until
     Ctrl-C (SIGINT or SIGTERM), then stops everything.

It exits 1, saying why, if a step fails or a record does not reach the CRM.
Server binaries come from ` + "`make tools`" + ` (the repository's bin/, or $OPPSYNC_BIN_DIR);
oppsync-worker, oppsync-codec-server and starter from ` + "`make build`" + `.

Flags:
`

func demo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), demoUsage); fs.PrintDefaults() }
	dir := fs.String("dir", "", "directory for the demo's stack state, logs, crm.db and stack.env (required; an earlier demo's state in it is removed)")
	exitAfter := fs.Bool("exit", isTrue(os.Getenv(envDemoExit)),
		"exit once the sync is done and the CRM exported, instead of running until Ctrl-C (or set "+envDemoExit+"=1)")
	samples := fs.String("samples", "", "directory of AWS's sample outbound files (default: "+samplesDir+" of the repository)")
	_ = fs.Parse(args)
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("demo needs --dir and no arguments")
	}

	d, err := newDemo(*dir, *samples)
	if err != nil {
		return err
	}
	unlock, err := prepareDemoDir(d.dir)
	if err != nil {
		return err
	}
	defer unlock()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = d.run(ctx, *exitAfter)
	d.shutdown()
	if err != nil && ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "devstack: demo interrupted")
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo failed: %w", err)
	}
	return nil
}

func isTrue(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
}

// demoRun is one run of the demo.
type demoRun struct {
	dir      string // absolute --dir
	cwd      string // for printing paths relative to it
	toolsDir string // server binaries; "" for devstack's default
	worker   string // oppsync-worker binary
	starter  string // starter binary
	codecSrv string // oppsync-codec-server binary
	devstack string // this binary
	samples  []sampleFile

	stack   *devstack.Stack
	cust    *devstack.Customer
	apiCust *devstack.Customer // the customer on the Selling API (its role; its bucket is unused)
	env     []string           // the children's environment
	crmURL  string
	workerP *devstack.Process
	codec   codecServer
	sim     *acesim.Sim
	stopSim func()
}

// sampleFile is one of AWS's sample outbound files, checked to parse.
type sampleFile struct {
	path   string
	folder string
	object ace.Object
	ids    []string // ACE ids of its records: what the CRM must hold after the sync
	body   []byte
}

// newDemo finds the binaries and the sample files, before anything is started.
func newDemo(dir, samples string) (*demoRun, error) {
	d := &demoRun{}
	var err error
	if d.dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if d.cwd, err = os.Getwd(); err != nil {
		return nil, err
	}
	if d.devstack, err = os.Executable(); err != nil {
		return nil, fmt.Errorf("find this binary's directory (where %s and %s are): %w", workerBin, starterBin, err)
	}
	if p, err := filepath.EvalSymlinks(d.devstack); err == nil {
		d.devstack = p
	}
	exeDir := filepath.Dir(d.devstack)
	d.worker, d.starter = filepath.Join(exeDir, workerBin), filepath.Join(exeDir, starterBin)
	d.codecSrv = filepath.Join(exeDir, codecServerBin)
	for _, bin := range []string{d.worker, d.starter, d.codecSrv} {
		if info, err := os.Stat(bin); err != nil || info.IsDir() {
			return nil, fmt.Errorf("%s not found beside %s: run `make build` (it builds %s, %s, %s and devstack into bin/)",
				filepath.Base(bin), d.devstack, workerBin, starterBin, codecServerBin)
		}
	}
	// make puts the tools beside devstack; $OPPSYNC_BIN_DIR and the repository's bin/ are
	// devstack's own defaults.
	if os.Getenv("OPPSYNC_BIN_DIR") == "" {
		if err := devstack.ToolsPresent(exeDir); err == nil {
			d.toolsDir = exeDir
		}
	}

	if samples == "" {
		if samples, err = findSamples(d.cwd, exeDir); err != nil {
			return nil, err
		}
	}
	for _, s := range demoSamples {
		path := filepath.Join(samples, s.file)
		body, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read AWS's sample file: %w", err)
		}
		f, err := ace.ParseOutbound(s.folder+s.file, body)
		if err == nil {
			err = f.Problem()
		}
		if err != nil {
			return nil, fmt.Errorf("sample file %s does not parse as an ACE outbound file: %w", path, err)
		}
		sf := sampleFile{path: path, folder: s.folder, object: f.Object, body: body}
		for _, r := range f.Records {
			sf.ids = append(sf.ids, r.ACEID)
		}
		d.samples = append(d.samples, sf)
	}
	return d, nil
}

// findSamples looks for samplesDir in the repository above the working directory, then
// above this binary (bin/ of the repository).
func findSamples(starts ...string) (string, error) {
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				cand := filepath.Join(dir, samplesDir)
				if _, err := os.Stat(filepath.Join(cand, demoSamples[0].file)); err == nil {
					return cand, nil
				}
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("cannot find AWS's sample files (%s of the repository) above %s: run from the repository or pass --samples DIR",
		samplesDir, strings.Join(starts, " or "))
}

// prepareDemoDir makes dir, takes the demo's lock on it and removes an earlier demo's
// state, refusing when another demo or stack runs there or when dir holds anything else.
func prepareDemoDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var foreign []string
	for _, e := range entries {
		if e.Name() == lockFile || e.Name() == noFile || slices.ContainsFunc(demoState, func(p string) bool {
			ok, _ := filepath.Match(p, e.Name())
			return ok
		}) {
			continue
		}
		foreign = append(foreign, e.Name())
	}
	if len(foreign) > 0 {
		return nil, fmt.Errorf("%s holds files a demo does not make (%s), and the demo empties its --dir: pass a new or empty directory",
			dir, strings.Join(foreign, ", "))
	}

	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another demo is running in %s: stop it (Ctrl-C) or pass another --dir", dir)
	}
	unlock = func() { f.Close() }
	// `devstack up` takes no lock, but its stack.env is there while it runs.
	if env, err := readEnv(filepath.Join(dir, stackEnvFile)); err == nil && env["TEMPORAL_ADDRESS"] != "" {
		if conn, err := net.DialTimeout("tcp", env["TEMPORAL_ADDRESS"], time.Second); err == nil {
			conn.Close()
			unlock()
			return nil, fmt.Errorf("a stack is running in %s (Temporal answers at %s; `devstack up --dir %s`?): stop it or pass another --dir",
				dir, env["TEMPORAL_ADDRESS"], dir)
		}
	}
	for _, pattern := range demoState {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				unlock()
				return nil, fmt.Errorf("remove the last demo's state: %w", err)
			}
		}
	}
	return unlock, nil
}

func (d *demoRun) run(ctx context.Context, exitAfter bool) error {
	fmt.Printf("OppSync demo: state, logs and the CRM database in %s (emptied at start)\n", d.dir)

	step("Starting the local stack: Temporal with its Web UI, S3 (versitygw), KMS (local-kms), STS (fake)")
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var err error
	// The codec server starts once KMS is up, but the UI must know its address from the start.
	if d.codec.addr, err = reservePort(); err != nil {
		return err
	}
	d.stack, err = devstack.Start(startCtx, devstack.Options{
		Dir: d.dir, BinDir: d.toolsDir, UI: true, SearchAttributes: customersync.SearchAttributeTypes(),
		CodecEndpoint: d.codec.url(),
		Logf:          func(format string, args ...any) { fmt.Printf("  "+format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	if d.cust, err = d.stack.NewCustomer(startCtx, demoCustomer); err != nil {
		return err
	}
	if d.apiCust, err = d.stack.NewCustomer(startCtx, demoAPICustomer); err != nil {
		return err
	}
	if _, err := writeStackEnv(d.dir, d.stack, d.cust,
		envDemoAPIRoleARN+"="+d.apiCust.RoleARN, envDemoAPIExternalID+"="+d.apiCust.ExternalID); err != nil {
		return err
	}
	d.env = childEnv(d.stack, filepath.Join(d.dir, noFile))
	d.crmURL = "sqlite://" + filepath.Join(d.dir, "crm.db")

	step("Seeding AWS's sample outbound files into the bucket, written as ACE writes them")
	stamp := time.Now().UTC().Format("2006-01-02T15-04-05Z")
	for _, s := range d.samples {
		key := s.folder + stamp + ".json"
		if err := d.stack.PutAsACE(ctx, d.cust.Bucket, key, s.body); err != nil {
			return err
		}
		fmt.Printf("  s3://%s/%s  <- %s (%s %s)\n", d.cust.Bucket, key, d.rel(s.path), s.object, strings.Join(s.ids, ", "))
	}

	if err := d.startCodecServer(ctx); err != nil {
		return err
	}
	d.startACESimulator(ctx)

	step("Starting the worker")
	logPath := filepath.Join(d.stack.LogDir(), "worker.log")
	if d.workerP, err = devstack.StartProcess("the worker", d.worker, []string{"--log-format", "pretty"}, d.env, logPath); err != nil {
		return err
	}
	fmt.Printf("  %s --log-format pretty  (pid %d, task queue %s)\n  its output goes to %s\n",
		d.rel(d.worker), d.workerP.Pid(), customersync.TaskQueue, d.rel(logPath))

	wfID := customersync.WorkflowID(demoCustomer, demoEnv)
	step("Enrolling customer " + demoCustomer + " with the starter CLI: this starts its workflow " + wfID + " and a first sync cycle\n" +
		"    (--spms-id turns on CRM → ACE; while files await ACE's result, cycles run every " + demoResultPoll + ")")
	if _, err := d.runStarter(ctx, time.Minute, "enroll", "--customer", demoCustomer, "--env", string(demoEnv),
		"--role-arn", d.cust.RoleARN, "--external-id", d.cust.ExternalID, "--bucket", d.cust.Bucket,
		"--kms-key-arn", d.cust.KMSKeyARN, "--crm", d.crmURL, "--poll-interval", demoPollInterval,
		"--spms-id", demoSpmsID, "--result-poll-interval", demoResultPoll); err != nil {
		return err
	}

	step("Asking for a sync cycle now and waiting for it (the first cycle has likely synced the files already: see the totals)")
	if _, err := d.runStarter(ctx, 2*time.Minute, "sync-now", "--customer", demoCustomer, "--env", string(demoEnv), "--wait"); err != nil {
		return err
	}
	if _, err := d.runStarter(ctx, time.Minute, "status", "--customer", demoCustomer, "--env", string(demoEnv)); err != nil {
		return err
	}

	step("What the CRM holds now")
	for _, s := range d.samples {
		out, err := d.runStarter(ctx, time.Minute, "crm", "export", "--crm", d.crmURL, "--object", string(s.object))
		if err != nil {
			return err
		}
		for _, id := range s.ids {
			if !strings.Contains(out, id) {
				return fmt.Errorf("the sync did not bring %s %s (from %s) into the CRM %s; see `starter status` above and the worker's log %s%s",
					s.object, id, d.rel(s.path), d.crmURL, logPath, tail(logPath, 20))
			}
		}
	}
	fmt.Printf("  OK: every sample record is in the CRM.\n")

	if err := d.inboundRoundTrip(ctx); err != nil {
		return err
	}
	if err := d.referralRoundTrip(ctx); err != nil {
		return err
	}
	if err := d.apiCustomer(ctx); err != nil {
		return err
	}
	if err := d.operatorView(ctx); err != nil {
		return err
	}

	d.printWhereToLook(wfID, logPath)
	if exitAfter {
		fmt.Println("\n--exit (or " + envDemoExit + "=1): stopping the worker and the stack.")
		return nil
	}
	select {
	case <-ctx.Done():
		fmt.Println("\nStopping the worker and the stack...")
		return nil
	case <-d.workerP.Done():
		return fmt.Errorf("the worker exited (%v); see %s%s", d.workerP.Err(), logPath, tail(logPath, 20))
	case <-d.codec.proc.Done():
		return fmt.Errorf("the codec server exited (%v); see %s%s", d.codec.proc.Err(), d.codec.log, tail(d.codec.log, 20))
	}
}

func step(title string) { fmt.Printf("\n==> %s\n", title) }

// printWhereToLook tells a newcomer what to open and what to run next.
func (d *demoRun) printWhereToLook(wfID, workerLog string) {
	ui := d.stack.UIURL
	wfPage := ui + "/namespaces/" + url.PathEscape(d.stack.Namespace) + "/workflows/" + url.PathEscape(wfID)
	dir := d.rel(d.dir)
	tokenPath := d.rel(filepath.Join(d.dir, codecTokenFile))
	fmt.Printf(`
==> The demo is running. Where to look:
  Temporal Web UI  %s
  The workflow     %s
                   (its history, the "status" query, the sync-now and configure updates)
  Codec server     %s  (log in at %s/login with the token in %s)
                   Payloads in Temporal are encrypted: the UI shows ciphertext until this
                   browser is logged in there AND, once, the UI's codec settings (the
                   glasses icon at the top right, "Codec Server") say "Use my browser
                   setting and ignore cluster-level setting", endpoint %s,
                   "Include cross-origin credentials" on. Use the same host name for
                   both (127.0.0.1, or localhost for both). The CLI sends the token itself:
                     %s workflow show -w %s --address %s --codec-endpoint %s --codec-auth "Bearer $(cat %s)"
  Logs             %s  (worker.log, codec-server.log; temporal.log, versitygw.log, local-kms.log for the stack)
                   tail -f %s
  CRM database     %s (SQLite)
  Bucket           s3://%s at %s (ACE's side; synced files are deleted)
  Selling API      %s  (the Partner Central Selling API's contract server, not AWS;
                   customer %s's CRM is %s; AWS's side and the call counts: %s)
  ACE simulator    runs inside this demo (acesim, not ACE): answers inbound files within %s

Try, in another terminal:
  cd %s
  set -a; . %s; set +a     # the stack's environment, for starter
  %s status --customer %s --env %s
  %s crm export --crm %s --object opportunity
  %s crm export --crm %s --object lead --json
  %s crm edit --crm %s --object opportunity --id %s --set nextStep="Pricing call"
  %s ace-put --dir %s --key opportunity-outbound/new.json %s
  %s sync-now --customer %s --env %s --wait    # or wait for the next poll (every %s)
`, ui, wfPage, d.codec.url(), d.codec.url(), tokenPath,
		d.codec.url(),
		d.rel(filepath.Join(d.stack.BinDir(), devstack.TemporalBin)), wfID, d.stack.TemporalAddress, d.codec.url(), tokenPath,
		d.rel(d.stack.LogDir()), d.rel(workerLog), d.rel(filepath.Join(d.dir, "crm.db")), d.cust.Bucket, d.stack.S3Endpoint,
		d.stack.SellingAPIEndpoint, demoAPICustomer, d.rel(filepath.Join(d.dir, demoAPICRMFile)),
		d.stack.SellingAPIEndpoint+sellingcontract.AdminPrefix+"calls",
		demoSimInterval,
		d.cwd, filepath.Join(dir, stackEnvFile),
		d.rel(d.starter), demoCustomer, demoEnv,
		d.rel(d.starter), d.crmURL,
		d.rel(d.starter), d.crmURL,
		d.rel(d.starter), d.crmURL, demoPartnerID,
		d.rel(d.devstack), dir, d.rel(d.samples[0].path),
		d.rel(d.starter), demoCustomer, demoEnv, demoPollInterval)
	d.printViews()
	fmt.Println("  (the same sample again is \"unchanged\"; edit its lastModifiedDate and stage to see an update;")
	fmt.Println("   a CRM edit within the hour of the last send waits, as AWS asks, unless forced)")
	fmt.Println("Ctrl-C stops the worker, the codec server, the simulator and the stack.")
}

// runStarter runs the starter CLI with the stack's environment, prints the command (with
// the customer's values as the stack.env variables that hold them, so it can be pasted
// after sourcing stack.env) and its output, and returns the output.
func (d *demoRun) runStarter(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	return d.starterCmd(ctx, timeout, false, args...)
}

// starterCmd is runStarter, printing nothing when quiet (for polling).
func (d *demoRun) starterCmd(ctx context.Context, timeout time.Duration, quiet bool, args ...string) (string, error) {
	if !quiet {
		fmt.Printf("$ %s\n", d.shellCommand(d.starter, args))
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	// Every command but crm export needs the worker: if it dies, stop waiting at once.
	ctx, cancelCause := context.WithCancelCause(ctx)
	defer cancelCause(nil)
	go func() {
		select {
		case <-d.workerP.Done():
			cancelCause(errWorkerExited)
		case <-ctx.Done():
		}
	}()

	cmd := exec.CommandContext(ctx, d.starter, args...)
	cmd.Env = d.env
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if s := strings.TrimRight(out.String(), "\n"); s != "" && (!quiet || err != nil) {
		fmt.Println("  " + strings.ReplaceAll(s, "\n", "\n  "))
	}
	if err == nil {
		return out.String(), nil
	}
	workerLog := filepath.Join(d.stack.LogDir(), "worker.log")
	sub := args
	if i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") }); i >= 0 {
		sub = args[:i]
	}
	what := "`starter " + strings.Join(sub, " ") + "`"
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errWorkerExited):
		return "", fmt.Errorf("the worker exited (%v) during %s; see %s%s", d.workerP.Err(), what, workerLog, tail(workerLog, 20))
	case errors.Is(cause, errTimeout):
		return "", fmt.Errorf("%s did not finish within %s; is the worker working? see %s%s", what, timeout, workerLog, tail(workerLog, 20))
	}
	return "", fmt.Errorf("%s failed (%v); its output is above, the worker's log is %s%s", what, err, workerLog, tail(workerLog, 10))
}

var (
	errTimeout      = errors.New("timed out")
	errWorkerExited = errors.New("worker exited")
)

// shellCommand renders bin and args for pasting into a shell: the customer's values become
// the stack.env variables that hold them.
func (d *demoRun) shellCommand(bin string, args []string) string {
	vars := map[string]string{
		d.cust.RoleARN:    envDemoRoleARN,
		d.cust.ExternalID: envDemoExternalID,
		d.cust.Bucket:     envDemoBucket,
		d.cust.KMSKeyARN:  envDemoKMSKeyARN,
	}
	if d.apiCust != nil {
		vars[d.apiCust.RoleARN], vars[d.apiCust.ExternalID] = envDemoAPIRoleARN, envDemoAPIExternalID
	}
	parts := []string{d.rel(bin)}
	for _, a := range args {
		switch v, ok := vars[a]; {
		case ok:
			parts = append(parts, `"$`+v+`"`)
		case strings.ContainsAny(a, " \t\"'$\\*?;&|<>()"):
			parts = append(parts, strconv.Quote(a))
		default:
			parts = append(parts, a)
		}
	}
	return strings.Join(parts, " ")
}

// rel shows path relative to the working directory when it is inside it.
func (d *demoRun) rel(path string) string {
	if r, err := filepath.Rel(d.cwd, path); err == nil && r != "." && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return r
	}
	return path
}

// shutdown stops the worker, then the stack, and removes stack.env, which would point at
// dead ports. It is safe to call whatever run got to.
func (d *demoRun) shutdown() {
	if d.workerP != nil {
		if err := d.workerP.Stop(40 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "devstack:", err)
		} else {
			fmt.Println("  worker stopped")
		}
	}
	if d.codec.proc != nil {
		if err := d.codec.proc.Stop(10 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "devstack:", err)
		} else {
			fmt.Println("  codec server stopped")
		}
	}
	if d.stopSim != nil {
		d.stopSim()
	}
	if d.stack != nil {
		d.stack.Stop() // logs "devstack: stopped"
	}
	_ = os.Remove(filepath.Join(d.dir, stackEnvFile))
}

// childEnv is the environment of the worker and starter processes: this process's, minus
// anything that would send them elsewhere, plus the stack's. AWS_PROFILE would win over the
// stack's vendor keys (the AWS SDK prefers an explicitly set profile to AWS_ACCESS_KEY_ID), a
// Temporal profile or API key would take them to another server, and OPPSYNC_TASK_QUEUE
// would put the worker on another queue than the one enroll uses. noFile stands in for the
// AWS and Temporal config files so that a developer's default profiles are not read either.
func childEnv(stack *devstack.Stack, noFile string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "TEMPORAL_") || strings.HasPrefix(k, "OPPSYNC_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "AWS_CONFIG_FILE="+noFile, "AWS_SHARED_CREDENTIALS_FILE="+noFile, "TEMPORAL_CONFIG_FILE="+noFile)
	return append(env, stack.Env()...)
}

var ansiColor = regexp.MustCompile("\x1b\\[[0-9;]*m")

// tail returns the last n lines of the file at path, indented after a colon, or "".
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return ""
	}
	data = ansiColor.ReplaceAll(data, nil) // the worker's pretty log is coloured
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return ":\n\t" + strings.Join(lines, "\n\t")
}
