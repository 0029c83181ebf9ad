// Package shortcode makes and checks the base62 short codes of links: link generates them,
// gateway, redirect and analytics refuse anything else before it costs a call, a Redis key or a
// database row.
package shortcode

import (
	"crypto/rand"
	"fmt"
)

const (
	// Length is the length of generated codes: 62^8 ≈ 2.2e14, so collisions are rare and
	// handled by retrying on the unique constraint.
	Length = 8
	// MaxLen bounds a code accepted anywhere; Generate never makes longer ones.
	MaxLen = 32
	// Alphabet is the base62 alphabet of codes.
	Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// Rule says what a valid code is, for error answers.
	Rule = "code: want 1 to 32 characters from [0-9A-Za-z]"
)

// Generate returns a random code of Length base62 characters from crypto/rand, without
// modulo bias.
func Generate() (string, error) {
	out := make([]byte, 0, Length)
	var buf [16]byte
	for len(out) < Length {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("shortcode: %w", err)
		}
		for _, b := range buf {
			// 248 = 4*62: bytes above it would favour the first characters.
			if b < 248 && len(out) < Length {
				out = append(out, Alphabet[b%62])
			}
		}
	}
	return string(out), nil
}

// Valid says whether code is 1..MaxLen base62 characters.
func Valid(code string) bool {
	if len(code) == 0 || len(code) > MaxLen {
		return false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
