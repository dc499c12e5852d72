//go:build !linux

package acmetest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
