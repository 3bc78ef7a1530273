package devstack

import "syscall"

// childSysProcAttr puts a child in its own process group, so Stop can signal the child and
// anything it spawned at once, and has the kernel kill it if this process dies first, so a
// crashed test run leaves no servers behind.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
