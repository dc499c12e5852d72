//go:build !unix

package main

import (
	"os"
	"time"
)

func maxRSSKiB(*os.ProcessState) int64 { return -1 }

func selfCPU() time.Duration { return -1 }

func settle() {}
