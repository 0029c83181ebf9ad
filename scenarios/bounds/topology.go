package bounds

import "strings"

// What each service does synchronously for one request, in order: the design of
// docs/contracts.md as the services implement it. Asynchronous work (click events, the
// outbox relay, consumers) never delays an answer and is left out. Keep in step with the
// handlers named on each value.

// call is one synchronous call through an edge's pipeline; callee is what the called
// service does for it, nil for a store (or a service, like billing, whose answer only the
// caller's timeout bounds: nothing in it is guarded).
type call struct {
	edge   string
	why    string
	callee *handler
}

// handler is one service's work for one request: its calls, one after the other.
type handler struct {
	name  string
	calls []call
}

var (
	// system/internal/link/handlers.go get: one SELECT through link->link-db.
	linkGet = handler{"link GET /links/{code}", []call{{edge: "link->link-db", why: "select"}}}
	// system/internal/link/handlers.go create: the quota check (fail_open answers at once),
	// then the INSERT transaction. A short-code collision (8 base62 characters: about one in
	// 10^14 per creation) repeats the insert; the bound leaves that out.
	linkCreate = handler{"link POST /links", []call{
		{edge: "link->billing", why: "quota"},
		{edge: "link->link-db", why: "insert"},
	}}
	// system/internal/analytics/handlers.go handleCodeStats: one read through the guarded store.
	analyticsStats = handler{"analytics GET /stats/{code}", []call{{edge: "analytics->analytics-db", why: "read"}}}
	// system/internal/redirect/resolve.go Resolve: the cache, link on a miss, then the cache
	// fill (the stale_cache fallback answers from memory; the click is enqueued, never waited).
	redirectGet = handler{"redirect GET /r/{code}", []call{
		{edge: "redirect->redis", why: "cache read"},
		{edge: "redirect->link", why: "lookup on a miss", callee: &linkGet},
		{edge: "redirect->redis", why: "cache fill"},
	}}
)

// route is one guarded gateway route (system/internal/gateway/routes.go) and the upstream
// call it relays to.
type route struct {
	name, method, pattern string
	relay                 call
}

var routes = []route{
	{"redirect", "GET", "/r/{code}", call{edge: "gateway->redirect", callee: &redirectGet}},
	{"create", "POST", "/api/links", call{edge: "gateway->link", callee: &linkCreate}},
	{"get", "GET", "/api/links/{code}", call{edge: "gateway->link", callee: &linkGet}},
	{"stats", "GET", "/api/links/{code}/stats", call{edge: "gateway->analytics", callee: &analyticsStats}},
}

// RouteOf is the gateway route a request reaches ("redirect", "create", "get", "stats"), or
// "" when it reaches none of them. path may hold {code} or a literal code, and a query.
func RouteOf(method, path string) string {
	if r, ok := routeOf(method, path); ok {
		return r.name
	}
	return ""
}

func routeOf(method, path string) (route, bool) {
	path, _, _ = strings.Cut(path, "?")
	got := strings.Split(path, "/")
	for _, r := range routes {
		want := strings.Split(r.pattern, "/")
		if r.method != method || len(want) != len(got) {
			continue
		}
		match := true
		for i := range want {
			if want[i] == "{code}" {
				match = match && got[i] != ""
			} else {
				match = match && want[i] == got[i]
			}
		}
		if match {
			return r, true
		}
	}
	return route{}, false
}

// callee is the component an edge calls.
func callee(edge string) string {
	_, to, _ := strings.Cut(edge, "->")
	return to
}
