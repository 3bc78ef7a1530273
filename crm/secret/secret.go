// Package secret is how a CRM connector names a credential without holding it. A CRM URL
// is stored in workflow history and appears in logs, so it carries references only; the
// connector resolves them in the activity, when it first needs the credential and again
// after the CRM refuses it (401), so a rotated secret is picked up without a restart.
//
// A credential called NAME (token, client_secret, refresh_token, key…) is referenced by
// exactly one URL parameter:
//
//	NAME_env=VAR       the environment variable VAR (local runs, containers)
//	NAME_file=/path    the file's content (mounted secrets)
//	NAME_secret=ARN    an AWS Secrets Manager secret: its SecretString, or with ARN#KEY
//	                   the string KEY of a JSON secret (production)
//
// The ARN is arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME (with or without the six
// random characters AWS appends); in a URL write #KEY as %23KEY, since a bare # starts the
// URL's fragment. NAME=value itself is refused: the value would be stored in history.
//
// Values are trimmed of surrounding white space (files end in a newline). They are never
// logged, and errors name the parameter, the variable, file or ARN, never the value.
package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// Kind is where a referenced value lives.
type Kind int

// The kinds of reference, by URL parameter suffix.
const (
	// Env is an environment variable: NAME_env=VAR.
	Env Kind = iota + 1
	// File is a file's content: NAME_file=/path.
	File
	// SecretsManager is an AWS Secrets Manager secret: NAME_secret=ARN[#KEY].
	SecretsManager
	// Plain is a value given in the URL itself (NAME=value). Only for values that are not
	// secret, such as an OAuth client id; FromQuery never returns it.
	Plain
)

// suffixes are the URL parameter suffixes of Env, File and SecretsManager.
var suffixes = map[Kind]string{Env: "_env", File: "_file", SecretsManager: "_secret"}

// Ref references one credential. It holds the variable's name, the file's path or the
// secret's ARN, never a secret value, so it is safe to keep in configuration and to log.
// The zero Ref references nothing.
type Ref struct {
	// Name is the credential's name in the URL, e.g. "token" or "client_secret".
	Name string
	// Kind says where the value lives.
	Kind Kind
	// Source is the environment variable's name, the file's path, the secret's ARN, or
	// (Plain only) the value itself.
	Source string
	// JSONKey, for SecretsManager, picks one string of a JSON secret; empty takes the whole
	// SecretString.
	JSONKey string
}

// IsZero reports whether r references nothing.
func (r Ref) IsZero() bool { return r.Kind == 0 }

// Param is the URL parameter that gives r, e.g. "token_env".
func (r Ref) Param() string {
	if r.Kind == Plain {
		return r.Name
	}
	return r.Name + suffixes[r.Kind]
}

// String is r as its URL parameter, e.g. "token_secret=arn:aws:secretsmanager:…#token".
func (r Ref) String() string {
	if r.IsZero() {
		return r.Name + " (not set)"
	}
	s := r.Param() + "=" + r.Source
	if r.JSONKey != "" {
		s += "#" + r.JSONKey
	}
	return s
}

// Params returns the URL parameters that may reference the credential called name:
// name_env, name_file and name_secret.
func Params(name string) []string {
	return []string{name + suffixes[Env], name + suffixes[File], name + suffixes[SecretsManager]}
}

