package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oppsync/oppsync/crm"
)

// maxBody caps how much of a HubSpot answer is read (a page of 200 deals with every
// property is well under 10 MiB).
const maxBody = 32 << 20

// maxWait is the longest 429 hint honoured inside one call; a longer one is returned to
// the caller (the activity's retry policy waits instead of a blocked goroutine).
const maxWait = time.Minute

// client makes HubSpot API calls for one customer: authentication, the rate limiter, and
// retries of what a retry can cure (429 after HubSpot's hint, 5xx and network errors with
// backoff, a 401 once after refreshing the token). Every call it makes is idempotent
// (upserts by unique property, reads, searches), so retrying is safe.
type client struct {
	base       string // e.g. https://api.hubapi.com
	httpc      *http.Client
	tokens     tokenSource
	lim        *limiter
	maxRetries int
	sleep      func(ctx context.Context, d time.Duration) error

	calls atomic.Int64 // HTTP requests sent to the CRM API (not counting token refreshes)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	// Wait in slices, reporting progress between them, so that a long wait on the portal's
	// rate limit keeps the activity heartbeating (crm.WithProgress).
	const slice = 5 * time.Second
	for d > 0 {
		step := min(d, slice)
		t := time.NewTimer(step)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		d -= step
		crm.Progress(ctx)
	}
	return nil
}

// do sends in (JSON, or nothing when nil) to path and decodes a 200/201/207 answer into
// out. The returned status tells 200 from 207 (multi-status: some batch inputs failed).
func (c *client) do(ctx context.Context, op, method, path string, in, out any) (int, error) {
	crm.Progress(ctx)
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("HubSpot %s: encode request: %w", op, err)
		}
		body = b
	}
	refreshed := false
	for attempt := 0; ; attempt++ {
		status, respBody, hdr, tok, err := c.send(ctx, method, path, body)
		if err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("HubSpot %s: %w", op, ctx.Err())
			}
			var ce *ConfigError
			var ae *APIError
			if errors.As(err, &ce) || (errors.As(err, &ae) && !ae.Retryable()) {
				return 0, fmt.Errorf("HubSpot %s: %w", op, err) // credentials: no retry cures them
			}
			if attempt < c.maxRetries {
				if serr := c.sleep(ctx, backoff(attempt)); serr != nil {
					return 0, fmt.Errorf("HubSpot %s: %w (after %w)", op, serr, err)
				}
				continue
			}
			return 0, fmt.Errorf("HubSpot %s: %w", op, err)
		}
		switch {
		case status == http.StatusOK || status == http.StatusCreated || status == http.StatusMultiStatus:
			if out == nil {
				return status, nil
			}
			if err := decodeStrict(respBody, out); err != nil {
				return status, &malformedError{op: op, status: status, err: err, body: respBody}
			}
			return status, nil
		case status == http.StatusNoContent:
			return status, nil
		case status == http.StatusUnauthorized && !refreshed:
			refreshed = true
			if c.tokens.invalidate(ctx, tok) {
				attempt-- // a token refresh is not a retry
				continue
			}
		case status == http.StatusTooManyRequests:
			// Hold every request of this customer (not only this one) for HubSpot's hint;
			// the next attempt waits in the limiter. A hint longer than maxWait goes back to
			// the caller, whose retry policy waits without holding a goroutine.
			wait := retryHint(hdr)
			if attempt < c.maxRetries && wait <= maxWait {
				c.lim.pause(wait)
				continue
			}
			ae := apiErrorFrom(op, status, hdr, respBody)
			ae.RetryAfter = wait
			return status, ae
		case status >= 500 || status == http.StatusRequestTimeout:
			if attempt < c.maxRetries {
				if err := c.sleep(ctx, backoff(attempt)); err != nil {
					return 0, fmt.Errorf("HubSpot %s: %w", op, err)
				}
				continue
			}
		}
		return status, apiErrorFrom(op, status, hdr, respBody)
	}
}

// send makes one request; tok is the token it used, so a 401 invalidates that token and
// not a newer one another goroutine fetched meanwhile.
func (c *client) send(ctx context.Context, method, path string, body []byte) (status int, b []byte, h http.Header, tok string, err error) {
	tok, err = c.tokens.token(ctx)
	if err != nil {
		return 0, nil, nil, "", err
	}
	if err := c.lim.wait(ctx); err != nil {
		return 0, nil, nil, tok, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, nil, tok, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.calls.Add(1)
	alive := crm.ProgressWhile(ctx) // a slow answer keeps the activity heartbeating
	defer alive()
	resp, err := c.httpc.Do(req)
	if err != nil {
		return 0, nil, nil, tok, err
	}
	defer resp.Body.Close()
	b, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, tok, fmt.Errorf("read answer (HTTP %d): %w", resp.StatusCode, err)
	}
	return resp.StatusCode, b, resp.Header, tok, nil
}

// backoff is the wait before retry n+1 after a 5xx or a network error: 250 ms doubling,
// capped at 8 s, with ±20% jitter so customers do not retry in step.
func backoff(n int) time.Duration {
	d := 250 * time.Millisecond << min(n, 5)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// retryHint is how long to wait after a 429: Retry-After (seconds) when HubSpot sends it,
// else the rest of the rolling window (X-HubSpot-RateLimit-Interval-Milliseconds) when the
// window's remaining count is 0, else one second.
func retryHint(h http.Header) time.Duration {
	if s := strings.TrimSpace(h.Get("Retry-After")); s != "" {
		if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 {
			return time.Duration(n * float64(time.Second))
		}
		if t, err := http.ParseTime(s); err == nil {
			return max(time.Until(t), 0)
		}
	}
	if ms, err := strconv.ParseInt(h.Get("X-HubSpot-RateLimit-Interval-Milliseconds"), 10, 64); err == nil && ms > 0 {
		if rem := h.Get("X-HubSpot-RateLimit-Remaining"); rem == "" || rem == "0" {
			return time.Duration(ms) * time.Millisecond
		}
	}
	return time.Second
}

// errorBody is HubSpot's error document.
type errorBody struct {
	Status        string `json:"status"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId"`
	Category      string `json:"category"`
}

func apiErrorFrom(op string, status int, hdr http.Header, body []byte) *APIError {
	ae := &APIError{Op: op, Status: status}
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err == nil && (eb.Message != "" || eb.Category != "") {
		ae.Category, ae.Message, ae.CorrelationID = eb.Category, eb.Message, eb.CorrelationID
	} else {
		ae.Message = describeBody(body, err)
	}
	if ae.CorrelationID == "" && hdr != nil {
		ae.CorrelationID = hdr.Get("X-HubSpot-Correlation-Id")
	}
	return ae
}

func apiError(op string, resp *http.Response, body []byte) *APIError {
	return apiErrorFrom(op, resp.StatusCode, resp.Header, body)
}

// describeBody names a body OppSync could not read, quoting its start: an HTML error page
// from a proxy looks different from a truncated JSON document.
func describeBody(b []byte, err error) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "an empty body"
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	if err != nil {
		return fmt.Sprintf("an unreadable body (%v) starting %q", err, s)
	}
	return fmt.Sprintf("a body starting %q", s)
}

// decodeStrict decodes a JSON object, failing on trailing data (a truncated or doubled
// answer) rather than silently reading part of it.
func decodeStrict(b []byte, out any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(out); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON document")
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}
