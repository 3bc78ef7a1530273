package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/oppsync/oppsync/crm/secret"
)

// tokenSource hands out the bearer token for HubSpot calls.
type tokenSource interface {
	// token returns the current access token, fetching one if needed.
	token(ctx context.Context) (string, error)
	// invalidate is called after a 401 with the token that failed; it reports whether a
	// fresh token may now be available (so the call is worth repeating once).
	invalidate(ctx context.Context, failed string) bool
}

// resolve reads a referenced credential in the activity. The URL holds only the reference
// (crm/secret), so no credential is in workflow history; the error names the reference,
// never the value, and keeps secret.Error's retry classification.
func resolve(ctx context.Context, what string, ref secret.Ref) (string, error) {
	v, err := secret.Resolve(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("HubSpot %s: %w", what, err)
	}
	return v, nil
}

// staticToken is a private-app access token. Private-app tokens do not expire, but an
// admin may rotate one: the reference is resolved again after a 401 (bypassing the
// Secrets Manager cache), so a rotated file, variable or secret is picked up without a
// restart.
type staticToken struct {
	ref secret.Ref

	mu  sync.Mutex
	tok string
}

func (s *staticToken) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == "" {
		t, err := resolve(ctx, "private-app token", s.ref)
		if err != nil {
			return "", err
		}
		s.tok = t
	}
	return s.tok, nil
}

func (s *staticToken) invalidate(ctx context.Context, failed string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != failed {
		return true // someone already re-read it
	}
	secret.Invalidate(s.ref)
	t, err := resolve(ctx, "private-app token", s.ref)
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
	clientID     secret.Ref
	clientSecret secret.Ref
	refresh      secret.Ref
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

func (o *oauthToken) invalidate(_ context.Context, failed string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tok == failed {
		o.tok = ""
		o.forgetSecrets()
	}
	return true
}

// forgetSecrets makes the next refresh re-read the client and refresh-token references,
// in case an admin rotated them.
func (o *oauthToken) forgetSecrets() {
	secret.Invalidate(o.clientID)
	secret.Invalidate(o.clientSecret)
	secret.Invalidate(o.refresh)
}

func (o *oauthToken) fetchLocked(ctx context.Context) (string, error) {
	clientID, err := resolve(ctx, "OAuth client id", o.clientID)
	if err != nil {
		return "", err
	}
	clientSecret, err := resolve(ctx, "OAuth client secret", o.clientSecret)
	if err != nil {
		return "", err
	}
	rt := o.refreshTok
	if rt == "" {
		if rt, err = resolve(ctx, "OAuth refresh token", o.refresh); err != nil {
			return "", err
		}
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {clientID},
		"client_secret": {clientSecret},
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
			// Re-read the references next time: the stored ones may have been rotated.
			o.forgetSecrets()
			o.refreshTok = ""
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
