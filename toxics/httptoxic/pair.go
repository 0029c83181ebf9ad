package httptoxic

import (
	"sync"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	tptoxics "github.com/Shopify/toxiproxy/v2/toxics"
)

// pair is one connection's hand-over from the requests half to the responses half.
type pair struct {
	notify   chan struct{} // a slot with an answer was queued
	attached chan struct{} // closed when the responses half took the pair

	mu        sync.Mutex
	queue     []slot
	abandoned bool // the requests half stopped waiting for its partner: both act unpaired
	upGone    bool // the requests half was removed or its stream ended: no more slots
	downGone  bool // the responses half was removed: choose nothing more
}

func newPair() *pair {
	return &pair{notify: make(chan struct{}, 1), attached: make(chan struct{})}
}

func (p *pair) wake() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// slot is one request as the responses half needs it, queued in request order.
type slot struct {
	answer     []byte // http_error: give these bytes; the request was not forwarded
	closeAfter bool   // close the connection after the answer
	cut        bool   // http_reset: cut this response short and close
	head       bool   // a HEAD request: its response has no body
	tunnel     bool   // CONNECT or Upgrade: a 101 or 2xx ends HTTP on this connection
}

// attachWait bounds how long a request waits for the responses half of its connection, which
// Toxiproxy's accept loop creates right after the requests half (microseconds later, unless
// the API holds the proxy's lock).
const attachWait = 250 * time.Millisecond

// cleanupWait bounds how long a removal waits to finish a message in flight before it
// closes the connection rather than leave the stream out of step.
const cleanupWait = 3 * time.Second

// NewState gives each connection its state; see the package doc for how the halves pair.
func (e *engine) NewState() interface{} {
	if e.g == nil {
		return nil // no attributes were given: a no-op
	}
	switch e.a.Role {
	case RoleRequests:
		st := &reqState{}
		if e.kind != kindLatency {
			e.g.mu.Lock()
			if e.g.armed {
				st.p = newPair()
				e.g.last = st.p
			}
			e.g.mu.Unlock()
		}
		return st
	case RoleResponses:
		st := &respState{mode: respUnpaired}
		e.g.mu.Lock()
		p := e.g.last
		if !e.g.armed {
			p = nil
		}
		e.g.last = nil
		e.g.mu.Unlock()
		if p != nil {
			p.mu.Lock()
			if !p.abandoned {
				close(p.attached)
				st.p, st.mode = p, respHead
			}
			p.mu.Unlock()
		}
		return st
	}
	return nil
}

// Pipe runs one direction of one connection.
func (e *engine) Pipe(stub *tptoxics.ToxicStub) {
	switch st := stub.State.(type) {
	case *reqState:
		e.pipeRequests(stub, st)
	case *respState:
		e.pipeResponses(stub, st)
	default:
		new(tptoxics.NoopToxic).Pipe(stub)
	}
}

// Cleanup runs when the toxic is removed from a live connection; see the package doc.
func (e *engine) Cleanup(stub *tptoxics.ToxicStub) {
	switch st := stub.State.(type) {
	case *reqState:
		e.cleanupRequests(stub, st)
	case *respState:
		e.cleanupResponses(stub, st)
	}
}

// out coalesces adjacent pieces of one buffer into one chunk, so a message that is passed on
// whole costs one channel send, as with a plain toxic.
type out struct {
	stub *tptoxics.ToxicStub
	p    []byte
}

func (o *out) add(b []byte) {
	if len(b) == 0 {
		return
	}
	if n := len(o.p); n > 0 && cap(o.p) >= n+len(b) && &o.p[:n+1][n] == &b[0] {
		o.p = o.p[:n+len(b)]
		return
	}
	o.flush()
	o.p = b
}

func (o *out) flush() {
	if len(o.p) > 0 {
		o.stub.Output <- &stream.StreamChunk{Data: o.p, Timestamp: time.Now()}
		o.p = nil
	}
}

// closeStub closes the connection from this direction and keeps reading the input until it
// ends, so the toxics before this one never block on a send nobody takes.
func closeStub(stub *tptoxics.ToxicStub) {
	stub.Close()
	go func() {
		for c := range stub.Input {
			_ = c
		}
	}()
}

// appendData adds a chunk to a buffer without copying when the buffer is empty (Toxiproxy
// gives every chunk its own array, and the toxic only ever slices it).
func appendData(buf, data []byte) []byte {
	if len(buf) == 0 {
		return data
	}
	return append(buf[:len(buf):len(buf)], data...)
}
