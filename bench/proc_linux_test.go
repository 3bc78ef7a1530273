package bench

import "syscall"

// childAttr has the kernel kill a worker process started by the benchmark if the benchmark
// dies first (a timeout, an interrupt), as devstack does for its servers.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
