package lab

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGetJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"acked_total": 7}`))
	}))
	defer srv.Close()
	ctx, c := context.Background(), srv.Client()
	var v struct {
		AckedTotal int `json:"acked_total"`
	}
	if err := GetJSON(ctx, c, srv.URL+"/clicks", &v); err != nil || v.AckedTotal != 7 {
		t.Errorf("decode: %+v, %v", v, err)
	}
	if err := GetJSON(ctx, c, srv.URL+"/readyz", nil); err != nil {
		t.Errorf("a 200 probe failed: %v", err)
	}
	if err := GetJSON(ctx, c, srv.URL+"/down", nil); err == nil || !strings.Contains(err.Error(), "/down: 503") {
		t.Errorf("a 503 must be an error naming the URL and status, got %v", err)
	}
}
