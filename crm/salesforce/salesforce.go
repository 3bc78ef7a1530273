// Package salesforce is a crm.Store and crm.Inbound over the Salesforce REST API: ACE's
// opportunities and leads are upserted by an external-id field through sObject Collections
// (200 records a subrequest, sent in Composite calls), CRM changes are found with SOQL on
// SystemModstamp, and a per-customer mapping (crm/mapping) says which field is which.
// ACE's updates keep the sales team's edits that ACE has not accepted yet, and a change
// not sent yet stays a change (the sync-status field shows pending), as on crm/sqlite.
//
// Importing the package registers the "salesforce" scheme with crm.Open:
//
//	salesforce://login.salesforce.com?api=v61.0&client_id_env=SF_CLIENT_ID&user=integration@acme.com&key_file=/secrets/sf.key&mapping=/etc/oppsync/acme.yaml
//	salesforce://login.salesforce.com?client_id=3MVG9…&user=integration@acme.com&key_secret=arn:aws:secretsmanager:us-west-2:111122223333:secret:oppsync/crm/acme/salesforce-key-AbCdEf
//
// Credentials are referenced, never embedded (the URL goes into workflow history and
// logs), and resolved in the activity at first use and again when Salesforce refuses the
// session (see crm/secret). Each takes one of three forms: NAME_env=VAR (an environment
// variable), NAME_file=PATH (a file) or NAME_secret=ARN[%23KEY] (an AWS Secrets Manager
// secret, or one key of a JSON secret; production). The credentials: client_id, the
// connected app's consumer key (client_id= may give it directly: it is not a secret);
// key, the PEM RSA key whose certificate is on the connected app (JWT bearer flow, with
// user=); or refresh_token (refresh-token flow), with client_secret if the app requires
// the secret. Other parameters: instance= overrides the instance URL the
// token answer names; mapping= a mapping file (default: mapping.Default("salesforce"));
// rate= and burst= the client's request rate per second (default 10, burst 10);
// timeout= the per-request timeout (default 60s); insecure_http=1 talks plain HTTP to a
// loopback host (the contract server in tests only).
package salesforce

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/mapping"
	"github.com/oppsync/oppsync/crm/secret"
)

// Scheme is the crm.Open URL scheme of this connector.
const Scheme = "salesforce"

// DefaultAPIVersion is the REST API version used when the URL gives none.
const DefaultAPIVersion = "v61.0"

// BatchSize is the most records one sObject Collections request takes (Salesforce's limit).
const BatchSize = 200

// compositeMax is the most sObject Collections or query subrequests one Composite call
// may carry (Salesforce's limit; the whole Composite call counts as one API call).
const compositeMax = 5

func init() {
	crm.Register(Scheme, open)
	crm.RegisterCheck(Scheme, checkURL)
}

// Store is a Salesforce org seen through one customer's mapping.
type Store struct {
	c *client
	m *mapping.Mapping
}

var (
	_ crm.Store   = (*Store)(nil)
	_ crm.Inbound = (*Store)(nil)
)

// Mapping returns the mapping the store uses.
func (s *Store) Mapping() *mapping.Mapping { return s.m }

// Limits returns the org's API usage from the latest Sforce-Limit-Info header.
func (s *Store) Limits() Limits { return s.c.Limits() }

// Calls returns the number of HTTP calls made to Salesforce, token requests included.
func (s *Store) Calls() int64 { return s.c.Calls() }

var reAPIVersion = regexp.MustCompile(`^v\d+\.\d$`)

func open(_ context.Context, u *url.URL) (crm.Store, error) {
	return Open(u)
}

// checkURL is the crm.CheckFunc for the salesforce scheme: Open's checks of the URL and
// its credential references, without loading the mapping file, which lives where the
// worker runs. Open makes no call and resolves no credential.
func checkURL(u *url.URL) error {
	c := *u
	q := c.Query()
	q.Del("mapping")
	c.RawQuery = q.Encode()
	_, err := Open(&c)
	return err
}

// credentialNames are the credentials a salesforce:// URL references, each by NAME_env,
// NAME_file or NAME_secret (crm/secret); client_id may also be given directly.
var credentialNames = []string{"client_id", "client_secret", "key", "refresh_token"}

