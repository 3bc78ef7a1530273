package codec_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/oppsync/oppsync/codec"
)

// sessionServer is the codec server as cmd codecserver wires it: bearer token or session.
func sessionServer(t *testing.T, c *codec.Codec, now func() time.Time) *httptest.Server {
	t.Helper()
	bearer, err := codec.NewBearerToken(testToken)
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := codec.NewSessions(bearer, codec.SessionOptions{TTL: time.Hour, Now: now, UIURL: uiOrigin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(codec.NewServeMux(c, bearer, sessions, uiOrigin))
	t.Cleanup(srv.Close)
	return srv
}

func login(t *testing.T, srv *httptest.Server, token string) *response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL) // the login form's own origin, as a browser sends it
	return do(t, req)
}

func sessionCookie(resp *response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == codec.SessionCookieName {
			return c
		}
	}
	return nil
}

// decodeAsUI posts payloads to /decode as the Web UI does with "Include cross-origin
// credentials": from its origin, with the cookie and no Authorization header.
func decodeAsUI(t *testing.T, srv *httptest.Server, cookie *http.Cookie, payloads []*commonpb.Payload) *response {
	t.Helper()
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	req.Header.Set("Origin", uiOrigin)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return do(t, req)
}

func TestCodecServerLoginSession(t *testing.T) {
	k := testKMS(t)
	plain := plainPayloads(t, sample)
	enc := encode(t, newCodec(t, k), plain)
	now := time.Now()
	srv := sessionServer(t, newCodec(t, k), func() time.Time { return now })

	// The login form.
	resp := do(t, mustRequest(t, http.MethodGet, srv.URL+"/login"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.body, `name="token"`) ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /login: %d %q", resp.StatusCode, resp.body)
	}

	// A wrong token: 401 and no cookie.
	for _, tok := range []string{"", "0123456789abcdef0123456789abcdef-wrong-token", testToken + "x"} {
		resp := login(t, srv, tok)
		if resp.StatusCode != http.StatusUnauthorized || sessionCookie(resp) != nil || len(resp.Cookies()) != 0 {
			t.Fatalf("login with a wrong token: %d, cookies %v", resp.StatusCode, resp.Cookies())
		}
	}
	if resp := decodeAsUI(t, srv, nil, enc); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("decode without a session: %d, want 401", resp.StatusCode)
	}

	// The right token: an HttpOnly, SameSite=Lax session cookie that is not the token.
	resp = login(t, srv, testToken)
	c := sessionCookie(resp)
	if resp.StatusCode != http.StatusOK || c == nil {
		t.Fatalf("login with the token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.MaxAge <= 0 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, host-only, Path=/, with Max-Age", c)
	}
	if strings.Contains(c.Value, testToken) || strings.Contains(resp.body, testToken) {
		t.Fatal("the session cookie or the page carries the token")
	}

	// Decoding with the cookie works, and CORS lets the UI read the answer.
	resp = decodeAsUI(t, srv, c, enc)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("decode with the session: %d %v\n%s", resp.StatusCode, resp.Header, resp.body)
	}
	var got commonpb.Payloads
	if err := protojson.Unmarshal([]byte(resp.body), &got); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, got.Payloads, plain)

	// The bearer token still works (the CLI), without a cookie.
	if dec, err := remote(srv.URL, testToken).Decode(enc); err != nil {
		t.Fatal(err)
	} else {
		wantEqual(t, dec, plain)
	}

	// Forged, tampered, expired and other servers' cookies are refused.
	exp, mac, _ := strings.Cut(c.Value, ".")
	later := strings.Replace(exp, exp[:1], string(rune(exp[0]+1)), 1) // a later expiry, same MAC
	other := sessionServer(t, newCodec(t, k), func() time.Time { return now })
	otherCookie := sessionCookie(login(t, other, testToken))
	for name, value := range map[string]string{
		"empty":         "",
		"no mac":        exp,
		"later expiry":  later + "." + mac,
		"flipped mac":   exp + "." + strings.ToUpper(mac[:4]) + mac[4:] + "A",
		"the token":     testToken,
		"other server":  otherCookie.Value,
		"garbage":       "1.2.3",
		"bearer in jar": "Bearer " + testToken,
	} {
		if resp := decodeAsUI(t, srv, &http.Cookie{Name: codec.SessionCookieName, Value: value}, enc); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("cookie %s: %d, want 401", name, resp.StatusCode)
		}
	}
	now = now.Add(2 * time.Hour) // past the TTL
	if resp := decodeAsUI(t, srv, c, enc); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired session: %d, want 401", resp.StatusCode)
	}
}

