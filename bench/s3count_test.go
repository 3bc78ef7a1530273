package bench

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// s3Counter is a reverse proxy in front of an S3 endpoint that counts the requests passing
// through it, per bucket and operation. The worker binary's S3 client cannot be
// instrumented from outside, so the benchmark points AWS_ENDPOINT_URL_S3 at this proxy, and
// the sequential loop too, so that both pay for the extra hop alike. It keeps the Host
// header the client signed (SigV4 covers it).
type s3Counter struct {
	URL string

	mu     sync.Mutex
	counts map[string]map[string]int // bucket → operation → requests
}

// newS3Counter starts a counting proxy to upstream (an http:// URL) until the benchmark ends.
func newS3Counter(b *testing.B, upstream string) *s3Counter {
	b.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		b.Fatal(err)
	}
	c := &s3Counter{counts: map[string]map[string]int{}}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		Transport:     transport,
		FlushInterval: -1,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.count(r)
		proxy.ServeHTTP(w, r)
	})}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.Logf("S3 counting proxy: %v", err)
		}
	}()
	b.Cleanup(func() { _ = srv.Close(); transport.CloseIdleConnections() })
	c.URL = "http://" + ln.Addr().String()
	return c
}

// count records one request: path-style /bucket/key?query.
func (c *s3Counter) count(r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	var op string
	switch {
	case q.Has("tagging"):
		op = r.Method + " tagging"
	case r.Method == http.MethodGet && key == "":
		op = "LIST"
	case r.Method == http.MethodPost && q.Has("delete"):
		op = "DELETE (multi)"
	default:
		op = r.Method
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts[bucket] == nil {
		c.counts[bucket] = map[string]int{}
	}
	c.counts[bucket][op]++
}

// snapshot returns the counts of bucket so far.
func (c *s3Counter) snapshot(bucket string) s3Requests {
	c.mu.Lock()
	defer c.mu.Unlock()
	return s3Requests(maps.Clone(c.counts[bucket]))
}

// s3Requests is requests by operation.
type s3Requests map[string]int

func (r s3Requests) total() int {
	n := 0
	for _, v := range r {
		n += v
	}
	return n
}

// since returns the requests made after an earlier snapshot.
func (r s3Requests) since(before s3Requests) s3Requests {
	out := s3Requests{}
	for k, v := range r {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// String is e.g. "401 (GET 200, DELETE 200, LIST 1)".
func (r s3Requests) String() string {
	keys := slices.Sorted(maps.Keys(r))
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, r[k]))
	}
	return fmt.Sprintf("%d (%s)", r.total(), strings.Join(parts, ", "))
}
