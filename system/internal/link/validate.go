package link

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxURLLength caps a target URL: longer URLs are almost always abuse and bloat every cache.
const MaxURLLength = 2048

// ErrInvalidURL is wrapped by every URL validation error.
var ErrInvalidURL = errors.New("invalid url")

// ErrInvalidAccount is wrapped by account validation errors.
var ErrInvalidAccount = errors.New("invalid account")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidURL, fmt.Sprintf(format, args...))
}

// ValidateURL checks a target URL: http or https, a host, at most MaxURLLength bytes, no
// credentials, no whitespace or control characters. It returns the URL unchanged when valid.
func ValidateURL(raw string) (string, error) {
	switch {
	case raw == "":
		return "", invalid("url is required")
	case len(raw) > MaxURLLength:
		return "", invalid("longer than %d bytes", MaxURLLength)
	case !utf8.ValidString(raw):
		return "", invalid("not valid UTF-8")
	}
	for i, r := range raw {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", invalid("whitespace or control character at byte %d", i)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", invalid("cannot be parsed")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return "", invalid("missing scheme, want http:// or https://")
	default:
		return "", invalid("scheme %q not allowed, want http or https", u.Scheme)
	}
	if u.Opaque != "" {
		return "", invalid("want scheme://host/..., got an opaque URL")
	}
	if u.User != nil {
		return "", invalid("credentials (user:password@) are not allowed")
	}
	host := u.Hostname()
	if host == "" {
		return "", invalid("host is required")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", invalid("port %q out of range", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", invalid("empty port")
	}
	return raw, nil
}

// DefaultAccount is used when a request names none.
const DefaultAccount = "default"

var accountRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateAccount checks an account id: 1–64 of letters, digits, '.', '_' or '-'.
func ValidateAccount(a string) (string, error) {
	if a == "" {
		return DefaultAccount, nil
	}
	if !accountRE.MatchString(a) {
		return "", fmt.Errorf("%w: want 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalidAccount)
	}
	return a, nil
}
