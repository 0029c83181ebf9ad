package load

import "net/http"

// Tally is what the client itself was answered, per code: the ground truth the data checks
// compare the system's stores with. A service's own ledger of what it did is a diagnostic at
// best: a redirect that never records a click, or restarts and forgets, must not be able to
// vouch for itself. A Tally is not safe for concurrent use.
type Tally struct {
	clicks map[string]Clicks
	links  []Link
}

// Clicks is what the client knows of one code's redirects.
type Clicks struct {
	// Redirected counts the 302 answers received: clicks the system acknowledged, each of
	// which it must count exactly once.
	Redirected int
	// Unknown counts the requests that failed at the client (transport error, timeout, 5xx
	// or any answer that is neither a 302 nor a 4xx), and the extra copies the client's
	// transport wrote on its own: the system may or may not have counted them, so they may
	// explain a count above Redirected but never one below it.
	Unknown int
}

// Link is one link whose creation was acknowledged (2xx with a code), with the URL the client
// sent: it must resolve, to that URL.
type Link struct {
	Code string
	URL  string // "" when the body sent had no url field: then only its existence is judged
}

// Add records one load result: a redirect's outcome, or an acknowledged creation.
func (t *Tally) Add(r Result) {
	if r.ClickCode != "" {
		t.Redirect(r.ClickCode, r.Code)
		t.Resent(r.ClickCode, r.Resent)
	}
	if code := CreatedCode(r); code != "" {
		t.Created(Link{Code: code, URL: r.SentURL})
	}
}

// Redirect records one answer to GET /r/code (status 0: no answer reached the client). A 4xx
// is an answer that nothing was redirected (404, 429 shed at the gateway): no click.
func (t *Tally) Redirect(code string, status int) {
	if t.clicks == nil {
		t.clicks = map[string]Clicks{}
	}
	c := t.clicks[code]
	switch {
	case status == http.StatusFound:
		c.Redirected++
	case status >= 400 && status < 500:
		return
	default:
		c.Unknown++
	}
	t.clicks[code] = c
}

// Resent records n extra copies of one redirect request that the client's transport wrote
// on its own (Result.Resent): the system may have counted each, and the client cannot know.
func (t *Tally) Resent(code string, n int) {
	if n <= 0 {
		return
	}
	if t.clicks == nil {
		t.clicks = map[string]Clicks{}
	}
	c := t.clicks[code]
	c.Unknown += n
	t.clicks[code] = c
}

// Created records an acknowledged creation.
func (t *Tally) Created(l Link) { t.links = append(t.links, l) }

// Clicks returns the per-code redirect counts; the caller must not modify it.
func (t *Tally) Clicks() map[string]Clicks { return t.clicks }

// Links returns the acknowledged creations in the order they were recorded; the caller must
// not modify it.
func (t *Tally) Links() []Link { return t.links }

// CreatedCode returns the code of a link whose creation was acknowledged (2xx with a code in
// the body), else "".
func CreatedCode(r Result) string {
	if r.Code < 200 || r.Code > 299 || len(r.Body) == 0 {
		return ""
	}
	return codeOf(r.Body)
}
