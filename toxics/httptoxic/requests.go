package httptoxic

import (
	"time"

	tptoxics "github.com/Shopify/toxiproxy/v2/toxics"
)

type reqMode uint8

const (
	reqHead    reqMode = iota // waiting for a request head
	reqBody                   // inside a body: forwarding it, or dropping it (drop)
	reqHold                   // holding a chosen request (http_latency) until `until`
	reqPass                   // not following: bytes pass untouched
	reqDiscard                // answered with Connection: close: nothing more goes upstream
)

// reqState is the requests half's state for one connection.
type reqState struct {
	p     *pair // nil: this connection is not paired
	buf   []byte
	mode  reqMode
	body  body
	drop  bool
	after reqMode // mode after the body: reqHead, or reqPass after an upgrade
	held  []byte
	until time.Time
}

func (e *engine) pipeRequests(stub *tptoxics.ToxicStub, st *reqState) {
	o := &out{stub: stub}
	for {
		ok := e.stepRequests(stub, st, o, true)
		o.flush()
		if !ok {
			return
		}
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				st.gone()
				stub.Close()
				return
			}
			st.buf = appendData(st.buf, c.Data)
		}
	}
}

func (st *reqState) gone() {
	if st.p != nil {
		st.p.mu.Lock()
		st.p.upGone = true
		st.p.mu.Unlock()
		st.p.wake()
	}
}

// stepRequests handles what is buffered; false means it was interrupted while waiting.
func (e *engine) stepRequests(stub *tptoxics.ToxicStub, st *reqState, o *out, wait bool) bool {
	for {
		switch st.mode {
		case reqPass:
			e.g.c.passthroughBytes.Add(int64(len(st.buf)))
			o.add(st.buf)
			st.buf = nil
			return true
		case reqDiscard:
			st.buf = nil
			return true
		case reqHold:
			if d := time.Until(st.until); d > 0 && wait {
				o.flush()
				t := time.NewTimer(d)
				select {
				case <-stub.Interrupt:
					t.Stop()
					return false
				case <-t.C:
				}
			}
			o.add(st.held)
			st.held, st.mode = nil, reqBody
		case reqBody:
			n, done, err := st.body.consume(st.buf)
			if !st.drop {
				o.add(st.buf[:n])
			}
			st.buf = st.buf[n:]
			if err != nil {
				if st.drop { // the rest cannot be told from the next request: end the connection
					o.flush()
					st.mode = reqDiscard
					closeStub(stub)
					return false
				}
				e.passthrough(&st.mode)
				continue
			}
			if !done {
				return true
			}
			st.mode, st.drop = st.after, false
		case reqHead:
			if len(st.buf) == 0 {
				return true
			}
			n := headEnd(st.buf)
			if n < 0 {
				if len(st.buf) > maxHead {
					e.passthrough(&st.mode)
					continue
				}
				return true
			}
			h, err := parseRequestHead(st.buf[:n])
			if err != nil {
				e.passthrough(&st.mode)
				continue
			}
			if !e.request(stub, st, o, h, n, wait) {
				return false
			}
		}
	}
}

func (e *engine) passthrough(mode *reqMode) {
	e.g.c.passthrough.Add(1)
	*mode = reqPass
}

// request decides what happens to one request whose head is st.buf[:n].
func (e *engine) request(stub *tptoxics.ToxicStub, st *reqState, o *out, h head, n int, wait bool) bool {
	if st.p != nil && e.kind != kindLatency {
		select {
		case <-st.p.attached:
		default:
			if !wait {
				st.p = nil
				break
			}
			o.flush()
			t := time.NewTimer(attachWait)
			select {
			case <-st.p.attached:
			case <-stub.Interrupt:
				t.Stop()
				return false
			case <-t.C:
			}
			t.Stop()
		}
	}
	c := &e.g.c
	c.requests.Add(1)
	matched := e.matches(h)
	if matched {
		c.matched.Add(1)
	}
	chosen := false
	var seq uint64
	draw := func() bool {
		seq = e.g.seq.Add(1) - 1
		if e.a.ByPath {
			return e.g.paths.pick(e.a.Seed, h.path(), e.a.Share)
		}
		return Chosen(e.a.Seed, seq, e.a.Share)
	}
	s := slot{head: h.method == "HEAD", tunnel: h.upgrade}
	switch {
	case e.kind == kindLatency:
		chosen = matched && draw()
	case st.p == nil:
		c.unfollowed.Add(1)
	default:
		p := st.p
		p.mu.Lock()
		select {
		case <-p.attached:
		default:
			p.abandoned = true
		}
		if p.abandoned || p.downGone {
			p.mu.Unlock()
			st.p = nil
			c.unfollowed.Add(1)
			break
		}
		chosen = matched && draw()
		if chosen && e.kind == kindError {
			s.closeAfter = h.connClose || h.expect100
			s.answer = e.answer(s.closeAfter)
		}
		s.cut = chosen && e.kind == kindReset
		p.queue = append(p.queue, s)
		p.mu.Unlock()
		p.wake()
	}
	head := st.buf[:n]
	st.buf = st.buf[n:]
	st.after = reqHead
	if h.upgrade {
		st.after = reqPass
	}
	switch {
	case h.chunked:
		st.body, st.mode = chunkedBody(), reqBody
	case h.contentLength > 0:
		st.body, st.mode = fixedBody(h.contentLength), reqBody
	default:
		st.mode = st.after
	}
	if !chosen {
		o.add(head)
		return true
	}
	c.affected.Add(1)
	switch e.kind {
	case kindError:
		if s.closeAfter {
			st.mode = reqDiscard
		} else if st.mode == reqBody {
			st.drop = true
		}
	case kindLatency:
		st.held = head
		st.until = time.Now().Add(e.delay(seq))
		if st.mode != reqBody {
			st.body = fixedBody(0)
		}
		st.mode = reqHold
	default:
		o.add(head)
	}
	return true
}

// cleanupRequests runs on removal: it finishes dropping a body it already answered, lets a
// held request go at once, flushes what it buffered and tells its partner no slots follow.
func (e *engine) cleanupRequests(stub *tptoxics.ToxicStub, st *reqState) {
	st.gone()
	o := &out{stub: stub}
	if st.mode == reqHold {
		o.add(st.held)
		st.held, st.mode = nil, reqBody
	}
	deadline := time.NewTimer(cleanupWait)
	defer deadline.Stop()
	for st.mode == reqBody && st.drop {
		n, done, err := st.body.consume(st.buf)
		st.buf = st.buf[n:]
		if done {
			st.drop = false
			break
		}
		if err != nil {
			o.flush()
			closeStub(stub)
			return
		}
		select {
		case c := <-stub.Input:
			if c == nil {
				o.flush()
				stub.Close()
				return
			}
			st.buf = appendData(st.buf, c.Data)
		case <-deadline.C:
			o.flush()
			closeStub(stub)
			return
		}
	}
	if st.mode != reqDiscard {
		o.add(st.buf)
	}
	st.buf = nil
	o.flush()
}