// arnPattern is a Secrets Manager secret ARN, full (name-XXXXXX) or partial, in any
// partition. Secret names are letters, digits and /_+=.@-.
var arnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):secret:([A-Za-z0-9/_+=.@-]{1,512})$`)

// Parse reads one reference parameter: param is NAME_env, NAME_file or NAME_secret and
// value its value, e.g. Parse("token_env", "HUBSPOT_TOKEN").
func Parse(param, value string) (Ref, error) {
	for kind, suffix := range suffixes {
		if name, ok := strings.CutSuffix(param, suffix); ok && name != "" {
			return parse(name, kind, value)
		}
	}
	return Ref{}, &Error{Ref: Ref{Name: param}, msg: fmt.Sprintf("%s is not a secret reference: want NAME_env, NAME_file or NAME_secret", param)}
}

func parse(name string, kind Kind, value string) (Ref, error) {
	r := Ref{Name: name, Kind: kind, Source: value}
	if strings.TrimSpace(value) == "" {
		return Ref{}, r.errorf("is empty")
	}
	switch kind {
	case Env:
		if strings.ContainsAny(value, "= \t\n") {
			return Ref{}, r.errorf("is not an environment variable's name")
		}
	case SecretsManager:
		arn, key, hasKey := strings.Cut(value, "#")
		r.Source, r.JSONKey = arn, key
		if hasKey && key == "" {
			return Ref{}, r.errorf("ends in # without a JSON key")
		}
		if !arnPattern.MatchString(arn) {
			return Ref{}, r.errorf("is not a Secrets Manager secret ARN: want arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME[#JSON_KEY]")
		}
	}
	return r, nil
}

// FromQuery returns the reference q gives for the credential called name: exactly one of
// name_env, name_file and name_secret. ok is false, with no error, when q gives none. It
// refuses name=value: a value in the URL would be stored in workflow history and logs.
func FromQuery(q url.Values, name string) (ref Ref, ok bool, err error) {
	if q.Has(name) {
		return Ref{}, false, &Error{Ref: Ref{Name: name}, msg: fmt.Sprintf(
			"%s= puts the credential itself in the URL, which is stored in workflow history and logs: reference it with %s=VAR, %s=PATH or %s=ARN instead",
			name, name+suffixes[Env], name+suffixes[File], name+suffixes[SecretsManager])}
	}
	return fromQuery(q, name)
}

// FromQueryOrPlain is FromQuery for a value that is not secret (an OAuth client id): it
// also accepts name=value, as a Plain reference.
func FromQueryOrPlain(q url.Values, name string) (ref Ref, ok bool, err error) {
	ref, ok, err = fromQuery(q, name)
	if !q.Has(name) || err != nil {
		return ref, ok, err
	}
	if ok {
		return Ref{}, false, &Error{Ref: ref, msg: fmt.Sprintf("give %s or %s, not both", name, ref.Param())}
	}
	if strings.TrimSpace(q.Get(name)) == "" {
		return Ref{}, false, &Error{Ref: Ref{Name: name}, msg: name + "= is empty"}
	}
	return Ref{Name: name, Kind: Plain, Source: strings.TrimSpace(q.Get(name))}, true, nil
}

// URLQuery reads the credential references of a CRM URL's query for a connector's URL
// parsing: a malformed reference is reported to Bad and reads as none, so the connector
// refuses the URL with every problem at once.
type URLQuery struct {
	Values url.Values
	// Bad receives each problem, as a message for the operator.
	Bad func(format string, a ...any)
}

// Ref returns the reference the query gives for the secret credential called name (see
// FromQuery); false when it gives none or a malformed one.
func (q URLQuery) Ref(name string) (Ref, bool) { return q.report(FromQuery(q.Values, name)) }

// RefOrPlain is Ref for a credential that is not secret, such as an OAuth client id: name=value
// is accepted too (see FromQueryOrPlain).
func (q URLQuery) RefOrPlain(name string) (Ref, bool) {
	return q.report(FromQueryOrPlain(q.Values, name))
}

// Given reports whether the query mentions the credential called name in any form (name=,
// name_env=, name_file=, name_secret=), well-formed or not.
func (q URLQuery) Given(name string) bool {
	return q.Values.Has(name) || slices.ContainsFunc(Params(name), q.Values.Has)
}

func (q URLQuery) report(r Ref, ok bool, err error) (Ref, bool) {
	if err != nil {
		q.Bad("%v", err)
	}
	return r, ok
}

func fromQuery(q url.Values, name string) (Ref, bool, error) {
	var given []string
	for _, p := range Params(name) {
		if q.Has(p) {
			given = append(given, p)
		}
	}
	switch len(given) {
	case 0:
		return Ref{}, false, nil
	case 1:
		if len(q[given[0]]) > 1 {
			return Ref{}, false, &Error{Ref: Ref{Name: name}, msg: given[0] + " is given more than once"}
		}
		r, err := Parse(given[0], q.Get(given[0]))
		return r, err == nil, err
	default:
		return Ref{}, false, &Error{Ref: Ref{Name: name}, msg: fmt.Sprintf("give one of %s, not %s", strings.Join(Params(name), ", "), strings.Join(given, " and "))}
	}
}

// Error is a failure to parse or resolve a reference. Its message names the reference
// (parameter and variable, file or ARN) and never the value. Retryable says whether trying
// again later may succeed (a network failure, Secrets Manager throttling) or not (an unset
// variable, a missing file or secret, a denied permission): see crm.RetryClassifier.
type Error struct {
	Ref       Ref
	msg       string
	retryable bool
	err       error
}

func (e *Error) Error() string {
	s := e.msg
	if e.Ref.Kind != 0 {
		s = e.Ref.String() + ": " + s
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Unwrap returns the underlying error, e.g. the SDK's smithy.APIError.
func (e *Error) Unwrap() error { return e.err }

// Retryable reports whether resolving again later may succeed.
func (e *Error) Retryable() bool { return e.retryable }

func (r Ref) errorf(format string, a ...any) *Error {
	return &Error{Ref: r, msg: fmt.Sprintf(format, a...)}
}

// DefaultTTL is how long Resolve keeps a Secrets Manager value before asking again, so a
// rotated secret is picked up within minutes even without a 401.
const DefaultTTL = 5 * time.Minute

// GetSecretValueAPI is the one Secrets Manager operation a Resolver calls.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Resolver reads referenced values. Environment variables and files are read at every
// Resolve (cheap, and a rotated file is seen at once); Secrets Manager values are cached
// for TTL per ARN. It is safe for concurrent use.
type Resolver struct {
	ttl       time.Duration
	newClient func(ctx context.Context, region string) (GetSecretValueAPI, error)
	now       func() time.Time

	mu      sync.Mutex
	cache   map[string]cached // by ARN
	clients map[string]GetSecretValueAPI
}

type cached struct {
	value   string
	expires time.Time
}

// NewResolver returns a Resolver that keeps Secrets Manager values for ttl (DefaultTTL if
// ttl ≤ 0) and calls Secrets Manager through client. A nil client means one per secret's
// region from config.LoadDefaultConfig, which honours AWS_ENDPOINT_URL_SECRETS_MANAGER (the
// local stack's fake) and the worker's role credentials.
func NewResolver(client GetSecretValueAPI, ttl time.Duration) *Resolver {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	r := &Resolver{ttl: ttl, now: time.Now, cache: map[string]cached{}, clients: map[string]GetSecretValueAPI{}}
	if client != nil {
		r.newClient = func(context.Context, string) (GetSecretValueAPI, error) { return client, nil }
	} else {
		r.newClient = defaultClient
	}
	return r
}

// defaultClient is a Secrets Manager client for region from the default AWS configuration.
// The secret's own region is used, whatever AWS_REGION says: a secret is read where it lives.
func defaultClient(ctx context.Context, region string) (GetSecretValueAPI, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	return secretsmanager.NewFromConfig(cfg), nil
}

// Default is the Resolver Resolve and Invalidate use, with DefaultTTL and the default
// AWS configuration.
var Default = NewResolver(nil, DefaultTTL)

// Resolve returns the value ref references, through Default.
func Resolve(ctx context.Context, ref Ref) (string, error) { return Default.Resolve(ctx, ref) }

// Invalidate makes Default's next Resolve of ref read it afresh.
func Invalidate(ref Ref) { Default.Invalidate(ref) }

// Resolve returns the value ref references, trimmed of surrounding white space. Errors are
// *Error and never contain the value.
func (r *Resolver) Resolve(ctx context.Context, ref Ref) (string, error) {
	var v string
	switch ref.Kind {
	case Plain:
		v = ref.Source
	case Env:
		v = os.Getenv(ref.Source)
		if strings.TrimSpace(v) == "" {
			return "", ref.errorf("the environment variable is empty or unset")
		}
	case File:
		b, err := os.ReadFile(ref.Source)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is already in the message
			}
			return "", &Error{Ref: ref, msg: "cannot read the file", err: err}
		}
		if v = string(b); strings.TrimSpace(v) == "" {
			return "", ref.errorf("the file is empty")
		}
	case SecretsManager:
		var err error
		if v, err = r.secretsManager(ctx, ref); err != nil {
			return "", err
		}
	default:
		return "", &Error{Ref: ref, msg: fmt.Sprintf("%s is not set: give one of %s", ref.Name, strings.Join(Params(ref.Name), ", "))}
	}
	return strings.TrimSpace(v), nil
}

// Invalidate drops the cached value of ref, so the next Resolve reads it afresh: call it
// when the CRM refused the credential (it may have been rotated).
func (r *Resolver) Invalidate(ref Ref) {
	if ref.Kind != SecretsManager {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.cache, ref.Source)
}

func (r *Resolver) secretsManager(ctx context.Context, ref Ref) (string, error) {
	whole, err := r.secretString(ctx, ref)
	if err != nil {
		return "", err
	}
	if ref.JSONKey == "" {
		if strings.TrimSpace(whole) == "" {
			return "", ref.errorf("the secret is empty")
		}
		return whole, nil
	}
	// Decode errors are not wrapped: json's messages quote bits of the input.
	var fields map[string]any
	if json.Unmarshal([]byte(whole), &fields) != nil {
		return "", ref.errorf("the secret is not a JSON object, so it has no key %q; drop #%s to take the whole secret", ref.JSONKey, ref.JSONKey)
	}
	raw, ok := fields[ref.JSONKey]
	if !ok {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "", ref.errorf("the secret's JSON has no key %q (it has: %s)", ref.JSONKey, strings.Join(keys, ", "))
	}
	v, ok := raw.(string)
	if !ok || strings.TrimSpace(v) == "" {
		return "", ref.errorf("the secret's JSON key %q is not a non-empty string", ref.JSONKey)
	}
	return v, nil
}

// secretString returns the secret's SecretString (or SecretBinary), from the cache while
// it is fresh.
func (r *Resolver) secretString(ctx context.Context, ref Ref) (string, error) {
	r.mu.Lock()
	c, ok := r.cache[ref.Source]
	r.mu.Unlock()
	if ok && r.now().Before(c.expires) {
		return c.value, nil
	}
	region := arnPattern.FindStringSubmatch(ref.Source)
	if region == nil { // a Ref built by hand rather than by Parse
		return "", ref.errorf("is not a Secrets Manager secret ARN")
	}
	client, err := r.client(ctx, region[1])
	if err != nil {
		return "", &Error{Ref: ref, msg: "Secrets Manager", retryable: true, err: err}
	}
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &ref.Source})
	if err != nil {
		return "", &Error{Ref: ref, msg: "Secrets Manager GetSecretValue" + advice(err), retryable: retryable(err), err: err}
	}
	var v string
	switch {
	case out.SecretString != nil:
		v = *out.SecretString
	case out.SecretBinary != nil:
		v = string(out.SecretBinary)
	}
	r.mu.Lock()
	r.cache[ref.Source] = cached{value: v, expires: r.now().Add(r.ttl)}
	r.mu.Unlock()
	return v, nil
}

// client returns the Secrets Manager client of region, making it once. Clients of the
// default configuration are also keyed by AWS_ENDPOINT_URL_SECRETS_MANAGER, so pointing it
// at another local stack (tests do) is honoured.
func (r *Resolver) client(ctx context.Context, region string) (GetSecretValueAPI, error) {
	key := region + " " + os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")
	r.mu.Lock()
	c, ok := r.clients[key]
	r.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := r.newClient(ctx, region)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.clients[key]; ok {
		return old, nil
	}
	r.clients[key] = c
	return c, nil
}

// Secrets Manager error codes that a retry does not cure.
var permanentCodes = map[string]string{
	"ResourceNotFoundException":   ": check the ARN, and that the secret exists in that region and account",
	"AccessDeniedException":       ": the worker's role needs secretsmanager:GetSecretValue on this secret (and kms:Decrypt on its key if it is a customer-managed one)",
	"DecryptionFailure":           ": the worker's role cannot decrypt the secret with its KMS key",
	"InvalidRequestException":     ": the secret may be scheduled for deletion",
	"InvalidParameterException":   "",
	"ValidationException":         "",
	"UnrecognizedClientException": ": the worker's AWS credentials are not valid",
}

func advice(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return permanentCodes[ae.ErrorCode()]
	}
	return ""
}

func retryable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		_, permanent := permanentCodes[ae.ErrorCode()]
		return !permanent
	}
	return true // network failures, timeouts
}

// AuthFailed (crm.AuthClassifier) reports whether the credential cannot be had at all (an
// unset variable, a missing file or secret, a denied permission): the CRM cannot be
// authenticated to until someone fixes the reference.
func (e *Error) AuthFailed() bool { return !e.retryable }
