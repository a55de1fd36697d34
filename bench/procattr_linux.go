package bench

import "syscall"

// sysProcAttr makes the kernel kill a started engine if the harness dies, so
// an interrupted run leaves no daemon behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
