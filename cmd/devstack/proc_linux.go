package main

import "syscall"

// childSysProcAttr puts the worker in its own process group, so that Ctrl-C reaches only
// devstack, which then stops it in order, and has the kernel kill it if devstack dies
// first, so that no worker outlives its stack. (Pdeathsig fires when the forking OS thread
// exits; Go only ends threads whose goroutine exits while locked to them.)
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
