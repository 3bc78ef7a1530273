// Command oppsync-healthcheck exits 0 when an HTTP URL answers 2xx, and 1 otherwise. The
// runtime image is distroless (no shell, curl or wget), so Docker and compose health checks
// run this instead; Kubernetes probes use httpGet and do not need it.
//
//	oppsync-healthcheck [--timeout 3s] http://127.0.0.1:8080/healthz
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	fs := flag.NewFlagSet("oppsync-healthcheck", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: oppsync-healthcheck [--timeout 3s] URL")
		os.Exit(2)
	}
	if err := check(context.Background(), fs.Arg(0), *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "oppsync-healthcheck:", err)
		os.Exit(1)
	}
}

// check GETs url and reports an error unless it answers 2xx within timeout.
func check(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
