package hotpath

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/faultline/faultline/internal/percentile"
	"github.com/faultline/faultline/lab"
)

// RatioResult is one profile's cached-redirect latency against another's, measured side by side.
type RatioResult struct {
	A, B             string // profiles
	Requests         int    // per profile
	AP50, BP50       time.Duration
	AP99, BP99       time.Duration
	AErrors, BErrors int
	Ratio            float64 // AP50 / BP50
}

// ratioBatch is how many sequential redirects go to one system before the other's turn:
// small batches interleave the two finely, so the machine's noise hits both alike.
const ratioBatch = 25

// Ratio starts two whole systems at once, one with profile a and one with profile b (as
// built, rate limits untouched: one request at a time is far below them), each with span
// export on and 20 cached codes, and times sequential cached redirects through each gateway,
// alternating in batches. It reports both p50s and a's over b's.
func Ratio(ctx context.Context, o Options, a, b string, requests int) (RatioResult, error) {
	o.defaults()
	if requests <= 0 {
		requests = 4000
	}
	res := RatioResult{A: a, B: b, Requests: requests}
	fmt.Fprintf(o.Log, "hotpath: starting two systems (%s, %s)\n", a, b)
	sa, err := start(ctx, o, a, 20, nil)
	if err != nil {
		return res, err
	}
	defer sa.close(context.WithoutCancel(ctx))
	sb, err := start(ctx, o, b, 20, nil)
	if err != nil {
		return res, err
	}
	defer sb.close(context.WithoutCancel(ctx))
	c := client()
	var la, lb []time.Duration
	// A warm-up round first: the first requests open connections on every hop.
	for pass := range 2 {
		n := requests
		if pass == 0 {
			n = 200
		}
		la, lb = la[:0], lb[:0]
		res.AErrors, res.BErrors = 0, 0
		for done := 0; done < n; done += ratioBatch {
			k := min(ratioBatch, n-done)
			var e int
			la, e = timeRedirects(ctx, c, sa, done, k, la)
			res.AErrors += e
			lb, e = timeRedirects(ctx, c, sb, done, k, lb)
			res.BErrors += e
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
		}
	}
	if len(la) == 0 || len(lb) == 0 {
		return res, fmt.Errorf("hotpath: no successful redirect (%d errors on %s, %d on %s)", res.AErrors, a, res.BErrors, b)
	}
	slices.Sort(la)
	slices.Sort(lb)
	res.AP50, res.AP99 = percentile.Of(la, 50), percentile.Of(la, 99)
	res.BP50, res.BP99 = percentile.Of(lb, 50), percentile.Of(lb, 99)
	res.Ratio = float64(res.AP50) / float64(res.BP50)
	return res, nil
}

// timeRedirects does n sequential cached redirects through s, cycling its codes from offset,
// and appends each successful one's duration to lat.
func timeRedirects(ctx context.Context, c *http.Client, s *system, offset, n int, lat []time.Duration) ([]time.Duration, int) {
	errs := 0
	for i := range n {
		status, _, d, err := lab.Redirect(ctx, c, s.lab.Gateway(), s.codes[(offset+i)%len(s.codes)])
		if err != nil || status != http.StatusFound {
			errs++
			continue
		}
		lat = append(lat, d)
	}
	return lat, errs
}
