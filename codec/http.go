package codec

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.temporal.io/sdk/converter"
)

// Environment variables of the codec server's bearer token. The file is preferred: a
// mounted secret does not show in the process environment (/proc/<pid>/environ, crash
// dumps, `docker inspect`) and can be rotated by replacing the file and restarting.
const (
	EnvCodecTokenFile = "OPPSYNC_CODEC_TOKEN_FILE"
	EnvCodecToken     = "OPPSYNC_CODEC_TOKEN"
)

// MinTokenLength is the shortest bearer token accepted: 32 characters, e.g. the output of
// `openssl rand -hex 32` has 64.
const MinTokenLength = 32

// maxRequestBytes bounds a request body: the UI decodes a few payloads at a time, and
// Temporal refuses payloads over 2 MiB anyway.
const maxRequestBytes = 16 << 20

// Authorizer decides whether a request to the codec server may encode or decode payloads.
// The bearer token is the first implementation; verifying the Temporal UI's OIDC access
// tokens (passAccessToken) against the identity provider is the intended next one.
type Authorizer interface {
	Authorize(r *http.Request) bool
}

// BearerToken authorizes requests carrying "Authorization: Bearer <token>" with one shared
// token, as the Temporal CLI sends with --codec-auth.
type BearerToken struct {
	sum [sha256.Size]byte
}

// NewBearerToken returns an Authorizer for token, which must be at least MinTokenLength
// characters.
func NewBearerToken(token string) (*BearerToken, error) {
	if len(token) < MinTokenLength {
		return nil, fmt.Errorf("codec server token is %d characters; want at least %d (e.g. `openssl rand -hex 32`)", len(token), MinTokenLength)
	}
	return &BearerToken{sum: sha256.Sum256([]byte(token))}, nil
}

// Authorize reports whether r carries the token. Comparing fixed-size hashes in constant
// time leaks neither the token's bytes nor its length through timing.
func (b *BearerToken) Authorize(r *http.Request) bool {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return b.Matches(got)
}

// Matches reports whether token is the token, compared as Authorize does.
func (b *BearerToken) Matches(token string) bool {
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], b.sum[:]) == 1
}

// TokenFromEnv reads the codec server's bearer token from the file named by
// OPPSYNC_CODEC_TOKEN_FILE, else from OPPSYNC_CODEC_TOKEN. Surrounding whitespace (a
// trailing newline in the file) is dropped.
func TokenFromEnv() (string, error) {
	if path := os.Getenv(EnvCodecTokenFile); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read the codec server token (%s): %w", EnvCodecTokenFile, err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("codec server token file %s (%s) is empty", path, EnvCodecTokenFile)
		}
		return tok, nil
	}
	if tok := strings.TrimSpace(os.Getenv(EnvCodecToken)); tok != "" {
		return tok, nil
	}
	return "", errors.New("no codec server token: set " + EnvCodecTokenFile + " to a file holding it (preferred) or " + EnvCodecToken)
}

// corsAllowHeaders are the request headers the Temporal UI sends to a codec server.
const corsAllowHeaders = "Authorization, Content-Type, X-Namespace"

// NewHTTPHandler serves pc over Temporal's remote codec protocol: POST .../encode and
// .../decode with a JSON {"payloads": [...]} body, as the Temporal Web UI and CLI call them.
// Every request must pass auth. Browsers may call it only from allowedOrigins (the UI's
// origin, e.g. http://127.0.0.1:8233, and on a developer's machine its localhost twin), with
// credentials; requests from any other origin are refused. Requests without an Origin
// header (the CLI) are not browser requests and need only auth.
func NewHTTPHandler(pc converter.PayloadCodec, auth Authorizer, allowedOrigins ...string) http.Handler {
	allowed := map[string]bool{}
	for _, o := range allowedOrigins {
		allowed[strings.TrimSuffix(o, "/")] = true
	}
	codec := converter.NewPayloadCodecHTTPHandler(pc)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Add("Vary", "Origin")
			if !allowed[origin] {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			// A CORS preflight carries no credentials: answer it without auth.
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", corsAllowHeaders)
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if !auth.Authorize(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="oppsync-codec"`)
			http.Error(w, "missing or invalid bearer token or session (log in at /login)", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST, OPTIONS")
			http.Error(w, "use POST .../encode or .../decode", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
		w.Header().Set("Cache-Control", "no-store") // decoded payloads are PII
		codec.ServeHTTP(w, r)
	})
}
