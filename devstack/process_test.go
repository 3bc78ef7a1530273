package devstack_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oppsync/oppsync/devstack"
)

// A process from StartProcess runs in its own process group, writes to its log, stops on
// SIGTERM, and a second Stop says it had already exited.
func TestStartProcessStop(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "child.log")
	p, err := devstack.StartProcess("the child", "/bin/sh", []string{"-c", "echo started; exec sleep 600"}, os.Environ(), logPath)
	if err != nil {
		t.Fatal(err)
	}
	if pgid, err := syscall.Getpgid(p.Pid()); err != nil || pgid != p.Pid() {
		t.Errorf("process group of %d is %d (%v), want its own", p.Pid(), pgid, err)
	}
	waitForLog(t, p, logPath, "started")
	if err := p.Stop(time.Minute); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	<-p.Done()
	if p.Err() == nil || !strings.Contains(p.Err().Error(), "terminated") {
		t.Errorf("exit status %v, want terminated by SIGTERM", p.Err())
	}
	if err := p.Stop(time.Minute); err == nil || !strings.Contains(err.Error(), "the child had already exited") {
		t.Errorf("second Stop: %v, want had already exited", err)
	}
}

// A process that ignores SIGTERM is killed after the timeout, and Stop says so.
func TestStartProcessKillsWhatIgnoresSIGTERM(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "child.log")
	p, err := devstack.StartProcess("the stubborn child", "/bin/sh",
		[]string{"-c", `trap "" TERM; echo trapped; while :; do sleep 1; done`}, os.Environ(), logPath)
	if err != nil {
		t.Fatal(err)
	}
	waitForLog(t, p, logPath, "trapped")
	err = p.Stop(10 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "the stubborn child did not stop within 10ms of SIGTERM and was killed") {
		t.Fatalf("Stop: %v, want killed", err)
	}
}

// StartProcess names the process and the binary when it cannot start.
func TestStartProcessMissingBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "no-such-binary")
	_, err := devstack.StartProcess("the worker", bin, nil, nil, filepath.Join(t.TempDir(), "w.log"))
	if err == nil || !strings.Contains(err.Error(), "start the worker "+bin) {
		t.Fatalf("err %v, want it to name the worker and %s", err, bin)
	}
}

// waitForLog waits until the log at path holds text, failing if the process exits first.
func waitForLog(t *testing.T, p *devstack.Process, path, text string) {
	t.Helper()
	for {
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(text)) {
			return
		}
		select {
		case <-p.Done():
			t.Fatalf("exited (%v) before writing %q", p.Err(), text)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
