package promstack

import "syscall"

// sysProcAttr asks the kernel to SIGKILL the child if the test binary dies
// without running its cleanups (go test -timeout panics, os.Exit, a crash).
// t.Cleanup alone cannot guarantee "no processes left behind" in those cases.
//
// Pdeathsig is tied to the OS thread that started the child; the Go runtime
// only retires threads whose goroutine exits while locked with
// runtime.LockOSThread, which this package never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
