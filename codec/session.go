package codec

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/converter"
)

// Browser sessions of the codec server.
//
// The Temporal Web UI sends a bearer token to a codec server only when it runs with OIDC
// login (passAccessToken); without OIDC it can only send cookies ("Include cross-origin
// credentials" in its codec settings). So an operator logs in once at the codec server's
// /login with the shared token, and gets a session cookie that the UI's credentialed
// fetches carry. The cookie is never the token: it is an expiry and an HMAC of it under the
// session key, so it is worthless elsewhere and cannot be forged without the key. The key
// is random per process unless SessionOptions.Key gives one: replicas behind one Service
// must share it (a Kubernetes Secret), or a session made on one is refused by the others.
//
// Cookies are scoped by host, not port: the UI on the same host also receives the cookie
// (it ignores it). SameSite=Lax keeps it off requests from other sites; the UI at
// 127.0.0.1:8233 and the codec server at 127.0.0.1:8081 are the same site, so the UI's
// fetches carry it. Other same-site origins are refused by NewHTTPHandler's origin check.

// SessionCookieName is the codec server's session cookie.
const SessionCookieName = "oppsync_codec_session"

// DefaultSessionTTL is how long a login lasts.
const DefaultSessionTTL = 12 * time.Hour

// MinSessionKeyLength is the shortest session key accepted.
const MinSessionKeyLength = 32

// sessionMAC binds the HMAC to its purpose and format version.
const sessionMAC = "oppsync-codec-session/v1|"

// SessionOptions configures NewSessions.
type SessionOptions struct {
	// TTL is how long a session lasts. Default DefaultSessionTTL.
	TTL time.Duration
	// Secure marks the cookie Secure (sent over HTTPS only). Set it whenever the browser
	// reaches the server over HTTPS (directly or through a TLS proxy); the cookie is Secure
	// anyway on a request that arrived over TLS.
	Secure bool
	// UIURL, if set, is linked from the login page once logged in (the Temporal Web UI).
	UIURL string
	// Key signs the session cookies, at least MinSessionKeyLength bytes. Replicas of the
	// server share it so that a session made on one is good on all; sessions then survive
	// restarts until they expire. Default: a random key of this process.
	Key []byte
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Sessions issues and checks the codec server's browser sessions. It is an Authorizer
// (a valid session cookie) and serves the login and logout pages (Handler).
type Sessions struct {
	token  *BearerToken
	secret []byte
	opts   SessionOptions
}

// NewSessions returns sessions logged into with token, under a new random secret.
func NewSessions(token *BearerToken, opts SessionOptions) (*Sessions, error) {
	if token == nil {
		return nil, fmt.Errorf("codec sessions need the server's bearer token")
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultSessionTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	secret := opts.Key
	switch {
	case secret == nil:
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("codec sessions: random secret: %w", err)
		}
	case len(secret) < MinSessionKeyLength:
		return nil, fmt.Errorf("codec session key is %d bytes; want at least %d (e.g. `openssl rand -hex 32`)", len(secret), MinSessionKeyLength)
	}
	return &Sessions{token: token, secret: secret, opts: opts}, nil
}

// Authorize reports whether r carries a valid, unexpired session cookie.
func (s *Sessions) Authorize(r *http.Request) bool {
	_, ok := s.session(r)
	return ok
}

// session returns the expiry of r's valid, unexpired session, if it has one.
func (s *Sessions) session(r *http.Request) (time.Time, bool) {
	c, err := r.Cookie(SessionCookieName)
	if err != nil {
		return time.Time{}, false
	}
	exp, mac, ok := strings.Cut(c.Value, ".")
	if !ok {
		return time.Time{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || !hmac.Equal(got, s.mac(exp)) {
		return time.Time{}, false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || s.opts.Now().Unix() >= unix {
		return time.Time{}, false
	}
	return time.Unix(unix, 0).UTC(), true
}

func (s *Sessions) mac(exp string) []byte {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte(sessionMAC + exp))
	return h.Sum(nil)
}

// cookie returns a new session cookie, or one that clears the session when value is "".
func (s *Sessions) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.opts.Secure || r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	}
}

// Handler serves GET /login (a form asking for the token), POST /login (checks the token,
// sets the session cookie; a wrong token gets 401 and no cookie) and POST /logout (clears
// it). Mount it at /login and /logout.
func (s *Sessions) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && !sameOrigin(r) {
			// A form posted from another site (login CSRF) or a script elsewhere.
			http.Error(w, "cross-origin form posts are refused", http.StatusForbidden)
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/logout") && r.Method == http.MethodPost:
			http.SetCookie(w, s.cookie(r, "", -1))
			s.page(w, http.StatusOK, pageData{Message: "Logged out."})
		case strings.HasSuffix(r.URL.Path, "/login") && r.Method == http.MethodGet:
			if until, ok := s.session(r); ok {
				s.page(w, http.StatusOK, pageData{LoggedIn: true, Already: true, Until: until.Format(time.RFC3339), UIURL: s.opts.UIURL})
				return
			}
			s.page(w, http.StatusOK, pageData{Form: true})
		case strings.HasSuffix(r.URL.Path, "/login") && r.Method == http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, 4096)
			if err := r.ParseForm(); err != nil || !s.token.Matches(r.PostForm.Get("token")) {
				s.page(w, http.StatusUnauthorized, pageData{Form: true, Error: "Wrong token."})
				return
			}
			exp := strconv.FormatInt(s.opts.Now().Add(s.opts.TTL).Unix(), 10)
			value := exp + "." + base64.RawURLEncoding.EncodeToString(s.mac(exp))
			http.SetCookie(w, s.cookie(r, value, int(s.opts.TTL/time.Second)))
			s.page(w, http.StatusOK, pageData{LoggedIn: true, Until: time.Unix(s.opts.Now().Add(s.opts.TTL).Unix(), 0).UTC().Format(time.RFC3339),
				UIURL: s.opts.UIURL})
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "GET or POST /login, POST /logout", http.StatusMethodNotAllowed)
		}
	})
}

