package devstack

import "syscall"

// childSysProcAttr puts a child in its own process group, so Stop can signal the child and
// anything it spawned at once, and has the kernel kill it if this process dies first, so a
// crashed test run leaves no servers behind. (Pdeathsig fires when the forking OS thread
// exits; Go only ends threads whose goroutine exits while locked to them.)
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
