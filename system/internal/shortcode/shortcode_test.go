package shortcode

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"abc", true},
		{"AZaz09", true},
		{strings.Repeat("x", MaxLen), true},
		{strings.Repeat("x", MaxLen+1), false},
		{"", false},
		{"abc-", false},
		{"a-b", false},
		{"a_b", false},
		{"a b", false},
		{"é", false},
		{"a/b", false},
		{"..", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.code); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	counts := map[byte]int{}
	const n = 5000
	for range n {
		c, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != Length || !Valid(c) {
			t.Fatalf("code %q: want %d base62 characters", c, Length)
		}
		if seen[c] {
			t.Fatalf("duplicate code %q within %d", c, n)
		}
		seen[c] = true
		for i := 0; i < len(c); i++ {
			counts[c[i]]++
		}
	}
	// Every base62 character shows up, none wildly over-represented (no modulo bias).
	if len(counts) != 62 {
		t.Fatalf("%d distinct characters, want 62", len(counts))
	}
	mean := float64(n*Length) / 62
	for ch, c := range counts {
		if float64(c) > 1.3*mean || float64(c) < 0.7*mean {
			t.Errorf("character %q appears %d times, mean %.0f", ch, c, mean)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range []string{"", "abc", "AZaz09", "a-b", "é", strings.Repeat("z", 33)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !Valid(s) {
			return
		}
		if len(s) < 1 || len(s) > MaxLen {
			t.Fatalf("accepted %q of length %d", s, len(s))
		}
		for i := 0; i < len(s); i++ {
			if !strings.ContainsRune(Alphabet, rune(s[i])) {
				t.Fatalf("accepted %q with %q outside the alphabet", s, s[i])
			}
		}
	})
}
