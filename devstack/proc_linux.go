package devstack

import "syscall"

// ChildSysProcAttr is the SysProcAttr of every child process devstack starts (the stack's
// servers, StartProcess) and of the ones tests and benchmarks start themselves. It puts the
// child in its own process group, so that the stack's Stop can signal a server and anything
// it spawned at once and Ctrl-C in a terminal reaches only this process, which stops its
// children in order; and it has the kernel kill the child if this process dies first, so
// that a crashed run leaves no servers or workers behind. (Pdeathsig fires when the forking
// OS thread exits; Go only ends threads whose goroutine exits while locked to them.)
func ChildSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
