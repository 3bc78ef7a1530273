//go:build unix && !linux

package main

import "syscall"

// childSysProcAttr puts the worker in its own process group, so that Ctrl-C reaches only
// devstack, which then stops it in order.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
