//go:build !linux

package promstack

import "syscall"

// sysProcAttr has no parent-death signal outside Linux; there the t.Cleanup
// stop is the only guard against leftover processes.
func sysProcAttr() *syscall.SysProcAttr { return nil }
