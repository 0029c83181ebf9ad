package otlp

import (
	"fmt"

	"github.com/faultline/faultline/reports"
)

// Telemetry turns the counters into results.json's telemetry block. sdkDropped is what the
// services reported losing (each process's final count), which the receiver cannot see.
// Every loss gets a note, since a blast radius computed from missing spans is wrong.
func (s Stats) Telemetry(sdkDropped int) reports.TelemetryHealth {
	h := reports.TelemetryHealth{
		SpansReceived:     s.Received,
		SpansRejected:     s.Rejected,
		SpansDroppedByLab: s.Dropped,
		SpansDroppedBySDK: sdkDropped,
		ExportsRefused:    s.BadRequests,
	}
	if s.Dropped > 0 {
		h.Notes = append(h.Notes, fmt.Sprintf("the receiver dropped %d spans over its memory bound: raise MaxSpans or shorten the run", s.Dropped))
	}
	if s.Rejected > 0 {
		h.Notes = append(h.Notes, fmt.Sprintf("%d spans had invalid trace or span ids and were refused", s.Rejected))
	}
	if s.BadRequests > 0 {
		h.Notes = append(h.Notes, fmt.Sprintf("%d export requests were refused (malformed, too large or wrong type): their spans are missing and uncounted", s.BadRequests))
	}
	if sdkDropped > 0 {
		h.Notes = append(h.Notes, fmt.Sprintf("the services dropped %d spans (batch queue full, export failed or not flushed at exit)", sdkDropped))
	}
	if s.ForwardDropped+s.ForwardErrors > 0 {
		h.Notes = append(h.Notes, fmt.Sprintf("forwarding lost %d export bodies (%d queue full, %d refused): the lab's own spans are complete",
			s.ForwardDropped+s.ForwardErrors, s.ForwardDropped, s.ForwardErrors))
	}
	return h
}

// Complete says whether the receiver kept every span sent to it (forwarding aside).
func (s Stats) Complete() bool { return s.Dropped == 0 && s.Rejected == 0 && s.BadRequests == 0 }
