package hotpath

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// WrkResult is what one wrk run reported.
type WrkResult struct {
	Requests     int64         // completed requests, any status
	Window       time.Duration // wrk's own measuring window
	Rate         float64       // Requests / Window
	P50, P99     time.Duration // wrk's latency distribution (needs --latency)
	Non3xx       int64         // "Non-2xx or 3xx responses"
	SocketErrors int64         // connect + read + write + timeout
}

// Errors is every request that did not get a 2xx/3xx answer.
func (w WrkResult) Errors() int64 { return w.Non3xx + w.SocketErrors }

var (
	wrkPct      = regexp.MustCompile(`^\s*(50|99)%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	wrkRequests = regexp.MustCompile(`^\s*([0-9]+) requests in ([0-9.]+)(us|ms|s|m)\b`)
	wrkSocket   = regexp.MustCompile(`^\s*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)`)
	wrkNon3xx   = regexp.MustCompile(`^\s*Non-2xx or 3xx responses: ([0-9]+)`)
)

// ParseWrk reads wrk's text output (run with --latency). It fails when a figure the
// benchmark needs is missing, so a changed wrk never yields zeros that read as a result.
func ParseWrk(out string) (WrkResult, error) {
	var r WrkResult
	var seen50, seen99, seenReq bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := wrkPct.FindStringSubmatch(line); m != nil {
			d, err := wrkDuration(m[2], m[3])
			if err != nil {
				return r, err
			}
			if m[1] == "50" {
				r.P50, seen50 = d, true
			} else {
				r.P99, seen99 = d, true
			}
			continue
		}
		if m := wrkRequests.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			d, err := wrkDuration(m[2], m[3])
			if err != nil {
				return r, err
			}
			r.Requests, r.Window, seenReq = n, d, true
			continue
		}
		if m := wrkSocket.FindStringSubmatch(line); m != nil {
			for _, s := range m[1:] {
				n, _ := strconv.ParseInt(s, 10, 64)
				r.SocketErrors += n
			}
			continue
		}
		if m := wrkNon3xx.FindStringSubmatch(line); m != nil {
			r.Non3xx, _ = strconv.ParseInt(m[1], 10, 64)
		}
	}
	switch {
	case !seenReq:
		return r, fmt.Errorf("hotpath: wrk output has no \"N requests in T\" line:\n%s", out)
	case !seen50 || !seen99:
		return r, fmt.Errorf("hotpath: wrk output has no latency distribution (run with --latency):\n%s", out)
	case r.Window <= 0:
		return r, fmt.Errorf("hotpath: wrk measured over %s", r.Window)
	}
	r.Rate = float64(r.Requests) / r.Window.Seconds()
	return r, nil
}

func wrkDuration(v, unit string) (time.Duration, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("hotpath: wrk figure %q: %w", v+unit, err)
	}
	scale := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[unit]
	return time.Duration(f * float64(scale)), nil
}

// wrkScript is a wrk Lua script that cycles through paths, one per request.
func wrkScript(paths []string) string {
	var b strings.Builder
	b.WriteString("local paths = {\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "  %q,\n", p)
	}
	b.WriteString("}\nlocal n = #paths\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % n) + 1])\nend\n")
	return b.String()
}
