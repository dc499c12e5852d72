//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// maxRSSKiB is the peak resident set size of an exited child, in KiB, or -1
// if the OS did not report it.
func maxRSSKiB(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return -1
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss) / 1024 // bytes there, KiB elsewhere
	}
	return int64(ru.Maxrss)
}

// selfCPU is the CPU time (user + system) this process has used so far, or
// -1 if unknown.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// settle flushes the file systems' dirty data before a timed run, so that
// the writeback of earlier runs (thousands of target files, a deleted
// state) is not done during this one: it would fall on whichever run
// comes next, and the fsyncs of a run stall behind it.
func settle() { syscall.Sync() }
