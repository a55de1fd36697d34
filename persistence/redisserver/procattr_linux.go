package redisserver

import "syscall"

// sysProcAttr makes the kernel kill the server if the process that started
// it dies (a panicking or timed-out test leaves no redis-server behind).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
