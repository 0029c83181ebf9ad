package otlp

import (
	"strings"
	"testing"
)

func TestTelemetry(t *testing.T) {
	h := Stats{Received: 10}.Telemetry(0)
	if h.SpansReceived != 10 || len(h.Notes) != 0 || !(Stats{Received: 10}).Complete() {
		t.Errorf("clean run: %+v", h)
	}
	st := Stats{Received: 5, Dropped: 2, Rejected: 1, BadRequests: 3, ForwardDropped: 4}
	h = st.Telemetry(7)
	if h.SpansDroppedByLab != 2 || h.SpansRejected != 1 || h.SpansDroppedBySDK != 7 || h.ExportsRefused != 3 || len(h.Notes) != 5 || st.Complete() {
		t.Errorf("lossy run: %+v", h)
	}
	if !strings.Contains(strings.Join(h.Notes, "\n"), "3 export requests were refused") {
		t.Errorf("notes %q", h.Notes)
	}
}
