package main

import (
	"os"
	"runtime/debug"
)

// Memory and collector tuning for the commands that do bulk work.

// releaseLoadGarbage collects and returns to the OS what loading the
// configuration left behind. Right after spec.Load most of the heap is
// garbage (parse trees, intermediate values: several times what the
// Config keeps), so the read-only commands call it before they map and
// read the state: their peak memory stays the loader's, instead of the
// state (some 30 MB of file and 15 MB of records for 10,000 certificates)
// stacking on top of the loader's garbage. The cost is one collection of
// a small live heap.
//
// A default soft memory limit (debug.SetMemoryLimit) would trim the
// loader's own peak too, but once the loader's live heap exceeds it (a
// larger configuration) the collector runs without pause: plan over
// 10,000 certificates took 2.7 times the CPU under a limit of half its
// live peak. GOMEMLIMIT remains the user's choice.
func releaseLoadGarbage() {
	debug.FreeOSMemory()
}

// applyGCPercent is the GOGC apply runs with (see tuneGCForApply).
const applyGCPercent = 400

// tuneGCForApply spaces out collections for apply, from before the
// configuration is loaded. Loading allocates several times what it keeps
// (parse trees, intermediate values), and signing is CPU-bound and
// allocates some 50 KB per certificate that dies at once (key generation,
// ASN.1, PEM), over a live heap that hardly changes (the configuration
// and the plan). At GOGC=100 the collector runs every few certificates
// and marks that live heap again each time. Unless GOGC is set, apply
// runs at GOGC=400: a heap of up to five times the live one, and at
// least 16 MiB (the runtime's 4 MiB minimum scales with GOGC).
//
// In `make bench`, apply of 1,000 certificates spent 15-25% more CPU at
// GOGC=100. Tuning before the load instead of after it saves the load's
// three collections and a forced one (6-8 ms of a 300 ms apply); the peak
// RSS of applying 10,000 certificates went from 126 to 131 MB.
func tuneGCForApply() {
	if os.Getenv("GOGC") != "" {
		return // the user tuned the collector
	}
	debug.SetGCPercent(applyGCPercent)
}