func TestCodecServerLoginRefusesCrossOriginPosts(t *testing.T) {
	srv := sessionServer(t, newCodec(t, testKMS(t)), time.Now)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/login", strings.NewReader(url.Values{"token": {testToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example.com")
	if resp := do(t, req); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Fatalf("login posted from another site: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}

	// Logout clears the cookie.
	req = mustRequest(t, http.MethodPost, srv.URL+"/logout")
	resp := do(t, req)
	if c := sessionCookie(resp); resp.StatusCode != http.StatusOK || c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("logout: %d, cookie %+v", resp.StatusCode, c)
	}
}

// The UI's preflight for a credentialed request is answered for its origin only, and a
// session cookie does not let another same-site origin in.
func TestCodecServerCredentialedCORS(t *testing.T) {
	srv := sessionServer(t, newCodec(t, testKMS(t)), time.Now)
	req := mustRequest(t, http.MethodOptions, srv.URL+"/decode")
	req.Header.Set("Origin", uiOrigin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace")
	resp := do(t, req)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "x-namespace") {
		t.Fatalf("credentialed preflight from the UI: %d %v", resp.StatusCode, resp.Header)
	}

	c := sessionCookie(login(t, srv, testToken))
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/decode", strings.NewReader(`{"payloads":[]}`))
	req.Header.Set("Origin", "http://127.0.0.1:9999") // same site as the UI, another origin
	req.AddCookie(c)
	if resp := do(t, req); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with the session from another origin: %d, want 403", resp.StatusCode)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// GET /login with a valid session says so, and until when, instead of asking again.
func TestCodecServerLoginPageWhenLoggedIn(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	srv := sessionServer(t, newCodec(t, testKMS(t)), func() time.Time { return now })
	c := sessionCookie(login(t, srv, testToken))
	req := mustRequest(t, http.MethodGet, srv.URL+"/login")
	req.AddCookie(c)
	resp := do(t, req)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.body, "already logged in, until 2026-12-01T10:00:00Z") ||
		strings.Contains(resp.body, `name="token"`) {
		t.Fatalf("GET /login when logged in: %d\n%s", resp.StatusCode, resp.body)
	}
	// Without the cookie (or with an expired one) it is the form.
	now = now.Add(2 * time.Hour)
	if resp := do(t, req); !strings.Contains(resp.body, `name="token"`) {
		t.Fatalf("GET /login with an expired session shows no form:\n%s", resp.body)
	}
}

// Replicas sharing the session key accept each other's sessions; others do not, and a
// short key is refused.
func TestCodecServerSharedSessionKey(t *testing.T) {
	k := testKMS(t)
	enc := encode(t, newCodec(t, k), plainPayloads(t, sample))
	key := []byte("0123456789abcdef0123456789abcdef-shared")
	replica := func(key []byte) *httptest.Server {
		bearer, err := codec.NewBearerToken(testToken)
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := codec.NewSessions(bearer, codec.SessionOptions{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(codec.NewServeMux(newCodec(t, k), bearer, sessions, uiOrigin))
		t.Cleanup(srv.Close)
		return srv
	}
	a, b, own := replica(key), replica(key), replica(nil)
	c := sessionCookie(login(t, a, testToken))
	if resp := decodeAsUI(t, b, c, enc); resp.StatusCode != http.StatusOK {
		t.Fatalf("a session made on one replica is refused by another with the same key: %d", resp.StatusCode)
	}
	if resp := decodeAsUI(t, own, c, enc); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a server with its own key accepted another's session: %d", resp.StatusCode)
	}
	bearer, _ := codec.NewBearerToken(testToken)
	if _, err := codec.NewSessions(bearer, codec.SessionOptions{Key: []byte("short")}); err == nil {
		t.Fatal("a 5-byte session key was accepted")
	}
}

// Both loopback names of the UI may be allowed; any other origin is still refused.
func TestCodecServerSeveralOrigins(t *testing.T) {
	k := testKMS(t)
	enc := encode(t, newCodec(t, k), plainPayloads(t, sample))
	bearer, _ := codec.NewBearerToken(testToken)
	sessions, _ := codec.NewSessions(bearer, codec.SessionOptions{})
	srv := httptest.NewServer(codec.NewServeMux(newCodec(t, k), bearer, sessions, "http://127.0.0.1:8233", "http://localhost:8233"))
	t.Cleanup(srv.Close)
	c := sessionCookie(login(t, srv, testToken))
	for origin, want := range map[string]int{"http://127.0.0.1:8233": 200, "http://localhost:8233": 200, "http://localhost:8234": 403} {
		body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(body))
		req.Header.Set("Origin", origin)
		req.AddCookie(c)
		resp := do(t, req)
		if resp.StatusCode != want || (want == 200 && resp.Header.Get("Access-Control-Allow-Origin") != origin) {
			t.Errorf("decode from %s: %d (allow-origin %q), want %d", origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), want)
		}
	}
}
