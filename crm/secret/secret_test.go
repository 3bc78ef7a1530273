package secret

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/oppsync/oppsync/devstack/fakesm"
	"github.com/oppsync/oppsync/devstack/fakesm/fakesmtest"
)

const testARN = "arn:aws:secretsmanager:us-west-2:123456789012:secret:oppsync/acme-AbCdEf"

func TestFromQuery(t *testing.T) {
	good := map[string]Ref{
		"token_env=HUBSPOT_TOKEN":              {Name: "token", Kind: Env, Source: "HUBSPOT_TOKEN"},
		"token_file=/run/secrets/hs":           {Name: "token", Kind: File, Source: "/run/secrets/hs"},
		"token_secret=" + testARN:              {Name: "token", Kind: SecretsManager, Source: testARN},
		"token_secret=" + testARN + "%23token": {Name: "token", Kind: SecretsManager, Source: testARN, JSONKey: "token"},
		"token_secret=arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x": {Name: "token", Kind: SecretsManager,
			Source: "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x"},
		"mapping=/x": {},
	}
	for raw, want := range good {
		q, _ := url.ParseQuery(raw)
		got, ok, err := FromQuery(q, "token")
		if err != nil || ok != !want.IsZero() || got != want {
			t.Errorf("FromQuery(%s) = %+v, %v, %v; want %+v", raw, got, ok, err, want)
		}
		if ok {
			if s := got.String(); s != strings.ReplaceAll(raw, "%23", "#") {
				t.Errorf("String() = %s, want %s", s, raw)
			}
		}
	}
	bad := map[string]string{
		"token=pat-na1-very-secret":  "token_env=VAR, token_file=PATH or token_secret=ARN",
		"token_env=A&token_file=/b":  "not token_env and token_file",
		"token_env=":                 "token_env=: is empty",
		"token_env=A&token_env=B":    "more than once",
		"token_env=A%3DB":            "not an environment variable",
		"token_secret=hubspot-token": "not a Secrets Manager secret ARN",
		"token_secret=arn:aws:kms:us-west-2:123456789012:key/k": "not a Secrets Manager secret ARN",
		"token_secret=" + testARN + "%23":                       "without a JSON key",
	}
	for raw, want := range bad {
		q, _ := url.ParseQuery(raw)
		_, ok, err := FromQuery(q, "token")
		var se *Error
		if ok || !errors.As(err, &se) || !strings.Contains(err.Error(), want) || se.Retryable() {
			t.Errorf("FromQuery(%s) = %v, %v; want a non-retryable *Error containing %q", raw, ok, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "very-secret") {
			t.Errorf("FromQuery(%s): the error quotes the value: %v", raw, err)
		}
	}

	// A client id is not secret: client_id= is accepted, as a Plain reference.
	q, _ := url.ParseQuery("client_id=abc")
	if r, ok, err := FromQueryOrPlain(q, "client_id"); err != nil || !ok || r != (Ref{Name: "client_id", Kind: Plain, Source: "abc"}) {
		t.Errorf("FromQueryOrPlain(client_id=abc) = %+v, %v, %v", r, ok, err)
	}
	q, _ = url.ParseQuery("client_id=abc&client_id_env=CID")
	if _, _, err := FromQueryOrPlain(q, "client_id"); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("client_id and client_id_env: %v", err)
	}
	if _, err := Parse("token", "x"); err == nil {
		t.Error("Parse(token) accepted a parameter without a reference suffix")
	}
	if got := Params("key"); strings.Join(got, ",") != "key_env,key_file,key_secret" {
		t.Errorf("Params(key) = %v", got)
	}
}

func TestResolveEnvAndFile(t *testing.T) {
	ctx := context.Background()
	r := NewResolver(nil, 0)
	t.Setenv("OPPSYNC_TEST_SECRET", " pat-1\n")
	t.Setenv("OPPSYNC_TEST_EMPTY", "")
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("pat-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[Ref]string{
		{Name: "token", Kind: Env, Source: "OPPSYNC_TEST_SECRET"}: "pat-1",
		{Name: "token", Kind: File, Source: file}:                 "pat-file",
		{Name: "client_id", Kind: Plain, Source: "cid"}:           "cid",
	} {
		if got, err := r.Resolve(ctx, ref); err != nil || got != want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", ref, got, err, want)
		}
	}
	// A rotated file is seen at once: files are not cached.
	if err := os.WriteFile(file, []byte("pat-file-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Resolve(ctx, Ref{Name: "token", Kind: File, Source: file}); got != "pat-file-2" {
		t.Errorf("after rotating the file: %q", got)
	}
	for ref, want := range map[Ref]string{
		{Name: "token", Kind: Env, Source: "OPPSYNC_TEST_EMPTY"}:          "token_env=OPPSYNC_TEST_EMPTY: the environment variable is empty or unset",
		{Name: "token", Kind: File, Source: "/nonexistent/oppsync-token"}: "token_file=/nonexistent/oppsync-token: cannot read the file: no such file or directory",
		{Name: "token"}: "token is not set: give one of token_env, token_file, token_secret",
	} {
		_, err := r.Resolve(ctx, ref)
		var se *Error
		if !errors.As(err, &se) || se.Retryable() || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve(%s) = %v, want a non-retryable error containing %q", ref, err, want)
		}
	}
}

// useFakeSM starts a fake Secrets Manager and points the default AWS configuration at it,
// with a default region other than the ARNs': the ARN's region must win.
func useFakeSM(t *testing.T) *fakesm.Server {
	t.Helper()
	srv := fakesmtest.Use(t, "us-west-2", "123456789012")
	t.Setenv("AWS_REGION", "eu-central-1")
	return srv
}

