// Package uitest drives the Temporal Web UI in headless Chromium against the demo stack,
// as an operator would: the ready-made "needs attention" list, then a workflow page before
// and after logging into the codec server. It runs with `make ui-test` (OPPSYNC_UI_TEST=1)
// and saves its screenshots in ui-test/screenshots/ (OPPSYNC_UI_SCREENSHOTS overrides).
package uitest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/oppsync/oppsync/customersync"
	"github.com/oppsync/oppsync/devstack"
)

// Facts of the demo the test relies on (devstack demo prints and makes them).
const (
	demoWorkflow   = "oppsync/demo/beta"
	brokenWorkflow = "oppsync/demo-broken/beta"
	demoSummary    = "ACE ⇄ CRM sync of customer demo (beta)"
)

// recordData are strings of the demo's records (AWS's samples, the record the sales team
// creates, the referral's unmasked contact) and of the decoded status: none may show in the
// UI without the codec server's token.
var recordData = []string{"Test LLC", "Example Corp", "Northwind Health", "pat.lee@northwind.example", "test@test.com",
	"DEMO-OPP-1", `"consecutiveFailures"`, `"watermarks"`}

// failureShot is where waitForText saves the page it gave up on.
var failureShot string

// browserWait bounds each wait for the UI to show something.
const browserWait = 90 * time.Second

func TestOperatorUI(t *testing.T) {
	if os.Getenv("OPPSYNC_UI_TEST") != "1" {
		t.Skip("the browser test runs with `make ui-test` (OPPSYNC_UI_TEST=1)")
	}
	chromium := findChromium(t)
	shots := screenshotDir(t)
	failureShot = filepath.Join(shots, "failure.png")
	demo := startDemo(t)

	ctx, cancel := browser(t, chromium)
	defer cancel()
	shot := func(name string) {
		t.Helper()
		time.Sleep(time.Second) // let the UI paint what it has (the details' iframe); nothing is timed
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(shots, name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", path)
	}

	// The operator's list columns, as one sets them once with the list's column chooser
	// (kept in the browser's local storage, per namespace).
	columns := []map[string]any{{"label": "Status", "pinned": true}, {"label": "Workflow ID", "pinned": true}}
	for _, c := range []string{"SyncState", "BrokenLink", "QuarantinedFiles", "AwaitingAceResults", "LastSyncSuccess"} {
		columns = append(columns, map[string]any{"label": c, "pinned": false})
	}
	colJSON, _ := json.Marshal(map[string]any{demo.namespace: columns})
	run(t, ctx, "open the UI", chromedp.Navigate(demo.ui),
		eval(fmt.Sprintf(`localStorage.setItem("namespace-workflow-table-columns", %q)`, colJSON)))

	// 1. Needs attention, without the codec: the broken customer and its broken link.
	views := customersync.OperatorViews(time.Now())
	run(t, ctx, "open the needs-attention list", chromedp.Navigate(customersync.ListURL(demo.ui, demo.namespace, views[0].Query)))
	body := waitForText(t, ctx, "the needs-attention list", brokenWorkflow, customersync.BrokenLinkAssumeRole)
	shot("01-needs-attention-list")
	if strings.Contains(body, demoWorkflow+"\n") || strings.Contains(body, demoWorkflow+"\t") {
		t.Errorf("the needs-attention list shows the healthy customer %s:\n%s", demoWorkflow, body)
	}
	run(t, ctx, "open the quarantine list", chromedp.Navigate(customersync.ListURL(demo.ui, demo.namespace, views[3].Query)))
	waitForText(t, ctx, "the with-quarantined-files list", demoWorkflow)
	shot("02-quarantined-files-list")

	// 2. The workflow page without the token: payloads, the summary and the current
	// details are encrypted; no record data, no decoded status or summary.
	run(t, ctx, "open the workflow page", chromedp.Navigate(demo.workflowPage(demoWorkflow)))
	body = waitForText(t, ctx, "the workflow page without the token", demoWorkflow, "Input")
	body += openTab(t, ctx, "User Metadata", "User Metadata")
	shot("03-workflow-without-token")
	// The query names come from the workflow's metadata query, encrypted too: the tab
	// stays "Loading...".
	body += openQueries(t, ctx, "Loading")
	shot("04-status-query-without-token")
	for _, s := range append(recordData, demoSummary) {
		if strings.Contains(body, s) {
			t.Errorf("without the codec server's token the UI shows %q", s)
		}
	}

	// 3. Log in at the codec server with the token; a second visit says until when.
	run(t, ctx, "log in at the codec server", chromedp.Navigate(demo.codec+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="token"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), demo.token),
		chromedp.Submit(chromedp.CSS(`input[name="token"]`)))
	waitForText(t, ctx, "the login page", "Logged in until")
	run(t, ctx, "visit /login again", chromedp.Navigate(demo.codec+"/login"))
	waitForText(t, ctx, "the login page when logged in", "already logged in, until")
	shot("05-codec-login-again")

	// 4. The codec settings: the glasses icon at the top right.
	run(t, ctx, "open the workflow page", chromedp.Navigate(demo.workflowPage(demoWorkflow)))
	waitForText(t, ctx, "the workflow page", demoWorkflow)
	run(t, ctx, "open the codec settings", chromedp.Click(chromedp.CSS(`[data-testid^="data-encoder-status"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#data-encoder-endpoint-input`)))
	run(t, ctx, "set the codec settings",
		eval(`document.getElementById("use-local-endpoint-radio").click()`),
		eval(`(() => { const ta = document.getElementById("data-encoder-endpoint-input"); ta.value = ""; ta.dispatchEvent(new Event("input", {bubbles: true})) })()`),
		chromedp.SendKeys(chromedp.CSS(`#data-encoder-endpoint-input`), demo.codec),
		eval(`(() => { const box = document.getElementById("pass-access-credentials"); if (!box.checked) box.click() })()`))
	settings := waitForText(t, ctx, "the codec settings", "Use my browser setting and ignore Cluster-level setting", "Include cross-origin credentials")
	checked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("use-local-endpoint-radio").checked && document.getElementById("pass-access-credentials").checked`))
	if err != nil || !checked {
		t.Fatalf("the codec settings are not set (%v):\n%s", err, settings)
	}
	shot("06-codec-settings-glasses-icon")
	run(t, ctx, "apply the codec settings", chromedp.Click(chromedp.CSS(`[data-testid="confirm-data-encoder-button"]`)))

	// 5. With the token: the broken customer's current details, verdict first; the decoded
	// summary and the decoded status query.
	run(t, ctx, "open the broken customer's page", chromedp.Navigate(demo.workflowPage(brokenWorkflow)))
	openTab(t, ctx, "User Metadata", "Needs attention: sts:AssumeRole is broken.", "trust policy")
	shot("07-broken-customer-details")
	run(t, ctx, "reload the workflow page", chromedp.Navigate(demo.workflowPage(demoWorkflow)))
	openTab(t, ctx, "User Metadata", demoSummary, "Healthy.")
	shot("08-workflow-decoded-summary-and-details")
	openQueries(t, ctx, "Query Type", "Run Query")
	runStatusQuery(t, ctx)
	waitForText(t, ctx, "the decoded status query", `"phase"`, `"health"`, `"healthy"`, `"totals"`, `"quarantine"`)
	shot("09-status-query-decoded")
}

// openQueries opens the workflow page's Queries tab and waits until it shows want.
func openQueries(t *testing.T, ctx context.Context, want ...string) string {
	t.Helper()
	return openTab(t, ctx, "Queries", want...)
}

// openTab opens a tab of the workflow page and waits until it shows want.
func openTab(t *testing.T, ctx context.Context, name string, want ...string) string {
	t.Helper()
	waitForText(t, ctx, "the workflow page's tabs", name)
	clicked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
		const tab = [...document.querySelectorAll("a, button, [role=tab]")].find(e => e.textContent.trim() === %q);
		if (tab) { tab.click(); return true } return false })()`, name)))
	if err != nil || !clicked {
		t.Fatalf("no %s tab to click (%v)", name, err)
	}
	return waitForText(t, ctx, "the "+name+" tab", want...)
}

