package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(http.StatusOK)
		case "/slow":
			time.Sleep(200 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	tests := []struct {
		path   string
		wantOK bool
	}{
		{"/healthz", true},
		{"/draining", false},
		{"/slow", false},
	}
	for _, tt := range tests {
		err := check(context.Background(), srv.URL+tt.path, 50*time.Millisecond)
		if (err == nil) != tt.wantOK {
			t.Errorf("check(%s) = %v, want ok=%v", tt.path, err, tt.wantOK)
		}
	}
	if err := check(context.Background(), "http://127.0.0.1:1/healthz", time.Second); err == nil {
		t.Error("check of a closed port succeeded")
	}
}
