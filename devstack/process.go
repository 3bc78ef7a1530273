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

// child is one server process of the stack, with its output in a log file.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited
	waitErr error         // the exit status; read only after done is closed
}

// spawn starts bin with args and extra environment variables, its stdout and stderr going
// to logDir/name.log.
func spawn(name, logDir string, env []string, bin string, args ...string) (*child, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("devstack: %s: open log: %w", name, err)
	}
	fmt.Fprintf(logFile, "\n=== devstack %s: %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))

	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("devstack: start %s (%s): %w", name, bin, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the child's whole process group.
func (c *child) signal(sig syscall.Signal) {
	if !c.exited() {
		_ = syscall.Kill(-c.cmd.Process.Pid, sig)
	}
}

// waitReady polls probe until it succeeds, the child exits, ctx ends or timeout passes.
// Its errors name the log file and quote its last lines.
func (c *child) waitReady(ctx context.Context, timeout time.Duration, probe func(context.Context) error) error {
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
func (c *child) failure(what string) error {
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