// runStatusQuery runs the status query in the Queries tab (the only query the workflow
// defines, so the one shown) with its "Run Query" button.
func runStatusQuery(t *testing.T, ctx context.Context) {
	t.Helper()
	clicked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const b = [...document.querySelectorAll("button")].find(e => e.textContent.trim() === "Run Query");
		if (b) { b.click(); return true } return false })()`))
	if err != nil || !clicked {
		t.Fatalf("no Run Query button (%v)", err)
	}
}

// run runs browser actions, failing the test with what was being done.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(actx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression, ignoring its value.
func eval(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](expr)(ctx, tg)
		return err
	})
}

// waitForText waits until the page's text holds every one of want and returns the text. It
// polls the page, which the UI fills in as its calls return; it times nothing.
func waitForText(t *testing.T, ctx context.Context, what string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	var text string
	for {
		var missing []string
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](pageText))
		text = got
		if err == nil {
			for _, w := range want {
				if !strings.Contains(text, w) {
					missing = append(missing, w)
				}
			}
			if len(missing) == 0 {
				return text
			}
		}
		if time.Now().After(deadline) {
			if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil && failureShot != "" {
				_ = os.WriteFile(failureShot, png, 0o644)
			}
			t.Fatalf("%s does not show %q after %s (error %v; screenshot %s); the page says:\n%s", what, missing, browserWait, err, failureShot, text)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// pageText is what the page shows: its text, and that of its frames (the UI renders the
// current details, markdown, in a sandboxed iframe: its srcdoc when it cannot be read).
const pageText = `(() => {
	let text = document.body ? document.body.innerText : "";
	for (const f of document.querySelectorAll("iframe")) {
		let inner = "";
		try { inner = f.contentDocument && f.contentDocument.body ? f.contentDocument.body.innerText : "" } catch (e) {}
		if (!inner && f.srcdoc) { const d = new DOMParser().parseFromString(f.srcdoc, "text/html"); inner = d.body ? d.body.textContent : "" }
		text += "\n" + inner;
	}
	return text })()`

// browser starts headless Chromium with the flags this sandbox needs and a fresh profile.
func browser(t *testing.T, chromium string) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1440, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", chromium, err)
	}
	return ctx, func() { cancel(); cancelAlloc() }
}

// findChromium returns Debian's Chromium. Without it the test skips, or fails under CI=true.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("OPPSYNC_CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found: install Debian's chromium package (apt-get install chromium) or set OPPSYNC_CHROMIUM"
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true and " + msg)
	}
	t.Skip(msg)
	return ""
}

// screenshotDir is ui-test/screenshots of the repository, emptied, or $OPPSYNC_UI_SCREENSHOTS.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("OPPSYNC_UI_SCREENSHOTS")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(wd, "screenshots")
	}
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// demoStack is a running `devstack demo`, as the test reads it from the demo's output.
type demoStack struct {
	ui, codec, namespace, token string
}

func (d demoStack) workflowPage(id string) string {
	return strings.TrimSuffix(d.ui, "/") + "/namespaces/" + url.PathEscape(d.namespace) + "/workflows/" + url.PathEscape(id)
}

var (
	uiLine       = regexp.MustCompile(`^\s+Temporal Web UI\s+(http://\S+)`)
	workflowLine = regexp.MustCompile(`^\s+The workflow\s+http://\S+/namespaces/([^/\s]+)/workflows/`)
	codecLine    = regexp.MustCompile(`^\s+Codec server\s+(http://\S+)`)
)

