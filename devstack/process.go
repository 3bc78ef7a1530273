package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// errAbandoned marks a readiness wait given up because ctx ended before the check failed.
var errAbandoned = errors.New("startup abandoned")

// Process is a child process: one of the stack's servers (started by the stack) or a
// binary a caller runs beside it with StartProcess, such as the demo's worker and codec
// server. Its stdout and stderr go to a log file; it runs in its own process group and,
// on Linux, is killed by the kernel should this process die first (ChildSysProcAttr).
type Process struct {
	name    string // "temporal", "the worker": names it in errors
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited
	waitErr error         // the exit status; read only after done is closed
}

// spawn starts one of the stack's servers: bin with args and this process's environment
// plus env, its stdout and stderr going to logDir/name.log after a line naming the command.
func spawn(name, logDir string, env []string, bin string, args ...string) (*Process, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("devstack: %s: open log: %w", name, err)
	}
	fmt.Fprintf(logFile, "\n=== devstack %s: %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))

	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	p, err := start(name, cmd, logFile, logPath)
	if err != nil {
		return nil, fmt.Errorf("devstack: start %s (%s): %w", name, bin, err)
	}
	return p, nil
}

// StartProcess starts bin with args and exactly the environment env, its stdout and stderr
// appended to logPath; what ("the worker") names it in errors. Its own process group means
// that Ctrl-C in a terminal reaches only this process, which can then stop the child before
// the stack it depends on (Stop).
func StartProcess(what, bin string, args, env []string, logPath string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the log of %s: %w", what, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	p, err := start(what, cmd, logFile, logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s %s: %w", what, bin, err)
	}
	return p, nil
}

// start starts cmd with its output going to logFile, which it closes once the process has
// exited (or failed to start).
func start(name string, cmd *exec.Cmd, logFile *os.File, logPath string) (*Process, error) {
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = ChildSysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	p := &Process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process's id, which is also its process group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the process's exit status (nil for exit code 0); valid only once Done is closed.
func (p *Process) Err() error { return p.waitErr }

// Stop sends the process SIGTERM, which lets a worker's running activities finish, and
// waits up to timeout before killing it. It reports a process that had already exited, or
// that had to be killed.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return fmt.Errorf("%s had already exited (%v)", p.name, p.waitErr)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", p.name, timeout)
	}
}

// exited reports whether the process has ended.
func (p *Process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the child's whole process group.
func (c *Process) signal(sig syscall.Signal) {
	if !c.exited() {
		_ = syscall.Kill(-c.cmd.Process.Pid, sig)
	}
}

// waitReady polls probe until it succeeds, the child exits, ctx ends or timeout passes.
// Its errors name the log file and quote its last lines.
func (c *Process) waitReady(ctx context.Context, timeout time.Duration, probe func(context.Context) error) error {
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		probeCtx, probeCancel := context.WithTimeout(ctx, 2*time.Second)
		last = probe(probeCtx)
		probeCancel()
		if last == nil {
			return nil
		}
		select {
		case <-c.done:
			return c.failure(fmt.Sprintf("exited during startup (%v)", c.waitErr))
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return c.failure(fmt.Sprintf("not ready after %v (last check: %v)", time.Since(began).Round(time.Millisecond), last))
			}
			return fmt.Errorf("devstack: %s: %w (%v)", c.name, errAbandoned, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// failure describes a startup failure with the log's path and tail, so that a failed test
// run is diagnosable from its output alone.
func (c *Process) failure(what string) error {
	return fmt.Errorf("devstack: %s %s; see %s%s", c.name, what, c.logPath, logTail(c.logPath, 15))
}

// logTail returns the last n lines of the file at path, indented, or "" if unreadable.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	b.WriteString(":")
	for _, l := range lines {
		b.WriteString("\n\t")
		b.Write(l)
	}
	return b.String()
}

// freePorts finds n distinct free TCP ports. Each is free on every interface, because
// local-kms binds 0.0.0.0 and panics when its port is taken. The listeners are held until
// all ports are chosen so that no port is returned twice; another process may still take
// one before the server binds it, which the readiness checks then report.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			return nil, fmt.Errorf("devstack: find a free port: %w", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
