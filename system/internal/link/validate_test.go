package link

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateURL(t *testing.T) {
	cases := []struct {
		name, url string
		ok        bool
		wantMsg   string
	}{
		{"https", "https://example.com/a?b=c#d", true, ""},
		{"http with port", "http://example.com:8080/", true, ""},
		{"upper scheme", "HTTPS://EXAMPLE.COM", true, ""},
		{"ipv6", "http://[::1]:80/x", true, ""},
		{"idn", "https://bücher.example/", true, ""},
		{"max length", "https://e.com/" + strings.Repeat("a", MaxURLLength-len("https://e.com/")), true, ""},
		{"empty", "", false, "required"},
		{"too long", "https://e.com/" + strings.Repeat("a", MaxURLLength), false, "longer than 2048"},
		{"ftp", "ftp://example.com/", false, "scheme \"ftp\" not allowed"},
		{"javascript", "javascript:alert(1)", false, "scheme \"javascript\" not allowed"},
		{"no scheme", "example.com/x", false, "missing scheme"},
		{"scheme relative", "//example.com/x", false, "missing scheme"},
		{"no host", "https:///path", false, "host is required"},
		{"opaque", "http:example.com", false, "opaque"},
		{"credentials", "https://user:pw@example.com/", false, "credentials"},
		{"user only", "https://user@example.com/", false, "credentials"},
		{"space", "https://example.com/a b", false, "whitespace"},
		{"leading space", " https://example.com", false, "whitespace"},
		{"tab", "https://example.com/\t", false, "whitespace"},
		{"newline", "https://example.com/\r\nSet-Cookie: x", false, "whitespace"},
		{"nul", "https://example.com/\x00", false, "control"},
		{"del", "https://example.com/\x7f", false, "control"},
		{"bad utf8", "https://example.com/\xff", false, "UTF-8"},
		{"bad port", "https://example.com:99999/", false, "port"},
		{"empty port", "https://example.com:/", false, "empty port"},
		{"bad escape", "https://example.com/%zz", false, "cannot be parsed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ValidateURL(tc.url)
			if tc.ok {
				if err != nil || got != tc.url {
					t.Fatalf("ValidateURL(%q) = %q, %v; want it accepted unchanged", tc.url, got, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateURL(%q) accepted, want error containing %q", tc.url, tc.wantMsg)
			}
			if !errors.Is(err, ErrInvalidURL) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error = %q, want ErrInvalidURL containing %q", err, tc.wantMsg)
			}
		})
	}
}

func TestValidateAccount(t *testing.T) {
	for _, ok := range []string{"", "acct-1", "A.b_c", strings.Repeat("a", 64)} {
		if _, err := ValidateAccount(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	if a, _ := ValidateAccount(""); a != DefaultAccount {
		t.Errorf("empty account = %q, want %q", a, DefaultAccount)
	}
	for _, bad := range []string{"-x", "a b", "a/b", strings.Repeat("a", 65), "é", "a\x00"} {
		if _, err := ValidateAccount(bad); !errors.Is(err, ErrInvalidAccount) {
			t.Errorf("%q: err = %v, want ErrInvalidAccount", bad, err)
		}
	}
}

func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{"https://example.com", "http://a:1/b?c#d", "ftp://x", "https://u:p@x", "http://[::1]/", "https://x/%zz", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ValidateURL(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("error not wrapping ErrInvalidURL: %v", err)
			}
			return
		}
		if got != s || len(s) > MaxURLLength {
			t.Fatalf("accepted %q as %q", s, got)
		}
		low := strings.ToLower(s)
		if !strings.HasPrefix(low, "http://") && !strings.HasPrefix(low, "https://") {
			t.Fatalf("accepted non-http URL %q", s)
		}
		if strings.ContainsAny(s, " \t\r\n\x00") {
			t.Fatalf("accepted whitespace/control in %q", s)
		}
	})
}