// startDemo runs `devstack demo` (built by make build) until it says it is running, and
// stops it at the end of the test.
func startDemo(t *testing.T) demoStack {
	t.Helper()
	if out := os.Getenv("OPPSYNC_UI_DEMO_OUTPUT"); out != "" {
		// A demo already running (its output in that file, its --dir beside): for working
		// on this test without starting a demo each time.
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return readDemo(t, f, os.Getenv("OPPSYNC_UI_DEMO_DIR"), out)
	}
	binDir, err := devstack.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "devstack")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not found: run `make build` (make ui-test does)", bin)
	}
	dir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(bin, "demo", "--dir", dir)
	cmd.Env = append(os.Environ(), "OPPSYNC_DEMO_EXIT=0")
	logPath := filepath.Join(t.TempDir(), "demo.out")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = io.MultiWriter(logf, pw), logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { err := cmd.Wait(); pw.Close(); exited <- err }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(90 * time.Second):
			_ = cmd.Process.Kill()
		}
		logf.Close()
		if t.Failed() {
			t.Logf("the demo's output is in %s; its logs in %s", logPath, filepath.Join(dir, "logs"))
		}
	})

	return readDemo(t, pr, dir, logPath)
}

// readDemo reads the demo's output until it says it is running, and its token from dir.
func readDemo(t *testing.T, pr io.Reader, dir, logPath string) demoStack {
	t.Helper()
	var d demoStack
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		running := false
		for sc.Scan() {
			line := sc.Text()
			if m := uiLine.FindStringSubmatch(line); m != nil {
				d.ui = m[1]
			}
			if m := workflowLine.FindStringSubmatch(line); m != nil {
				d.namespace, _ = url.PathUnescape(m[1])
			}
			if m := codecLine.FindStringSubmatch(line); m != nil {
				d.codec = m[1]
			}
			if strings.HasPrefix(line, "==> The demo is running") {
				running = true
			}
			if running && strings.HasPrefix(line, "Ctrl-C stops") {
				ready <- nil
				_, _ = io.Copy(io.Discard, pr)
				return
			}
		}
		ready <- errors.New("the demo ended before it was running")
	}()
	select {
	case err := <-ready:
		if err != nil {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%v:\n%s", err, b)
		}
	case <-time.After(10 * time.Minute):
		b, _ := os.ReadFile(logPath)
		t.Fatalf("the demo was not running after 10 minutes:\n%s", b)
	}
	tok, err := os.ReadFile(filepath.Join(dir, "codec-token"))
	if err != nil {
		t.Fatal(err)
	}
	d.token = strings.TrimSpace(string(tok))
	if d.ui == "" || d.codec == "" || d.namespace == "" {
		t.Fatalf("could not read the UI, codec server and namespace from the demo's output (%+v)", d)
	}
	return d
}
