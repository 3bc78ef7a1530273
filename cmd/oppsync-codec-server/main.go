// Command codecserver serves OppSync's payload codec to the Temporal Web UI and CLI, so that
// people allowed to see customer data can read encrypted workflow histories.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/rs/zerolog"

	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/logging"
)

// envSessionKeyFile names the file of the session key, the default of --session-key-file.
const envSessionKeyFile = "OPPSYNC_CODEC_SESSION_KEY_FILE"

const usage = `Usage: codecserver [flags]

Serves Temporal's remote codec protocol (POST /encode and /decode) for OppSync's encrypted
payloads, so the Temporal Web UI and CLI can show workflow histories in clear to people who
hold the codec server's token. Decoding unwraps data keys through KMS Decrypt: the server's
AWS identity needs kms:Decrypt on the payload key (and kms:GenerateDataKey only for /encode,
which the UI uses to send signals and updates).

Every request needs "Authorization: Bearer <token>" or a session cookie. The token is one
shared secret, read at startup from the file named by OPPSYNC_CODEC_TOKEN_FILE (preferred:
a mounted secret stays out of the process environment) or from OPPSYNC_CODEC_TOKEN; at
least 32 characters, e.g. ` + "`openssl rand -hex 32`" + `. Wrong or missing credentials get 401. The
Temporal CLI sends the token with
  temporal workflow show -w ID --codec-endpoint http://127.0.0.1:8081 --codec-auth "Bearer $TOKEN"
The Web UI calls the server from the browser (--ui-origin is the only origin allowed).
Without OIDC login it cannot send a bearer token, only cookies: log in once at
http://<this server>/login with the token (an HttpOnly, SameSite=Lax session cookie, an
HMAC under the session key, never the token), then in the UI's codec settings (the
glasses icon at the top right in UI 2.42) choose "Use my browser setting and ignore
cluster-level setting", enter this server's address and turn on "Include cross-origin
credentials". The UI and this server must be the same site (same host name, any port)
for the browser to send the cookie: open both as 127.0.0.1, or both as localhost.

The session key is random per process unless --session-key-file names a file holding it:
with more than one replica behind a Service, give them all the same key (a Kubernetes
Secret), or a session made on one replica is refused by the others. Behind TLS, set
--secure-cookie. Refused requests (401, 403) are counted and logged as one summary line
a minute at most.

Environment:
  OPPSYNC_PAYLOAD_KMS_KEY                 default for --kms-key
  OPPSYNC_CODEC_TOKEN_FILE, OPPSYNC_CODEC_TOKEN
                                          the bearer token, as above
  OPPSYNC_CODEC_SESSION_KEY_FILE          default for --session-key-file
  AWS_REGION, AWS_PROFILE, ...            the server's AWS identity
  AWS_ENDPOINT_URL_KMS                    a local KMS stand-in

Flags:
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "codecserver:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("codecserver", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on, host:port (serve TLS through a proxy when not on loopback)")
	uiOrigin := fs.String("ui-origin", "http://127.0.0.1:8233", "origins of the Temporal Web UI allowed to call from a browser, comma-separated (scheme://host:port[,...]), e.g. both loopback names on a developer's machine")
	kmsKey := fs.String("kms-key", codec.KMSKeyFromEnv(), "KMS key (id, ARN or alias) new data keys are made under for /encode (env "+codec.EnvKMSKey+"); /decode uses the key each payload names")
	logFormat := fs.String("log-format", "auto", "log format: json, pretty, or auto")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	sessionTTL := fs.Duration("session-ttl", codec.DefaultSessionTTL, "how long a browser login (/login) lasts")
	secureCookie := fs.Bool("secure-cookie", false, "mark the session cookie Secure: set it when browsers reach the server over HTTPS (through a TLS proxy)")
	sessionKeyFile := fs.String("session-key-file", os.Getenv(envSessionKeyFile), "file holding the key that signs session cookies (at least 32 bytes; env "+envSessionKeyFile+"): replicas must share it; default a random key per process")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log, err := logging.New(os.Stderr, logging.Format(*logFormat), *logLevel)
	if err != nil {
		return err
	}
	if *kmsKey == "" {
		return fmt.Errorf("set --kms-key or %s to the payload KMS key", codec.EnvKMSKey)
	}
	token, err := codec.TokenFromEnv()
	if err != nil {
		return err
	}
	bearer, err := codec.NewBearerToken(token)
	if err != nil {
		return err
	}
	var origins []string
	for _, o := range strings.Split(*uiOrigin, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	if len(origins) == 0 {
		return errors.New("--ui-origin is empty: give the Temporal Web UI's origin, e.g. http://127.0.0.1:8233")
	}
	var sessionKey []byte
	if *sessionKeyFile != "" {
		b, err := os.ReadFile(*sessionKeyFile)
		if err != nil {
			return fmt.Errorf("read the session key (--session-key-file, %s): %w", envSessionKeyFile, err)
		}
		if sessionKey = bytes.TrimSpace(b); len(sessionKey) < codec.MinSessionKeyLength {
			return fmt.Errorf("session key file %s holds %d bytes; want at least %d (e.g. `openssl rand -hex 32`)", *sessionKeyFile, len(sessionKey), codec.MinSessionKeyLength)
		}
	}
	sessions, err := codec.NewSessions(bearer, codec.SessionOptions{TTL: *sessionTTL, Secure: *secureCookie, UIURL: origins[0], Key: sessionKey})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration for KMS: %w", err)
	}
	c, err := codec.New(codec.Options{KMS: kms.NewFromConfig(awsCfg), KeyID: *kmsKey})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	refused := newRefusals(log, time.Now)
	go func() {
		tick := time.NewTicker(refusalSummaryEvery)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				refused.flush()
			case <-ctx.Done():
				return
			}
		}
	}()
	srv := &http.Server{
		Handler:           accessLog(log, refused, codec.NewServeMux(c, bearer, sessions, origins...)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Info().Str("listen", ln.Addr().String()).Strs("ui_origins", origins).Str("kms_key", *kmsKey).
		Bool("shared_session_key", sessionKey != nil).Bool("secure_cookie", *secureCookie).Msg("codec server starting")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	log.Info().Msg("codec server stopped")
	return nil
}

// accessLog logs each request's method, path, origin and status; never its headers or
// body (the token, the payloads). Successful requests log at debug level (the Web UI decodes
// every few seconds while a page is open), and so do refusals (401, 403), which refused
// counts and summarises at warn level once a minute at most; other errors log at warn.
func accessLog(log zerolog.Logger, refused *refusals, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		ev := log.Debug()
		switch rec.status {
		case http.StatusUnauthorized, http.StatusForbidden:
			refused.add(rec.status, r.URL.Path, r.Header.Get("Origin"))
		default:
			if rec.status >= 400 {
				ev = log.Warn()
			}
		}
		ev.Str("method", r.Method).Str("path", r.URL.Path).Str("origin", r.Header.Get("Origin")).
			Str("remote", r.RemoteAddr).Int("status", rec.status).Dur("took", time.Since(start)).Msg("codec request")
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
