package gateway

import (
	"strings"
	"testing"
)

func TestValidCode(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"abc", true},
		{"AZaz09", true},
		{strings.Repeat("x", 32), true},
		{strings.Repeat("x", 33), false},
		{"", false},
		{"a-b", false},
		{"a_b", false},
		{"a b", false},
		{"é", false},
		{"a/b", false},
		{"..", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		if got := validCode(tt.code); got != tt.want {
			t.Errorf("validCode(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}
