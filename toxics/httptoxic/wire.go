package httptoxic

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// maxHead bounds a request or response head; a longer one is not followed.
const maxHead = 64 << 10

var crlfcrlf = []byte("\r\n\r\n")

// errNotHTTP says bytes are not an HTTP/1.x head (or not one this package follows).
var errNotHTTP = errors.New("httptoxic: not an HTTP/1.x message")

// head is what the toxics need of a request or response head.
type head struct {
	method, target string // requests
	status         int    // responses
	http10         bool
	contentLength  int64 // -1: none given
	chunked        bool
	connClose      bool // Connection: close, or HTTP/1.0 without keep-alive
	upgrade        bool // Upgrade header or CONNECT: the stream stops being HTTP after it
	expect100      bool
}

// headEnd returns the length of the head at the start of b (through the blank line), or -1
// while it is incomplete.
func headEnd(b []byte) int {
	i := bytes.Index(b, crlfcrlf)
	if i < 0 {
		return -1
	}
	return i + 4
}

// parseRequestHead reads "METHOD TARGET HTTP/1.x" and the headers that frame the body.
func parseRequestHead(b []byte) (head, error) {
	line, rest, _ := bytes.Cut(b, []byte("\r\n"))
	parts := strings.Split(string(line), " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || !isToken(parts[0]) {
		return head{}, errNotHTTP
	}
	h := head{method: parts[0], target: parts[1]}
	var err error
	if h.http10, err = version(parts[2]); err != nil {
		return head{}, err
	}
	if err := h.headers(rest); err != nil {
		return head{}, err
	}
	if h.method == "CONNECT" {
		h.upgrade = true
	}
	return h, nil
}

// parseResponseHead reads "HTTP/1.x NNN reason" and the headers that frame the body.
func parseResponseHead(b []byte) (head, error) {
	line, rest, _ := bytes.Cut(b, []byte("\r\n"))
	ver, st, _ := strings.Cut(string(line), " ")
	code, _, _ := strings.Cut(st, " ")
	var h head
	var err error
	if h.http10, err = version(ver); err != nil {
		return head{}, err
	}
	if len(code) != 3 {
		return head{}, errNotHTTP
	}
	if h.status, err = strconv.Atoi(code); err != nil || h.status < 100 {
		return head{}, errNotHTTP
	}
	if err := h.headers(rest); err != nil {
		return head{}, err
	}
	return h, nil
}

func version(v string) (http10 bool, err error) {
	switch v {
	case "HTTP/1.1":
		return false, nil
	case "HTTP/1.0":
		return true, nil
	}
	return false, errNotHTTP
}

// headers reads the header lines after the start line. Only the framing headers matter; a
// message whose framing is ambiguous (two different lengths, a transfer coding other than
// chunked) is not followed, as a proxy that guessed would desynchronise the stream.
func (h *head) headers(b []byte) error {
	h.contentLength = -1
	keepAlive := false
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\r\n"))
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || !isToken(string(name)) {
			return errNotHTTP
		}
		v := strings.TrimSpace(string(value))
		switch strings.ToLower(string(name)) {
		case "content-length":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || (h.contentLength >= 0 && h.contentLength != n) {
				return errNotHTTP
			}
			h.contentLength = n
		case "transfer-encoding":
			codings := strings.Split(strings.ToLower(v), ",")
			if strings.TrimSpace(codings[len(codings)-1]) != "chunked" || len(codings) > 1 {
				return errNotHTTP
			}
			h.chunked = true
		case "connection":
			for _, tok := range strings.Split(strings.ToLower(v), ",") {
				switch strings.TrimSpace(tok) {
				case "close":
					h.connClose = true
				case "keep-alive":
					keepAlive = true
				case "upgrade":
					h.upgrade = true
				}
			}
		case "upgrade":
			h.upgrade = true
		case "expect":
			h.expect100 = strings.EqualFold(v, "100-continue")
		}
	}
	if h.chunked {
		h.contentLength = -1 // chunked wins (RFC 9112 6.3)
	}
	if h.http10 && !keepAlive {
		h.connClose = true
	}
	return nil
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return s != ""
}

// path is the request target's path: origin-form as is, absolute-form without scheme and host.
func (h head) path() string {
	t := h.target
	if i := strings.Index(t, "://"); i >= 0 {
		t = t[i+3:]
		if j := strings.IndexByte(t, '/'); j >= 0 {
			t = t[j:]
		} else {
			t = "/"
		}
	}
	if i := strings.IndexAny(t, "?#"); i >= 0 {
		t = t[:i]
	}
	return t
}

// body frames one message body as its bytes arrive: a fixed length, chunked, or none.
type body struct {
	remaining int64 // fixed length: bytes left; chunked: bytes left in the current chunk
	chunked   bool
	state     chunkState
	line      []byte // a chunk-size or trailer line being read
}

type chunkState uint8

const (
	chunkSize chunkState = iota
	chunkData
	chunkDataEnd // the CRLF after a chunk's data
	chunkTrailer
	chunkDone
)

// maxLine bounds a chunk-size or trailer line.
const maxLine = 4 << 10

func fixedBody(n int64) body { return body{remaining: n} }
func chunkedBody() body      { return body{chunked: true} }

// consume takes as much of p as belongs to the body and says whether the body ended there.
func (b *body) consume(p []byte) (n int, done bool, err error) {
	if !b.chunked {
		take := int64(len(p))
		if take > b.remaining {
			take = b.remaining
		}
		b.remaining -= take
		return int(take), b.remaining == 0, nil
	}
	for n < len(p) {
		switch b.state {
		case chunkData:
			take := int64(len(p) - n)
			if take > b.remaining {
				take = b.remaining
			}
			n += int(take)
			b.remaining -= take
			if b.remaining == 0 {
				b.state = chunkDataEnd
				b.line = b.line[:0]
			}
		case chunkSize, chunkDataEnd, chunkTrailer:
			i := bytes.IndexByte(p[n:], '\n')
			if i < 0 {
				b.line = append(b.line, p[n:]...)
				n = len(p)
				if len(b.line) > maxLine {
					return n, false, errNotHTTP
				}
				return n, false, nil
			}
			b.line = append(b.line, p[n:n+i+1]...)
			n += i + 1
			line := bytes.TrimSuffix(bytes.TrimSuffix(b.line, []byte("\n")), []byte("\r"))
			b.line = b.line[:0]
			switch b.state {
			case chunkDataEnd:
				if len(line) != 0 {
					return n, false, errNotHTTP
				}
				b.state = chunkSize
			case chunkSize:
				size, _, _ := bytes.Cut(line, []byte(";"))
				v, err := strconv.ParseInt(strings.TrimSpace(string(size)), 16, 64)
				if err != nil || v < 0 {
					return n, false, errNotHTTP
				}
				if v == 0 {
					b.state = chunkTrailer
				} else {
					b.state, b.remaining = chunkData, v
				}
			case chunkTrailer:
				if len(line) == 0 {
					b.state = chunkDone
					return n, true, nil
				}
			}
		case chunkDone:
			return n, true, nil
		}
	}
	return n, b.state == chunkDone, nil
}
