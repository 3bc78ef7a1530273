package crm

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// OpenFunc opens a Store from a parsed CRM URL. A connector registers one per URL scheme.
// u is the caller's URL and may carry credentials: an OpenFunc must not log it, and should
// put Redact(u.String()) rather than u into its errors.
type OpenFunc func(ctx context.Context, u *url.URL) (Store, error)

// CheckFunc checks a CRM URL's form without opening anything: no network, no file, no
// secret is read, so the starter and the workflow (whose code must be deterministic) can run
// it before the URL reaches Temporal. It refuses what its connector's OpenFunc would refuse
// in the URL itself, above all a credential given by value rather than referenced. Its
// errors, like an OpenFunc's, never quote a secret.
type CheckFunc func(u *url.URL) error

var (
	registryMu sync.RWMutex
	registry   = map[string]OpenFunc{}
	checks     = map[string]CheckFunc{}
)

// Register makes a connector available to Open under a URL scheme (case-insensitive, as
// URL schemes are). Connectors call it from init, so importing a connector package, even
// blank, is what enables its scheme. It panics if f is nil or the scheme is already taken,
// because both are programming errors that must fail at start-up, not on first use.
func Register(scheme string, f OpenFunc) { register(registry, "Register", scheme, f, f == nil) }

// RegisterCheck sets the static URL check of a connector's scheme (see CheckFunc and
// CheckURL). Connectors call it from init, next to Register. It panics if f is nil or the
// scheme already has a check.
func RegisterCheck(scheme string, f CheckFunc) {
	register(checks, "RegisterCheck", scheme, f, f == nil)
}

// register adds f to m under the lower-cased scheme; both mistakes it panics on are
// programming errors that must fail at start-up.
func register[F any](m map[string]F, name, scheme string, f F, isNil bool) {
	scheme = strings.ToLower(scheme)
	if scheme == "" || isNil {
		panic(fmt.Sprintf("crm: %s needs a scheme and a non-nil function", name))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := m[scheme]; dup {
		panic(fmt.Sprintf("crm: %s called twice for scheme %q", name, scheme))
	}
	m[scheme] = f
}

// CheckURL reports why rawURL is not a CRM URL OppSync may store, or nil. A CRM URL goes
// into workflow history, every activity input and logs, so it must reference credentials,
// never hold them: CheckURL refuses a userinfo password, runs the static check the scheme's
// connector registered (RegisterCheck), if any, and refuses any query parameter that names
// a secret (as Redact sees it: token, key, secret, password…) with a value unless the
// parameter is a reference (NAME_env, NAME_file, NAME_secret: see crm/secret), so that a
// connector without a check is covered too. It opens nothing. Errors quote the URL
// redacted.
func CheckURL(rawURL string) error {
	shown := Redact(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("CRM URL %q is not a URL: %w", shown, err)
	}
	if u.Scheme == "" {
		return fmt.Errorf("CRM URL %q has no scheme; want a connector URL such as sqlite:///var/lib/oppsync/crm.db", shown)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return fmt.Errorf("CRM URL %q must not embed a password: reference the credential instead (NAME_env=VAR, NAME_file=PATH or NAME_secret=ARN)", shown)
		}
	}
	registryMu.RLock()
	check := checks[u.Scheme]
	registryMu.RUnlock()
	if check != nil {
		if err := check(u); err != nil {
			return fmt.Errorf("CRM URL %q: %w", shown, err)
		}
	}
	// The raw query, in order rather than through a map: the workflow runs this check, and
	// its outcome must not depend on map order.
	var inline []string
	for _, p := range strings.Split(u.RawQuery, "&") {
		name, value, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		if value != "" && isSecretParam(name) && !isReference(name, value) && !slices.Contains(inline, name) {
			inline = append(inline, name)
		}
	}
	if len(inline) > 0 {
		slices.Sort(inline)
		return fmt.Errorf("CRM URL %q gives %s by value: a CRM URL is stored in workflow history and logs, so reference each "+
			"credential instead (e.g. %s_env=VAR, %s_file=PATH or %s_secret=ARN)", shown, strings.Join(inline, ", "), inline[0], inline[0], inline[0])
	}
	return nil // a connector without a static check: Open judges the rest in the activity
}

// isReference reports whether the query parameter name=value references a credential
// rather than holding it (crm/secret's NAME_env=VAR, NAME_file=PATH, NAME_secret=ARN). A
// name ending in _secret is a reference only with an ARN for value: client_secret=… is
// the OAuth client secret itself, client_secret_secret=arn:… its reference.
func isReference(name, value string) bool {
	name = strings.ToLower(name)
	for _, suffix := range []string{"_env", "_file"} {
		if n, ok := strings.CutSuffix(name, suffix); ok && n != "" {
			return true
		}
	}
	n, ok := strings.CutSuffix(name, "_secret")
	return ok && n != "" && strings.HasPrefix(value, "arn:")
}

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for s := range registry {
		names = append(names, s)
	}
	slices.Sort(names)
	return names
}

// Open opens the Store that rawURL names, e.g. "sqlite:///var/lib/oppsync/crm.db", using the
// connector registered for the URL's scheme. Errors quote the URL redacted (see Redact), so
// they are safe to log.
func Open(ctx context.Context, rawURL string) (Store, error) {
	shown := Redact(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the unredacted URL; keep only its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("crm: bad CRM URL %q: %w", shown, err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("crm: CRM URL %q has no scheme; want e.g. sqlite:///var/lib/oppsync/crm.db (known schemes: %s)",
			shown, knownSchemes())
	}
	registryMu.RLock()
	f := registry[u.Scheme] // url.Parse lower-cases the scheme
	registryMu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("crm: unknown CRM scheme %q in %q (known: %s)", u.Scheme, shown, knownSchemes())
	}
	s, err := f(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("crm: open %q: %w", shown, err)
	}
	return s, nil
}

func knownSchemes() string {
	s := Schemes()
	if len(s) == 0 {
		return "none; import a connector such as github.com/oppsync/oppsync/crm/sqlite"
	}
	return strings.Join(s, ", ")
}

// redacted replaces secrets in a redacted URL.
const redacted = "REDACTED"

// secretParamWords are the query parameter name fragments whose values Redact hides.
var secretParamWords = []string{"token", "key", "secret", "password", "passwd", "pwd", "auth", "credential", "signature", "session"}

// Redact returns rawURL fit for logs and error messages: the userinfo password and the value
// of every query parameter whose name contains token, key, secret, password (and similar,
// case-insensitive; e.g. api_key, X-Amz-Security-Token) are replaced by REDACTED. Parameter
// order and everything else are kept, so an operator still recognises the URL. A URL that
// does not parse is hidden whole except for its scheme, since where its secret sits is
// unknown.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		if i := strings.Index(rawURL, ":"); i > 0 && !strings.ContainsAny(rawURL[:i], "/?#@") {
			return rawURL[:i] + ":" + redacted
		}
		return redacted
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			name, _, hasValue := strings.Cut(p, "=")
			if n, err := url.QueryUnescape(name); err == nil {
				name = n
			}
			if hasValue && isSecretParam(name) {
				parts[i] = url.QueryEscape(name) + "=" + redacted
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	return u.String()
}

func isSecretParam(name string) bool {
	name = strings.ToLower(name)
	for _, w := range secretParamWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
