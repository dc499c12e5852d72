package main

import (
	"os"
	"runtime"
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

// applyHeapHeadroom and applyGCPercent set how far the heap may grow
// between two collections while apply signs (see tuneGCForApply).
const (
	applyHeapHeadroom = 16 << 20
	applyGCPercent    = 400
)

// tuneGCForApply spaces out collections for apply. Signing is CPU-bound
// and allocates some 100 KB per certificate that dies at once (key
// generation, ASN.1, PEM), over a live heap that hardly changes (the
// configuration and the plan). At GOGC=100 the collector runs every few
// certificates and marks that live heap again each time; in `make bench`
// apply spent 15-25% more CPU than with collections spaced out. Unless
// GOGC is set, apply collects once the heap has grown by four times the
// live heap or by applyHeapHeadroom, whichever is more: a heap of at most
// five times the live one (or 16 MiB over it), none of it retained.
func tuneGCForApply() {
	if os.Getenv("GOGC") != "" {
		return // the user tuned the collector
	}
	runtime.GC() // drops the configuration loader's garbage: what is left is live
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	live := max(ms.HeapAlloc, 1<<20)
	debug.SetGCPercent(int(max(applyGCPercent, applyHeapHeadroom*100/live)))
}