// sameOrigin reports whether a state-changing request comes from this server's own pages:
// browsers send Origin on every POST; clients without one (curl) are not browsers.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

type pageData struct {
	Form, LoggedIn, Already bool
	Error, Message          string
	Until, UIURL            string
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OppSync codec server</title>
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em}
input[type=password]{width:100%;padding:.4em;margin:.5em 0}.err{color:#b00}</style></head>
<body><h1>OppSync codec server</h1>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .Form}}<p>Enter the codec server's token to see decoded payloads in the Temporal Web UI from this browser.</p>
<form method="post" action="login"><label>Token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
<button type="submit">Log in</button></form>{{end}}
{{if .LoggedIn}}<p id="session">{{if .Already}}This browser is already logged in, until {{.Until}}.{{else}}Logged in until {{.Until}}.{{end}}</p>
<p>The Temporal Web UI decodes payloads through this server when its codec settings (the glasses icon at the top
right, "Codec Server") use this server's address, "Use my browser setting and ignore cluster-level setting",
and "Include cross-origin credentials" on.</p>
{{if .UIURL}}<p><a href="{{.UIURL}}">Open the Temporal Web UI</a></p>{{end}}
<form method="post" action="logout"><button type="submit">Log out</button></form>{{end}}
</body></html>
`))

func (s *Sessions) page(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, d)
}

// AnyOf authorizes a request that any of auths authorizes, e.g. a bearer token (the CLI)
// or a session cookie (the Web UI).
func AnyOf(auths ...Authorizer) Authorizer { return anyOf(auths) }

type anyOf []Authorizer

func (a anyOf) Authorize(r *http.Request) bool {
	for _, auth := range a {
		if auth.Authorize(r) {
			return true
		}
	}
	return false
}

// NewServeMux serves the codec server: /login and /logout from sessions, and the remote
// codec protocol (NewHTTPHandler) everywhere else for requests carrying the bearer token
// or a session cookie. Browsers may call the codec only from allowedOrigins.
func NewServeMux(pc converter.PayloadCodec, bearer *BearerToken, sessions *Sessions, allowedOrigins ...string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/login", sessions.Handler())
	mux.Handle("/logout", sessions.Handler())
	mux.Handle("/", NewHTTPHandler(pc, AnyOf(bearer, sessions), allowedOrigins...))
	return mux
}