func TestResolveSecretsManager(t *testing.T) {
	ctx := context.Background()
	srv := useFakeSM(t)
	r := NewResolver(nil, 0)
	whole := srv.Put("oppsync/acme/hubspot-token", "pat-from-sm\n")
	js := srv.Put("oppsync/acme/hubspot-oauth", `{"client_secret":"cs-1","refresh_token":"rt-1","n":3}`)
	parse := func(param, value string) Ref {
		t.Helper()
		ref, err := Parse(param, value)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	for ref, want := range map[Ref]string{
		parse("token_secret", whole):                       "pat-from-sm",
		parse("client_secret_secret", js+"#client_secret"): "cs-1",
		parse("refresh_token_secret", js+"#refresh_token"): "rt-1",
	} {
		if got, err := r.Resolve(ctx, ref); err != nil || got != want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", ref, got, err, want)
		}
	}

	notFound := strings.Replace(whole, "hubspot-token", "no-such", 1)
	for ref, want := range map[Ref]string{
		parse("token_secret", js+"#token"): `token_secret=` + js + `#token: the secret's JSON has no key "token" (it has: client_secret, n, refresh_token)`,
		parse("token_secret", js+"#n"):     `JSON key "n" is not a non-empty string`,
		parse("token_secret", whole+"#k"):  "the secret is not a JSON object",
		parse("token_secret", notFound):    "token_secret=" + notFound + ": Secrets Manager GetSecretValue: check the ARN",
	} {
		_, err := r.Resolve(ctx, ref)
		var se *Error
		if !errors.As(err, &se) || se.Retryable() || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve(%s) = %v, want a non-retryable error containing %q", ref, err, want)
		}
		for _, v := range []string{"pat-from-sm", "cs-1", "rt-1"} {
			if err != nil && strings.Contains(err.Error(), v) {
				t.Errorf("Resolve(%s): the error quotes a secret value: %v", ref, err)
			}
		}
	}
	_, err := r.Resolve(ctx, parse("token_secret", notFound))
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("not found: %v, want the SDK's *types.ResourceNotFoundException inside", err)
	}

	// Secrets Manager unreachable: retryable.
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1")
	_, err = r.Resolve(ctx, parse("token_secret", strings.Replace(whole, "hubspot-token", "elsewhere", 1)))
	var se *Error
	if !errors.As(err, &se) || !se.Retryable() {
		t.Errorf("unreachable Secrets Manager: %v, want a retryable *Error", err)
	}
}

func TestCacheTTLAndInvalidate(t *testing.T) {
	ctx := context.Background()
	srv := useFakeSM(t)
	arn := srv.Put("rotating", "v1")
	ref, err := Parse("token_secret", arn)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver(nil, time.Minute)
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	resolve := func() string {
		t.Helper()
		v, err := r.Resolve(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	if v := resolve(); v != "v1" {
		t.Fatalf("first = %q", v)
	}
	srv.Put("rotating", "v2")
	advance(59 * time.Second)
	if v := resolve(); v != "v1" || srv.Requests() != 1 {
		t.Errorf("within the TTL: %q after %d requests, want the cached v1 after 1", v, srv.Requests())
	}
	advance(time.Second)
	if v := resolve(); v != "v2" || srv.Requests() != 2 {
		t.Errorf("after the TTL: %q after %d requests, want v2 after 2", v, srv.Requests())
	}
	srv.Put("rotating", "v3")
	r.Invalidate(ref) // the CRM said 401
	if v := resolve(); v != "v3" || srv.Requests() != 3 {
		t.Errorf("after Invalidate: %q after %d requests, want v3 after 3", v, srv.Requests())
	}
	// Every key of one JSON secret shares one cached read.
	js := srv.Put("pair", `{"a":"1","b":"2"}`)
	a, _ := Parse("a_secret", js+"#a")
	b, _ := Parse("b_secret", js+"#b")
	va, _ := r.Resolve(ctx, a)
	vb, _ := r.Resolve(ctx, b)
	if va != "1" || vb != "2" || srv.Requests() != 4 {
		t.Errorf("two keys of one secret: %q %q after %d requests, want 1 2 after 4", va, vb, srv.Requests())
	}
}

func TestURLQuery(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		plain       bool
		want        string // the reference's String(), "" for none
		given       bool
		problem     string // in the one problem reported, "" for none
	}{
		{name: "env reference", query: "token_env=HS_TOKEN", want: "token_env=HS_TOKEN", given: true},
		{name: "none", query: "other=1"},
		{name: "a secret in the URL", query: "token=pat-1", given: true, problem: "puts the credential itself in the URL"},
		{name: "two forms", query: "token_env=A&token_file=/f", given: true, problem: "token"},
		{name: "plain allowed", query: "client_id=3MVG9", plain: true, want: "client_id=3MVG9", given: true},
		{name: "plain and a reference", query: "client_id=3MVG9&client_id_env=CID", plain: true, given: true, problem: "not both"},
		{name: "plain empty", query: "client_id=", plain: true, given: true, problem: "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			var problems []string
			q := URLQuery{Values: v, Bad: func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }}
			name := "token"
			get := q.Ref
			if tc.plain {
				name, get = "client_id", q.RefOrPlain
			}
			r, ok := get(name)
			if got := map[bool]string{true: r.String()}[ok]; got != tc.want {
				t.Errorf("reference = %q (ok %v), want %q", got, ok, tc.want)
			}
			if got := q.Given(name); got != tc.given {
				t.Errorf("Given(%s) = %v, want %v", name, got, tc.given)
			}
			switch {
			case tc.problem == "" && len(problems) > 0:
				t.Errorf("problems = %q, want none", problems)
			case tc.problem != "" && (len(problems) != 1 || !strings.Contains(problems[0], tc.problem)):
				t.Errorf("problems = %q, want one with %q", problems, tc.problem)
			}
		})
	}
}
