package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// tokenSource hands out the bearer token for HubSpot calls.
type tokenSource interface {
	// token returns the current access token, fetching one if needed.
	token(ctx context.Context) (string, error)
	// invalidate is called after a 401 with the token that failed; it reports whether a
	// fresh token may now be available (so the call is worth repeating once).
	invalidate(failed string) bool
}

// secretRef names where a secret lives: an environment variable or a file. The value
// never appears in the CRM URL, so URLs are safe to store in workflow history and logs.
type secretRef struct {
	param string // the URL parameter that named it, for errors
	env   string
	file  string
}

// read returns the secret, trimmed of surrounding white space (files end in a newline).
func (r secretRef) read() (string, error) {
	var v string
	switch {
	case r.env != "":
		v = os.Getenv(r.env)
		if strings.TrimSpace(v) == "" {
			return "", configErrorf("environment variable %s (named by %s) is empty or unset", r.env, r.param)
		}
	case r.file != "":
		b, err := os.ReadFile(r.file)
		if err != nil {
			return "", configErrorf("read %s (named by %s): %v", r.file, r.param, err)
		}
		v = string(b)
		if strings.TrimSpace(v) == "" {
			return "", configErrorf("file %s (named by %s) is empty", r.file, r.param)
		}
	default:
		return "", configErrorf("%s is not set", r.param)
	}
	return strings.TrimSpace(v), nil
}

// staticToken is a private-app access token. Private-app tokens do not expire, but an
// admin may rotate one: a token read from a file is read again after a 401, so a rotated
// file is picked up without a restart.
type staticToken struct {
	ref secretRef

	mu  sync.Mutex
	tok string
}

func (s *staticToken) token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == "" {
		t, err := s.ref.read()
		if err != nil {
			return "", err
		}
		s.tok = t
	}
	return s.tok, nil
}

func (s *staticToken) invalidate(failed string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != failed {
		return true // someone already re-read it
	}
	t, err := s.ref.read()
	if err != nil || t == failed {
		return false
	}
	s.tok = t
	return true
}

// oauthToken is an OAuth access token refreshed with a refresh token:
// POST /oauth/v1/token, grant_type=refresh_token. HubSpot access tokens live 30 minutes;
// the token is refreshed a minute before it expires and once after a 401.
type oauthToken struct {
	tokenURL     string
	httpc        *http.Client
	lim          *limiter
	clientID     string
	clientSecret secretRef
	refresh      secretRef
	now          func() time.Time

	mu         sync.Mutex
	tok        string
	expires    time.Time
	refreshTok string // a rotated refresh token from the last answer, if HubSpot sent one
	refreshes  int    // how many token calls were made (for the benchmark's call count)
}

func (o *oauthToken) token(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tok != "" && o.now().Add(time.Minute).Before(o.expires) {
		return o.tok, nil
	}
	return o.fetchLocked(ctx)
}

func (o *oauthToken) invalidate(failed string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tok == failed {
		o.tok = ""
	}
	return true
}

func (o *oauthToken) fetchLocked(ctx context.Context) (string, error) {
	secret, err := o.clientSecret.read()
	if err != nil {
		return "", err
	}
	rt := o.refreshTok
	if rt == "" {
		if rt, err = o.refresh.read(); err != nil {
			return "", err
		}
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {o.clientID},
		"client_secret": {secret},
		"refresh_token": {rt},
	}
	if err := o.lim.wait(ctx); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	o.refreshes++
	resp, err := o.httpc.Do(req)
	if err != nil {
		return "", fmt.Errorf("HubSpot OAuth token refresh: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", fmt.Errorf("HubSpot OAuth token refresh: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		ae := apiError("OAuth token refresh", resp, body)
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized {
			// invalid_grant and friends: the refresh token was revoked or the client is wrong.
			ae.Message += " (re-authorise the HubSpot app and store the new refresh token)"
		}
		return "", ae
	}
	var t struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return "", fmt.Errorf("HubSpot OAuth token refresh: %w: no access_token in the answer", ErrMalformedResponse)
	}
	if t.ExpiresIn <= 0 {
		t.ExpiresIn = 1800
	}
	o.tok = t.AccessToken
	o.expires = o.now().Add(time.Duration(t.ExpiresIn) * time.Second)
	if t.RefreshToken != "" {
		o.refreshTok = t.RefreshToken
	}
	return o.tok, nil
}

func (o *oauthToken) calls() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refreshes
}
