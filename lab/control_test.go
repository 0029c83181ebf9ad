package lab

import (
	"context"
	"net/http"
	"net/http/httptest"
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
	f.Fuzz(func(t *testing.T, method, target string) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(method, "http://control"+target, nil)
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s → %d %s", method, target, w.Code, w.Body)
		}
	})
}
