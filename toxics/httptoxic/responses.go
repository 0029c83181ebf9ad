package httptoxic

import (
	"bytes"
	"time"

	tptoxics "github.com/Shopify/toxiproxy/v2/toxics"
)

type respMode uint8

const (
	respUnpaired respMode = iota // not paired: pass on, telling the caller to reconnect once
	respHead                     // between responses: the next slot decides
	respBody                     // inside a forwarded body
	respCut                      // http_reset: cutLeft more bytes, then close
	respPass                     // not following: bytes pass untouched
	respClosed                   // this side closed the connection
)

// respState is the responses half's state for one connection.
type respState struct {
	p       *pair
	buf     []byte
	mode    respMode
	body    body
	cutLeft int
}

func (e *engine) pipeResponses(stub *tptoxics.ToxicStub, st *respState) {
	o := &out{stub: stub}
	for {
		closed := e.stepResponses(stub, st, o)
		o.flush()
		if closed {
			closeStub(stub)
			return
		}
		var notify <-chan struct{}
		if st.p != nil {
			notify = st.p.notify
		}
		select {
		case <-stub.Interrupt:
			return
		case <-notify:
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			st.buf = appendData(st.buf, c.Data)
		}
	}
}

var closeHeader = []byte("Connection: close\r\n")

// stepResponses handles what is buffered and every answer due; true means the connection
// is to be closed (st.mode is respClosed).
func (e *engine) stepResponses(stub *tptoxics.ToxicStub, st *respState, o *out) bool {
	for {
		switch st.mode {
		case respClosed:
			return true
		case respPass:
			o.add(st.buf)
			st.buf = nil
			return false
		case respUnpaired:
			// A connection from before the fault: ask the caller to replace it, at the first
			// chunk that starts with a whole response head (a chunk in the middle of a body
			// is left alone), then stop looking.
			if len(st.buf) == 0 {
				return false
			}
			if bytes.HasPrefix(st.buf, []byte("HTTP/1.")) {
				if n := headEnd(st.buf); n > 0 {
					if _, err := parseResponseHead(st.buf[:n]); err == nil {
						o.add(st.buf[:n-2])
						o.flush()
						o.add(closeHeader)
						o.flush()
						st.buf = st.buf[n-2:]
						st.mode = respPass
						e.g.c.recycled.Add(1)
						continue
					}
				}
			}
			o.add(st.buf)
			st.buf = nil
			return false
		case respBody:
			if len(st.buf) == 0 {
				return false
			}
			n, done, err := st.body.consume(st.buf)
			o.add(st.buf[:n])
			st.buf = st.buf[n:]
			if err != nil {
				e.respPassthrough(st, true)
				continue
			}
			if done {
				st.mode = respHead
			}
		case respCut:
			take := min(st.cutLeft, len(st.buf))
			o.add(st.buf[:take])
			st.buf, st.cutLeft = st.buf[take:], st.cutLeft-take
			if st.cutLeft > 0 {
				return false
			}
			st.mode = respClosed
		case respHead:
			if !e.response(st, o) {
				return false
			}
		}
	}
}

func (e *engine) respPassthrough(st *respState, count bool) {
	if count {
		e.g.c.passthrough.Add(1)
	}
	e.g.c.passthroughBytes.Add(int64(len(st.buf)))
	st.mode = respPass
}

// response starts the next response: an answer of its own, or one from upstream matched with
// its slot. False means it needs more bytes.
func (e *engine) response(st *respState, o *out) bool {
	p := st.p
	p.mu.Lock()
	if len(p.queue) > 0 && p.queue[0].answer != nil {
		s := p.queue[0]
		p.queue = p.queue[1:]
		p.mu.Unlock()
		o.add(s.answer)
		if s.closeAfter {
			st.mode = respClosed
		}
		return true
	}
	if len(st.buf) == 0 {
		p.mu.Unlock()
		return false
	}
	if len(p.queue) == 0 {
		// A response nobody announced: the requests half is gone (healing: not counted) or
		// the stream is not what it seemed.
		gone := p.upGone
		p.mu.Unlock()
		e.respPassthrough(st, !gone)
		return true
	}
	s := p.queue[0]
	p.mu.Unlock()
	n := headEnd(st.buf)
	if n < 0 {
		if len(st.buf) > maxHead {
			e.respPassthrough(st, true)
			return true
		}
		return false
	}
	h, err := parseResponseHead(st.buf[:n])
	if err != nil {
		e.respPassthrough(st, true)
		return true
	}
	if h.status < 200 && h.status != 101 { // interim: the final response follows for the same slot
		o.add(st.buf[:n])
		st.buf = st.buf[n:]
		return true
	}
	p.mu.Lock()
	p.queue = p.queue[1:]
	p.mu.Unlock()
	if s.tunnel && (h.status == 101 || h.status/100 == 2) {
		e.respPassthrough(st, true)
		return true
	}
	hasBody, untilClose := true, false
	switch {
	case s.head || h.status == 204 || h.status == 304:
		hasBody = false
	case h.chunked:
		st.body = chunkedBody()
	case h.contentLength >= 0:
		st.body = fixedBody(h.contentLength)
		hasBody = h.contentLength > 0
	default:
		untilClose = true
	}
	if s.cut {
		st.mode, st.cutLeft = respCut, n // the head, then close before the body
		switch {
		case !hasBody:
			st.cutLeft = n / 2 // no body to cut: cut the head
		case !h.chunked && !untilClose:
			st.cutLeft = n + int(h.contentLength/2)
		}
		return true
	}
	o.add(st.buf[:n])
	st.buf = st.buf[n:]
	switch {
	case untilClose:
		st.mode = respPass // the body runs to the end of the connection
	case hasBody:
		st.mode = respBody
	}
	return true
}

// due says whether the responses half still owes its caller something it alone can give.
func (st *respState) due() bool {
	if st.mode == respCut {
		return true
	}
	if st.p == nil || st.mode == respClosed || st.mode == respPass {
		return false
	}
	st.p.mu.Lock()
	defer st.p.mu.Unlock()
	for _, s := range st.p.queue {
		if s.answer != nil || s.cut {
			return true
		}
	}
	return false
}

// cleanupResponses runs on removal: it stays until every queued answer is given (bounded by
// cleanupWait, then the connection is closed rather than left waiting forever), then flushes.
func (e *engine) cleanupResponses(stub *tptoxics.ToxicStub, st *respState) {
	if st.p != nil {
		st.p.mu.Lock()
		st.p.downGone = true
		st.p.mu.Unlock()
	}
	o := &out{stub: stub}
	deadline := time.NewTimer(cleanupWait)
	defer deadline.Stop()
	for {
		if e.stepResponses(stub, st, o) {
			o.flush()
			closeStub(stub)
			return
		}
		if !st.due() {
			break
		}
		o.flush()
		select {
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			st.buf = appendData(st.buf, c.Data)
		case <-deadline.C:
			closeStub(stub)
			return
		}
	}
	o.add(st.buf)
	st.buf = nil
	o.flush()
}
