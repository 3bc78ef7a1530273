//go:build unix && !linux

package devstack

import "syscall"

// ChildSysProcAttr is the SysProcAttr of every child process devstack starts (the stack's
// servers, StartProcess) and of the ones tests and benchmarks start themselves. It puts the
// child in its own process group, so that the stack's Stop can signal a server and anything
// it spawned at once and Ctrl-C in a terminal reaches only this process, which stops its
// children in order. (Only Linux can have the kernel kill a child whose parent died.)
func ChildSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
