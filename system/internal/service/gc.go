package service

import "runtime/debug"

// DefaultGCPercent is every service's GC target when GOGC is not set. A service's live heap
// is a few MB and its garbage is per-request (spans, headers, buffers), so at Go's default of
// 100 the collector ran every few ms under load: 9.6 % of the gateway's CPU on a cached
// redirect (pprof, 2026-12-02, BENCHMARKS.md "Hot path"). Four times the headroom costs tens
// of MB per process and cuts that work about four times.
const DefaultGCPercent = 400

// gcPercent is the GC target to set, or false to leave GOGC's.
func gcPercent(getenv func(string) string) (int, bool) {
	if getenv != nil && getenv("GOGC") != "" {
		return 0, false
	}
	return DefaultGCPercent, true
}

func setGCPercent(getenv func(string) string) {
	if p, ok := gcPercent(getenv); ok {
		debug.SetGCPercent(p)
	}
}
