package lab

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
)

// FuzzControl throws arbitrary requests at the control API of a lab with no components (its
// Toxiproxy and proxies are real): it must never panic nor answer 5xx.
func FuzzControl(f *testing.F) {
	for _, seed := range [][2]string{
		{"GET", "/status"},
		{"POST", "/heal"},
		{"POST", "/heal?target=redirect-%3Elink"},
		{"POST", "/heal?target=nope"},
		{"POST", "/components/link/kill"},
		{"POST", "/components/../../x/start"},
		{"POST", "/components/redis/explode"},
		{"DELETE", "/status"},
	} {
		f.Add(seed[0], seed[1])
	}
	l, err := Start(context.Background(), Options{Components: []string{}, StateDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = l.Close(context.Background()) })
	h := l.ctl.Handler
	host := strings.TrimPrefix(l.ctlURL, "http://")
	f.Fuzz(func(t *testing.T, method, target string) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(method, "http://"+host+target, nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+l.token) // past the guard, into the handlers
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s → %d %s", method, target, w.Code, w.Body)
		}
	})
}

// TestControlGuard: the control API kills processes, so a request that does not come from the
// lab's own user is refused: no or a wrong token on a mutating call (any local process or web
// page could send one), a foreign Origin (a web page's cross-site POST), a foreign Host (a
// DNS-rebinding page). The CLI's path, through the state file, works.
func TestControlGuard(t *testing.T) {
	stateDir := t.TempDir()
	l, err := Start(context.Background(), Options{Components: []string{}, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	st, err := ReadState(l.StatePath())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Token) < 32 {
		t.Fatalf("state file token %q: want a random token of at least 32 characters", st.Token)
	}
	if fi, err := os.Stat(l.StatePath()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v (%v): want 0600, it holds the token", fi.Mode(), err)
	}
	ctl, _ := url.Parse(st.Control)
	for _, c := range []struct {
		name, method, path, host, origin, token string
		want                                    int
		code                                    string
	}{
		{"no token", "POST", "/heal", "", "", "", 401, "unauthorized"},
		{"wrong token", "POST", "/heal", "", "", "x" + st.Token[1:], 401, "unauthorized"},
		{"kill without token", "POST", "/components/link/kill", "", "", "", 401, "unauthorized"},
		{"delete without token", "DELETE", "/status", "", "", "", 401, "unauthorized"},
		{"cross origin", "POST", "/heal", "", "http://evil.example", st.Token, 403, "forbidden_origin"},
		{"null origin", "POST", "/heal", "", "null", st.Token, 403, "forbidden_origin"},
		{"cross origin read", "GET", "/status", "", "https://evil.example", "", 403, "forbidden_origin"},
		{"rebound host", "POST", "/heal", "evil.example:" + ctl.Port(), "", st.Token, 403, "forbidden_host"},
		{"rebound host read", "GET", "/status", "evil.example:" + ctl.Port(), "", "", 403, "forbidden_host"},
		{"token", "POST", "/heal", "", "", st.Token, 200, ""},
		{"own origin", "POST", "/heal", "", st.Control, st.Token, 200, ""},
		{"localhost", "POST", "/heal", "localhost:" + ctl.Port(), "", st.Token, 200, ""},
		{"status needs no token", "GET", "/status", "", "", "", 200, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, st.Control+c.path, nil)
			if c.host != "" {
				req.Host = c.host
			}
			if c.origin != "" {
				req.Header.Set("Origin", c.origin)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error, Code string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != c.want || body.Code != c.code {
				t.Fatalf("%s %s: got %d %+v, want %d code %q", c.method, c.path, resp.StatusCode, body, c.want, c.code)
			}
			if c.want >= 400 && !strings.HasPrefix(body.Error, "lab: control: ") {
				t.Errorf("error %q: want a clear message starting with the domain", body.Error)
			}
		})
	}

	// The CLI's path: Attach reads the token from the state file.
	r, err := Attach(stateDir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Heal(context.Background(), ""); err != nil {
		t.Fatalf("heal through Attach: %v", err)
	}
	if err := r.Heal(context.Background(), "redirect->link"); err != nil {
		t.Fatalf("heal redirect->link through Attach: %v", err)
	}
	r.State.Token = "wrong"
	if err := r.Heal(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("heal with a wrong token: %v, want a 401", err)
	}
}
