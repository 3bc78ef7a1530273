// Command codecserver serves OppSync's payload codec to the Temporal Web UI and CLI, so that
// people allowed to see customer data can read encrypted workflow histories.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/rs/zerolog"

	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/logging"
)

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
HMAC under a per-process secret, never the token; sessions end on restart), then in the
UI's codec settings ("Codec Server") use this server's address and turn on "Include
cross-origin credentials". The UI and this server must be the same site (same host,
any port) for the browser to send the cookie.

Environment:
  OPPSYNC_PAYLOAD_KMS_KEY                 default for --kms-key
  OPPSYNC_CODEC_TOKEN_FILE, OPPSYNC_CODEC_TOKEN
                                          the bearer token, as above
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
	uiOrigin := fs.String("ui-origin", "http://127.0.0.1:8233", "origin of the Temporal Web UI allowed to call from a browser (scheme://host:port)")
	kmsKey := fs.String("kms-key", codec.KMSKeyFromEnv(), "KMS key (id, ARN or alias) new data keys are made under for /encode (env "+codec.EnvKMSKey+"); /decode uses the key each payload names")
	logFormat := fs.String("log-format", "auto", "log format: json, pretty, or auto")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	sessionTTL := fs.Duration("session-ttl", codec.DefaultSessionTTL, "how long a browser login (/login) lasts")
	secureCookie := fs.Bool("secure-cookie", false, "mark the session cookie Secure: set it when browsers reach the server over HTTPS (through a TLS proxy)")
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
	sessions, err := codec.NewSessions(bearer, codec.SessionOptions{TTL: *sessionTTL, Secure: *secureCookie, UIURL: *uiOrigin})
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
	srv := &http.Server{
		Handler:           accessLog(log, codec.NewServeMux(c, bearer, sessions, *uiOrigin)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Info().Str("listen", ln.Addr().String()).Str("ui_origin", *uiOrigin).Str("kms_key", *kmsKey).Msg("codec server starting")
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
// every few seconds while a page is open); refusals and errors at warn.
func accessLog(log zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		ev := log.Debug()
		if rec.status >= 400 {
			ev = log.Warn()
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