// Open opens a store from a salesforce:// URL (see the package comment). It validates the
// URL, the credential references and the mapping, but resolves no credential and makes no
// call: the first call (Ping, at enrolment) does.
func Open(u *url.URL) (*Store, error) {
	q := u.Query()
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	known := map[string]bool{"api": true, "client_id": true, "user": true, "instance": true, "mapping": true,
		"rate": true, "burst": true, "timeout": true, "insecure_http": true, "aud": true}
	for _, name := range credentialNames {
		for _, p := range secret.Params(name) {
			known[p] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(q)) { // sorted: the workflow runs this check (crm.CheckURL)
		// A credential given by value (key=…, refresh_token=…) is refused by secret.FromQuery below.
		if !known[k] && !slices.Contains(credentialNames, k) {
			bad("unknown parameter %q", k)
		}
	}
	if u.Host == "" {
		bad("no host: want e.g. salesforce://login.salesforce.com (test.salesforce.com for a sandbox, or the org's My Domain)")
	}
	if u.User != nil {
		bad("credentials in the URL: reference them with client_id_env, key_file or refresh_token_file (or _env, _file, _secret forms) instead")
	}
	if u.Fragment != "" {
		bad("the URL has a #fragment: write the JSON key of a Secrets Manager reference as %%23KEY (NAME_secret=ARN%%23KEY)")
	}
	scheme := "https"
	if q.Get("insecure_http") == "1" || q.Get("insecure_http") == "true" {
		host := u.Hostname()
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			bad("insecure_http is only allowed for a loopback host (the contract server), not %q", host)
		}
		scheme = "http"
	}
	login := scheme + "://" + u.Host
	api := q.Get("api")
	if api == "" {
		api = DefaultAPIVersion
	}
	if !reAPIVersion.MatchString(api) {
		bad("api=%q: want a REST API version like %s", api, DefaultAPIVersion)
	}
	cr := credentials{loginURL: login, audience: login, user: q.Get("user")}
	if a := q.Get("aud"); a != "" {
		cr.audience = a
	}
	creds := secret.URLQuery{Values: q, Bad: bad}
	given := creds.Given
	cr.clientID, _ = creds.RefOrPlain("client_id")
	cr.key, _ = creds.Ref("key")
	cr.refreshToken, _ = creds.Ref("refresh_token")
	cr.clientSecret, _ = creds.Ref("client_secret")
	if !given("client_id") {
		bad("no client id: give client_id_env=<environment variable holding the connected app's consumer key> (or client_id=, client_id_file=, client_id_secret=)")
	}
	switch {
	case given("key") && given("refresh_token"):
		bad("give key (JWT bearer flow) or refresh_token (refresh-token flow), not both")
	case given("key"):
		if cr.user == "" {
			bad("%s needs user=<the integration user's username> (the JWT subject)", cr.key.Param())
		}
	case given("refresh_token"):
	default:
		bad("no credentials: give key_file=<PEM key> (or key_env, key_secret) and user= (JWT bearer flow) or refresh_token_file=<file> (or refresh_token_env, refresh_token_secret)")
	}
	instance := strings.TrimSuffix(q.Get("instance"), "/")
	if instance != "" {
		iu, err := url.Parse(instance)
		if err != nil || iu.Host == "" || (iu.Scheme != "https" && !(scheme == "http" && iu.Scheme == "http")) {
			bad("instance=%q: want https://<my-domain>.my.salesforce.com", instance)
		}
	}
	rps, burst, timeout := 10.0, 10, 60*time.Second
	if v := q.Get("rate"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			bad("rate=%q: want requests per second > 0", v)
		}
		rps = f
	}
	if v := q.Get("burst"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad("burst=%q: want a whole number ≥ 1", v)
		}
		burst = n
	}
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad("timeout=%q: want a duration like 60s", v)
		}
		timeout = d
	}
	m := mapping.Default("salesforce")
	if p := q.Get("mapping"); p != "" {
		var err error
		if m, err = mapping.Load(p); err != nil {
			bad("mapping: %v", err)
		}
	}
	if m != nil {
		if err := m.Validate(); err != nil {
			bad("mapping: %v", err)
		}
	}
	if len(problems) > 0 {
		return nil, configErrorf("Salesforce CRM URL: %s", strings.Join(problems, "; "))
	}
	return newStore(m, &client{
		http:     &http.Client{Timeout: timeout},
		creds:    cr,
		instance: instance,
		api:      api,
		limiter:  rate.NewLimiter(rate.Limit(rps), burst),
		retries:  2,
		maxWait:  10 * time.Second,
		sleep:    sleepCtx,
		now:      time.Now,
	}), nil
}

func newStore(m *mapping.Mapping, c *client) *Store { return &Store{c: c, m: m} }

// Ping authenticates and reads one record of each mapped object, so a missing object, a
// missing permission or a bad credential shows at enrolment.
func (s *Store) Ping(ctx context.Context) error {
	for _, o := range []ace.Object{ace.ObjectOpportunity, ace.ObjectLead} {
		om := s.m.Objects[o]
		if om == nil {
			continue
		}
		soql := "SELECT " + strings.Join(om.ReadFields(), ", ") + " FROM " + om.CRMObject + " LIMIT 1"
		if _, err := s.query(ctx, "ping "+om.CRMObject, soql, nil); err != nil {
			return err
		}
	}
	return nil
}

// Close releases nothing: the store holds only an HTTP client.
func (s *Store) Close() error {
	s.c.http.CloseIdleConnections()
	return nil
}

// dataPath is the versioned REST path of a resource, e.g. dataPath("query").
func (s *Store) dataPath(resource string) string {
	return "/services/data/" + s.c.api + "/" + resource
}

// queryResult is a SOQL answer page.
type queryResult struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

// query runs a SOQL query and follows nextRecordsUrl. each, if non-nil, sees every page
// and may stop early by returning false; without it the records are collected.
func (s *Store) query(ctx context.Context, op, soql string, each func([]map[string]any) bool) ([]map[string]any, error) {
	var all []map[string]any
	p := s.dataPath("query") + "?q=" + url.QueryEscape(soql)
	for p != "" {
		var page queryResult
		if err := s.c.do(ctx, op, http.MethodGet, p, nil, &page); err != nil {
			return nil, err
		}
		if page.Records == nil && page.TotalSize > 0 {
			return nil, malformed(op, nil, fmt.Errorf("totalSize %d without records", page.TotalSize))
		}
		if each != nil {
			if !each(page.Records) {
				return nil, nil
			}
		} else {
			all = append(all, page.Records...)
		}
		p = ""
		if !page.Done {
			if page.NextRecordsURL == "" {
				return nil, malformed(op, nil, fmt.Errorf("done is false but there is no nextRecordsUrl"))
			}
			p = page.NextRecordsURL
		}
	}
	return all, nil
}

// soqlString quotes s as a SOQL string literal.
func soqlString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return "'" + r.Replace(s) + "'"
}

// soqlTime is a SOQL datetime literal (UTC, whole seconds).
func soqlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// isRecordID reports whether s looks like a Salesforce record id (15 or 18 alphanumerics):
// anything else in an Id IN (…) filter fails the whole query.
func isRecordID(s string) bool {
	if len(s) != 15 && len(s) != 18 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
