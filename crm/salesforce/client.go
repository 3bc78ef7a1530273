package salesforce

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/secret"
)

// Limits is the org's API usage as Salesforce reports it in the Sforce-Limit-Info header
// of every response ("api-usage=25/15000").
type Limits struct {
	Used, Max int
	At        time.Time // when it was reported; zero if never
}

// credentials gets access tokens: the JWT bearer flow (key set) or the refresh-token flow.
// The secrets are references (crm/secret), resolved at each token request, so none is in
// the workflow's configuration and a rotated one is picked up at the next re-auth.
type credentials struct {
	loginURL     string // e.g. https://login.salesforce.com: token endpoint and JWT audience
	audience     string
	user         string     // JWT sub
	clientID     secret.Ref // the connected app's consumer key; may be secret.Plain
	clientSecret secret.Ref // refresh-token flow only, optional
	key          secret.Ref // JWT bearer flow: the PEM RSA key
	refreshToken secret.Ref // refresh-token flow
}

// refs returns the references that are set.
func (cr credentials) refs() []secret.Ref {
	var refs []secret.Ref
	for _, r := range []secret.Ref{cr.clientID, cr.clientSecret, cr.key, cr.refreshToken} {
		if !r.IsZero() {
			refs = append(refs, r)
		}
	}
	return refs
}

// forget makes the next token request resolve every reference afresh, bypassing the
// Secrets Manager cache: Salesforce refused a session or a credential, which may mean an
// admin rotated one.
func (cr credentials) forget() {
	for _, r := range cr.refs() {
		secret.Invalidate(r)
	}
}

// resolve reads one credential, with an error naming the reference, never the value.
func resolve(ctx context.Context, ref secret.Ref) (string, error) {
	v, err := secret.Resolve(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("Salesforce credentials: %w", err)
	}
	return v, nil
}

// token is a cached access token.
type token struct {
	access   string
	instance string // instance URL, e.g. https://acme.my.salesforce.com
	userID   string // the integration user's id, from the identity URL
}

// client calls the Salesforce REST API for one customer: one token cache, one rate limiter.
type client struct {
	http     *http.Client
	creds    credentials
	instance string // override of the token's instance_url
	api      string // e.g. v61.0
	limiter  *rate.Limiter
	retries  int           // in-client retries of 429 and 5xx answers
	maxWait  time.Duration // longest Retry-After honoured inside a call
	sleep    func(ctx context.Context, d time.Duration) error
	now      func() time.Time

	mu          sync.Mutex
	tok         *token
	limits      Limits
	pausedUntil time.Time // set by REQUEST_LIMIT_EXCEEDED: no calls before then

	calls atomic.Int64 // HTTP calls made, auth included
}

// Calls returns the number of HTTP calls made to Salesforce, token requests included.
func (c *client) Calls() int64 { return c.calls.Load() }

// Limits returns the latest Sforce-Limit-Info the org reported.
func (c *client) Limits() Limits {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limits
}

// authenticate returns the cached token, or gets a new one. stale, if non-nil, is a token
// Salesforce refused: it is dropped unless another call already replaced it.
func (c *client) authenticate(ctx context.Context, stale *token) (*token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && c.tok != stale {
		return c.tok, nil
	}
	c.tok = nil
	if stale != nil {
		c.creds.forget() // re-read the credentials on a 401: they may have been rotated
	}
	t, err := c.fetchToken(ctx)
	if err != nil {
		return nil, err
	}
	c.tok = t
	return t, nil
}

// fetchToken posts to the OAuth token endpoint. JWT bearer flow: grant_type
// urn:ietf:params:oauth:grant-type:jwt-bearer with an RS256 assertion (iss client id,
// sub user, aud login URL, exp within 3 minutes); refresh-token flow: grant_type
// refresh_token.
func (c *client) fetchToken(ctx context.Context) (*token, error) {
	form := url.Values{}
	clientID, err := resolve(ctx, c.creds.clientID)
	if err != nil {
		return nil, err
	}
	if !c.creds.key.IsZero() {
		pemKey, err := resolve(ctx, c.creds.key)
		if err != nil {
			return nil, err
		}
		key, err := parseRSAKey([]byte(pemKey))
		if err != nil {
			return nil, configErrorf("Salesforce credentials: %s: %v", c.creds.key, err)
		}
		jwt, err := signJWT(clientID, c.creds.user, c.creds.audience, key, c.now())
		if err != nil {
			return nil, err
		}
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", jwt)
	} else {
		rt, err := resolve(ctx, c.creds.refreshToken)
		if err != nil {
			return nil, err
		}
		form.Set("grant_type", "refresh_token")
		form.Set("client_id", clientID)
		form.Set("refresh_token", rt)
		if !c.creds.clientSecret.IsZero() {
			cs, err := resolve(ctx, c.creds.clientSecret)
			if err != nil {
				return nil, err
			}
			form.Set("client_secret", cs)
		}
	}
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.creds.loginURL+"/services/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	c.calls.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("Salesforce token request to %s: %w", c.creds.loginURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("Salesforce token request: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &oe)
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized {
			c.creds.forget() // invalid_grant, invalid_client: re-read them next time
		}
		return nil, &APIError{Op: "token request (" + form.Get("grant_type") + ")", Status: resp.StatusCode, Code: oe.Error, Message: oe.Description,
			RetryAfter: retryAfter(resp.Header)}
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
		ID          string `json:"id"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, malformed("token request", body, err)
	}
	if tr.AccessToken == "" || (tr.InstanceURL == "" && c.instance == "") {
		return nil, malformed("token request", body, errors.New("no access_token or instance_url"))
	}
	t := &token{access: tr.AccessToken, instance: strings.TrimSuffix(tr.InstanceURL, "/"), userID: path.Base(tr.ID)}
	if c.instance != "" {
		t.instance = c.instance
	}
	if tr.ID == "" {
		t.userID = ""
	}
	return t, nil
}

// signJWT builds the RS256 assertion of the JWT bearer flow.
func signJWT(clientID, user, audience string, key *rsa.PrivateKey, now time.Time) (string, error) {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256"}`))
	claims, err := json.Marshal(map[string]any{
		"iss": clientID,
		"sub": user,
		"aud": audience,
		"exp": now.Add(3 * time.Minute).Unix(), // Salesforce accepts at most 3 minutes ahead
	})
	if err != nil {
		return "", err
	}
	signing := header + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign the JWT assertion: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// parseRSAKey reads a PEM RSA private key, PKCS#1 or PKCS#8.
