package link

import (
	"crypto/rand"
	"fmt"
)

// CodeLength is the length of generated codes: 62^8 ≈ 2.2e14, so collisions are rare and
// handled by retrying on the unique constraint.
const CodeLength = 8

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewCode returns a random base62 code from crypto/rand, without modulo bias.
func NewCode() (string, error) {
	out := make([]byte, 0, CodeLength)
	var buf [16]byte
	for len(out) < CodeLength {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("link: code: %w", err)
		}
		for _, b := range buf {
			// 248 = 4*62: bytes above it would favour the first characters.
			if b < 248 && len(out) < CodeLength {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out), nil
}

// ValidCode reports whether s could be a code (base62, 1–32 characters).
func ValidCode(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
