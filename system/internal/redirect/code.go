package redirect

// MaxCodeLen bounds a short code; link never makes longer ones.
const MaxCodeLen = 32

// validCode says whether code is 1..MaxCodeLen base62 characters. Checking here keeps junk
// out of Redis keys, link URLs and event payloads.
func validCode(code string) bool {
	if len(code) == 0 || len(code) > MaxCodeLen {
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
