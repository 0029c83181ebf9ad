package otlp

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"sync"
	"time"
)

// smallInts are the strings of attempt counts and HTTP status codes, shared by every span.
var smallInts = func() []string {
	out := make([]string, 600)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

func unixNano(ns uint64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns)).UTC()
}

// copyID copies an id of exactly len(dst) bytes. With jsonIDs, an id that protojson read as
// base64 from a hex string (32 hex digits → 24 bytes, 16 → 12) is turned back into its hex
// text and decoded as hex: 32 and 16 characters are whole base64 quanta, so the round trip is
// exact. Ids already of the right length (base64 senders) are taken as they are.
func copyID(dst, id []byte, jsonIDs bool) bool {
	if len(id) == len(dst) {
		copy(dst, id)
		return true
	}
	if !jsonIDs || len(id)*4 != len(dst)*2*3 {
		return false
	}
	text := base64.StdEncoding.EncodeToString(id)
	_, err := hex.Decode(dst, []byte(text))
	return err == nil
}

// interner shares the strings that repeat across spans (service and span names, attribute
// keys and values), so millions of spans hold one copy of each. It stops growing at max
// entries; beyond that strings are kept as they come.
type interner struct {
	mu  sync.RWMutex
	m   map[string]string
	max int
}

func newInterner(max int) *interner { return &interner{m: make(map[string]string, 256), max: max} }

func (in *interner) get(s string) string {
	if s == "" {
		return ""
	}
	in.mu.RLock()
	v, ok := in.m[s]
	in.mu.RUnlock()
	if ok {
		return v
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if v, ok := in.m[s]; ok {
		return v
	}
	if len(in.m) >= in.max {
		return s
	}
	in.m[s] = s
	return s
}

// getBytes is get for a string still in the request's bytes: a string shared already costs no
// allocation (the map lookup converts without copying).
func (in *interner) getBytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	in.mu.RLock()
	v, ok := in.m[string(b)]
	in.mu.RUnlock()
	if ok {
		return v
	}
	return in.get(string(b))
}
