package bench

import (
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// throttleCounter is a reverse proxy in front of the Selling API contract server that
// counts, per operation, the calls the server refused with ThrottlingException. The
// contract server's Calls counts every call, refused ones included (as AWS counts
// requests); the difference is the calls that did work. The worker binary reaches the
// server through it (AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING).
type throttleCounter struct {
	URL string

	mu        sync.Mutex
	throttled map[string]int // operation → ThrottlingException answers
}

func newThrottleCounter(b *testing.B, upstream string) *throttleCounter {
	b.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		b.Fatal(err)
	}
	c := &throttleCounter{throttled: map[string]int{}}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // SigV4 signs the Host header
		},
		Transport: transport,
		ModifyResponse: func(resp *http.Response) error {
			if resp.Header.Get("X-Amzn-ErrorType") == "ThrottlingException" {
				op := strings.TrimPrefix(resp.Request.Header.Get("X-Amz-Target"), "AWSPartnerCentralSelling.")
				c.mu.Lock()
				c.throttled[op]++
				c.mu.Unlock()
			}
			return nil
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.Logf("Selling API counting proxy: %v", err)
		}
	}()
	b.Cleanup(func() { _ = srv.Close(); transport.CloseIdleConnections() })
	c.URL = "http://" + ln.Addr().String()
	return c
}

// snapshot returns the throttled calls so far, by operation.
func (c *throttleCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.throttled)
}