func parseRSAKey(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block: want an RSA private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS#1 or PKCS#8 private key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the key is a %T, want RSA (Salesforce signs JWTs with RS256)", k)
	}
	return rk, nil
}

// sfError is one entry of Salesforce's error array ([{"errorCode","message","fields"}]) or
// of a record's errors ([{"statusCode","message","fields"}]).
type sfError struct {
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func (e sfError) code() string {
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	return e.StatusCode
}

// do calls the REST API: path is absolute ("/services/data/v61.0/…", as nextRecordsUrl
// is). It waits for the rate limiter, authenticates, re-authenticates once on
// INVALID_SESSION_ID, retries 429 and 5xx answers a few times honouring Retry-After, and
// stops calling for the time Salesforce asks after REQUEST_LIMIT_EXCEEDED. out, if non-nil,
// receives the decoded JSON answer.
func (c *client) do(ctx context.Context, op, method, p string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("Salesforce %s: encode request: %w", op, err)
		}
	}
	reauthed := false
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		paused := c.pausedUntil
		c.mu.Unlock()
		if wait := paused.Sub(c.now()); wait > 0 {
			return &APIError{Op: op, Status: http.StatusForbidden, Code: CodeRequestLimit,
				Message: "not calling: Salesforce reported the request limit exceeded", RetryAfter: wait}
		}
		tok, err := c.authenticate(ctx, nil)
		if err != nil {
			return err
		}
		crm.Progress(ctx)
		if err := c.limiter.Wait(ctx); err != nil {
			return err
		}
		crm.Progress(ctx)
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, tok.instance+p, rd)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok.access)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		c.calls.Add(1)
		alive := crm.ProgressWhile(ctx) // a slow answer keeps the activity heartbeating
		resp, err := c.http.Do(req)
		if err != nil {
			alive()
			if ctx.Err() != nil {
				return fmt.Errorf("Salesforce %s: %w", op, ctx.Err())
			}
			return fmt.Errorf("Salesforce %s: %w", op, err) // network failure or timeout: retryable
		}
		rb, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		alive()
		resp.Body.Close()
		c.noteLimits(resp.Header)
		if rerr != nil {
			return fmt.Errorf("Salesforce %s: read answer: %w", op, rerr)
		}
		if resp.StatusCode < 300 {
			if out == nil || resp.StatusCode == http.StatusNoContent {
				return nil
			}
			if err := json.Unmarshal(rb, out); err != nil {
				return malformed(op, rb, err)
			}
			return nil
		}
		ae := &APIError{Op: op, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header)}
		var errs []sfError
		if json.Unmarshal(rb, &errs) == nil && len(errs) > 0 {
			ae.Code, ae.Message, ae.Fields = errs[0].code(), errs[0].Message, errs[0].Fields
		} else if len(bytes.TrimSpace(rb)) > 0 {
			return malformed(op, rb, fmt.Errorf("HTTP %d without Salesforce's error list", resp.StatusCode))
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized && !reauthed:
			// INVALID_SESSION_ID: the token expired or was revoked. Re-authenticate once.
			reauthed = true
			if _, err := c.authenticate(ctx, tok); err != nil {
				return err
			}
			attempt--
			continue
		case ae.Code == CodeRequestLimit:
			wait := ae.RetryAfter
			if wait <= 0 {
				wait = time.Minute
			}
			c.mu.Lock()
			c.pausedUntil = c.now().Add(wait)
			c.mu.Unlock()
			ae.RetryAfter = wait
			return ae
		case ae.Retryable() && attempt < c.retries:
			wait := ae.RetryAfter
			if wait <= 0 {
				wait = time.Duration(200<<attempt) * time.Millisecond
			}
			if wait > c.maxWait {
				return ae // longer than a call should block: let the activity retry later
			}
			if err := c.sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		return ae
	}
}

// noteLimits records Sforce-Limit-Info: "api-usage=25/15000".
func (c *client) noteLimits(h http.Header) {
	v := h.Get("Sforce-Limit-Info")
	if v == "" {
		return
	}
	for _, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k != "api-usage" {
			continue
		}
		u, m, ok := strings.Cut(val, "/")
		if !ok {
			continue
		}
		used, err1 := strconv.Atoi(u)
		max, err2 := strconv.Atoi(m)
		if err1 != nil || err2 != nil {
			continue
		}
		c.mu.Lock()
		c.limits = Limits{Used: used, Max: max, At: c.now()}
		c.mu.Unlock()
	}
}

// retryAfter reads Retry-After in seconds (the form Salesforce and proxies send).
func retryAfter(h http.Header) time.Duration {
	s := h.Get("Retry-After")
	if s == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(s); err == nil {
		return time.Until(t)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
