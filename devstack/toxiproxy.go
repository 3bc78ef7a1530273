package devstack

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// ProxyS3 puts a new Toxiproxy proxy in front of the S3 server and returns its endpoint, to
// use instead of S3Endpoint, and the proxy, to add toxics to (e.g. latency). Each call
// makes a separate proxy. It needs Options.Toxiproxy.
func (s *Stack) ProxyS3(ctx context.Context) (endpoint string, proxy *toxiproxy.Proxy, err error) {
	if s.ToxiproxyURL == "" {
		return "", nil, errors.New("devstack: ProxyS3 needs a stack started with Options.Toxiproxy")
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	s.proxyLock.Lock()
	s.proxySeq++
	name := "s3-" + strconv.Itoa(s.proxySeq)
	s.proxyLock.Unlock()

	// Listening on port 0 lets Toxiproxy pick a free port; proxy.Listen reports it.
	proxy, err = toxiproxy.NewClient(s.ToxiproxyURL).CreateProxy(name, "127.0.0.1:0", "127.0.0.1:"+strconv.Itoa(s.s3Port))
	if err != nil {
		return "", nil, fmt.Errorf("devstack: create toxiproxy proxy for S3: %w (log %s)", err, s.logPath("toxiproxy"))
	}
	return "http://" + proxy.Listen, proxy, nil
}

// Proxy puts a new Toxiproxy proxy in front of upstream (host:port, e.g. a CRM contract
// server's) and returns the address it listens on (host:port) and the proxy, to add toxics
// to. name prefixes the proxy's name in Toxiproxy. Each call makes a separate proxy. It
// needs Options.Toxiproxy.
func (s *Stack) Proxy(ctx context.Context, name, upstream string) (listen string, proxy *toxiproxy.Proxy, err error) {
	if s.ToxiproxyURL == "" {
		return "", nil, errors.New("devstack: Proxy needs a stack started with Options.Toxiproxy")
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	s.proxyLock.Lock()
	s.proxySeq++
	name += "-" + strconv.Itoa(s.proxySeq)
	s.proxyLock.Unlock()
	proxy, err = toxiproxy.NewClient(s.ToxiproxyURL).CreateProxy(name, "127.0.0.1:0", upstream)
	if err != nil {
		return "", nil, fmt.Errorf("devstack: create toxiproxy proxy %s for %s: %w (log %s)", name, upstream, err, s.logPath("toxiproxy"))
	}
	return proxy.Listen, proxy, nil
}
