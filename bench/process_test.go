package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oppsync/oppsync/devstack"
)

// The benchmark runs what operators run: the worker and starter binaries, those of
// $OPPSYNC_BENCH_BINARIES (`make bench` builds bin/ and points it there), else built from
// this checkout as `make build` builds them, once per `go test` process.
var binaries struct {
	once sync.Once
	dir  string // a temporary directory the binaries were built into, removed at the end
	bin  string // where the binaries are
	err  error
}

// buildBinaries builds ./cmd/oppsync-worker and ./cmd/starter into a temporary directory (once) and returns
// the paths of oppsync-worker and starter.
func buildBinaries(b *testing.B) (worker, starter string) {
	b.Helper()
	binaries.once.Do(func() {
		if dir := os.Getenv(envBinaries); dir != "" {
			for _, name := range []string{"oppsync-worker", "starter"} {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					binaries.err = fmt.Errorf("%s=%s: %w (run `make build`)", envBinaries, dir, err)
					return
				}
			}
			binaries.bin = dir
			return
		}
		dir, err := os.MkdirTemp("", "oppsync-bench-bin-")
		if err != nil {
			binaries.err = err
			return
		}
		binaries.dir, binaries.bin = dir, dir
		for _, c := range [][]string{
			{"go", "build", "-o", filepath.Join(dir, "oppsync-worker"), "../cmd/oppsync-worker"},
			{"go", "build", "-o", filepath.Join(dir, "starter"), "../cmd/starter"},
		} {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				binaries.err = fmt.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
				return
			}
		}
	})
	if binaries.err != nil {
		b.Fatal(binaries.err)
	}
	return filepath.Join(binaries.bin, "oppsync-worker"), filepath.Join(binaries.bin, "starter")
}

// envBinaries names a directory holding the oppsync-worker and starter binaries to run.
const envBinaries = "OPPSYNC_BENCH_BINARIES"

// starterCLI runs the starter binary with a stack's environment, as an operator's shell
// with `devstack up`'s stack.env sourced would.
type starterCLI struct {
	bin string
	env []string
}

func newStarter(b *testing.B, env []string) *starterCLI {
	b.Helper()
	_, bin := buildBinaries(b)
	return &starterCLI{bin: bin, env: env}
}

// run runs `starter args...` and returns its standard output; a non-zero exit fails the
// benchmark with everything the command printed.
func (s *starterCLI) run(b *testing.B, args ...string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = append(os.Environ(), s.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("starter %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// runMayFail runs `starter args...` and returns its standard output and error output, and
// the error of a non-zero exit (which `sync-now --wait` gives when the cycle had errors).
func (s *starterCLI) runMayFail(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = append(os.Environ(), s.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// workerProcess is the real worker binary running as a child process.
type workerProcess struct {
	cmd        *exec.Cmd
	httpListen string
	logPath    string
	done       chan struct{}
}

// startWorkerProcess runs the worker binary on taskQueue with the stack's environment plus
// extra (later entries win), as an operator runs it: default flags but for the task queue
// and the metrics address, plus any in $OPPSYNC_BENCH_WORKER_ARGS. It stops when the
// benchmark ends.
func startWorkerProcess(b *testing.B, env []string, taskQueue string, extra ...string) *workerProcess {
	b.Helper()
	return startWorkerProcessArgs(b, env, taskQueue, nil, extra...)
}

// startWorkerProcessArgs is startWorkerProcess with more worker flags.
func startWorkerProcessArgs(b *testing.B, env []string, taskQueue string, flags []string, extra ...string) *workerProcess {
	b.Helper()
	bin, _ := buildBinaries(b)
	listen := freeAddr(b)
	args := []string{"--task-queue", taskQueue, "--log-format", "json", "--http-listen", listen}
	args = append(args, flags...)
	args = append(args, strings.Fields(os.Getenv(envWorkerArgs))...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), env...), extra...)
	cmd.SysProcAttr = devstack.ChildSysProcAttr()
	logPath := filepath.Join(b.TempDir(), "worker.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := &workerProcess{cmd: cmd, httpListen: listen, logPath: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(w.done) }()
	b.Cleanup(func() {
		w.stop()
		_ = logFile.Close()
		if b.Failed() {
			if log, err := os.ReadFile(logPath); err == nil {
				b.Logf("worker log (last 4 KB):\n%s", log[max(0, len(log)-4096):])
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + listen + "/healthz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return w
			}
		}
		select {
		case <-w.done:
			log, _ := os.ReadFile(logPath)
			b.Fatalf("worker exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("worker not healthy after 30s (log %s)", logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the worker to exit (SIGKILL after 15 s).
func (w *workerProcess) stop() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(15 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

// rss is the worker's resident memory (VmRSS), hwm its peak (VmHWM), in bytes.
func (w *workerProcess) rss(b *testing.B) int64 {
	return statusKB(b, w.cmd.Process.Pid, "VmRSS:") << 10
}
func (w *workerProcess) hwm(b *testing.B) int64 {
	return statusKB(b, w.cmd.Process.Pid, "VmHWM:") << 10
}

func (w *workerProcess) cpu(b *testing.B) time.Duration {
	b.Helper()
	d := procCPU(w.cmd.Process.Pid)
	if d < 0 {
		b.Fatal("read the worker's CPU time from /proc")
	}
	return d
}

// scrape reads the worker's /metrics into name → value for series without labels, and
// the sum over series for the others.
func (w *workerProcess) scrape(b *testing.B) map[string]float64 {
	b.Helper()
	resp, err := http.Get("http://" + w.httpListen + "/metrics")
	if err != nil {
		b.Fatalf("scrape the worker's /metrics: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[name] += v
		}
	}
	return out
}

// statusKB reads a "Name: N kB" line of /proc/<pid>/status.
func statusKB(b *testing.B, pid int, field string) int64 {
	b.Helper()
	n, err := readStatusKB(pid, field)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func readStatusKB(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status %s: %w", pid, field, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// clockTick is the kernel's USER_HZ, the unit of /proc/<pid>/stat's times: 100 on Linux.
const clockTick = 100

// procCPU returns the user+system CPU time of pid and its waited-for children, or -1.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return -1
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name (field 2) may hold spaces: count fields after its closing paren.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return -1
	}
	return time.Duration(utime+stime) * time.Second / clockTick
}

// findProcess returns the pid of a process whose command line contains every word, or 0.
func findProcess(words ...string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		s := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(s, w) }) {
			return pid
		}
	}
	return 0
}

// temporalServerPID is the pid of the stack's Temporal dev server, or 0.
func (s *benchStack) temporalServerPID() int {
	return findProcess("start-dev", s.TemporalAddress[strings.LastIndex(s.TemporalAddress, ":")+1:])
}

func freeAddr(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
