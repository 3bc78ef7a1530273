//go:build unix && !linux

package devstack

import "syscall"

// childSysProcAttr puts a child in its own process group, so Stop can signal the child and
// anything it spawned at once.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
