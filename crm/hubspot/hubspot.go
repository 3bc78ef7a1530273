// Package hubspot is OppSync's HubSpot connector: a crm.Store and crm.Inbound over the
// HubSpot CRM v3 API. ACE opportunities become deals and ACE leads contacts (or HubSpot's
// leads object), translated by the customer's field mapping (crm/mapping; the shipped
// default is mapping.Default("hubspot")).
//
// Importing the package registers the "hubspot" scheme with crm.Open:
//
//	hubspot://api.hubapi.com?token_env=HUBSPOT_TOKEN&mapping=/etc/oppsync/acme.yaml&leads=contacts
//
// Credentials are referenced, never written into the URL (URLs go into workflow history
// and logs), and resolved in the activity at first use and again after a 401 (see
// crm/secret). Each credential takes one of three forms: NAME_env=VAR (an environment
// variable), NAME_file=PATH (a file) or NAME_secret=ARN[%23KEY] (an AWS Secrets Manager
// secret, or one key of a JSON secret; production). A private-app token is token_env,
// token_file or token_secret; OAuth is client_id (given directly, as it is not secret, or
// as client_id_env/_file/_secret), client_secret_env/_file/_secret and
// refresh_token_env/_file/_secret, e.g.
//
//	hubspot://api.hubapi.com?client_id=ID&client_secret_secret=arn:aws:secretsmanager:us-west-2:111122223333:secret:oppsync/crm/acme/hubspot-AbCdEf%23client_secret&refresh_token_secret=arn:aws:secretsmanager:us-west-2:111122223333:secret:oppsync/crm/acme/hubspot-AbCdEf%23refresh_token
//
// The other parameters:
//
//	mapping=PATH        the customer's mapping (YAML/JSON); default: mapping.Default("hubspot")
//	leads=contacts|leads  the HubSpot object for ACE leads (overrides the mapping's)
//	rate_limit=100      requests per rate_interval (HubSpot private apps: 100 per 10 s)
//	rate_interval=10s
//	max_retries=4       retries of one call after a 429, a 5xx or a network error
//	timeout=30s         per HTTP request
//	search_lag=30s      changes younger than this are left for the next poll (HubSpot's
//	                    search index trails writes by a few seconds)
//	share_property=ace_share_with_aws  the checkbox that sends a record created in
//	                    HubSpot to ACE; records with an ACE id are always synced
//	insecure_http=1     plain HTTP, allowed only to a loopback host (the contract server)
//
// # Guarantees
//
// Upsert is idempotent: records are written with batch/upsert keyed by the mapping's
// unique ACE-id property (100 per call). Before writing, one batch/read per 100 records
// fetches what HubSpot holds: a record whose ACE lastModifiedDate is older than the stored
// one is Stale and not written; one identical to the stored raw record is Unchanged and not
// written. So the same file twice, or a retry after a crash anywhere in a call, leaves the
// same state. Fields the sales team edited that ACE has not confirmed yet (they differ from
// ACE's last version stored in the raw property) are left as they are, like crm/sqlite.
//
// # OppSync's own writes are not changes
//
// HubSpot stamps hs_lastmodifieddate on every write, OppSync's included, and a private app
// has no user id to tell its writes apart. Change detection is therefore by content: a
// record found by the search is a change only if its mapped inbound fields differ both from
// ACE's last version (the raw property, i.e. what OppSync wrote) and from the version whose
// outcome OppSync last recorded (the ace_sync_handled property: "<watermark>:<hash>").
// OppSync's upserts and status writes change neither, so they never echo back to ACE; a
// sales-team edit does, exactly once per distinct content.
package hubspot

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/mapping"
	"github.com/oppsync/oppsync/crm/secret"
)

// Scheme is the crm.Open URL scheme of this connector.
const Scheme = "hubspot"

// DefaultHost is HubSpot's API host.
const DefaultHost = "api.hubapi.com"

// BatchSize is HubSpot's limit of inputs per batch call.
const BatchSize = 100

// SearchPageSize is HubSpot's largest search page.
const SearchPageSize = 200

// searchCap is how many results HubSpot pages through for one search query (after+limit
// past it is an error); Changes and List start a new query before reaching it.
var searchCap = 10000

// Properties OppSync needs beyond the mapping's (crm/mapping has no setting for them).
const (
	// DefaultHandledProperty holds "<watermark>:<hash>" of the CRM version whose outcome
	// OppSync last recorded; single-line text.
	DefaultHandledProperty = "ace_sync_handled"
	// DefaultShareProperty is the checkbox the sales team ticks to send a record created in
	// HubSpot to ACE.
	DefaultShareProperty = "ace_share_with_aws"
)

func init() {
	crm.Register(Scheme, openURL)
	crm.RegisterCheck(Scheme, checkURL)
}

// Config is everything a Store needs; Open fills it from a URL.
type Config struct {
	// BaseURL is the API's origin, e.g. https://api.hubapi.com.
	BaseURL string
	// Token references a private-app token; exactly one of Token and OAuth is set.
	Token *secret.Ref
	OAuth *OAuthRef
	// Mapping is the customer's field mapping; it must pass Validate.
	Mapping *mapping.Mapping
	// LeadsObject overrides the mapping's HubSpot object for leads ("contacts" or "leads").
	LeadsObject string
	// RateLimit requests per RateInterval; 0 turns the limiter off.
	RateLimit    int
	RateInterval time.Duration
	MaxRetries   int
	Timeout      time.Duration
	SearchLag    time.Duration
	// HandledProperty and ShareProperty: see DefaultHandledProperty, DefaultShareProperty.
	HandledProperty string
	ShareProperty   string
	// HTTPClient, if set, is used instead of one built from Timeout (tests).
	HTTPClient *http.Client
}

// OAuthRef references the OAuth client and refresh token. ClientID may be a
// secret.Plain reference: a client id is not secret.
type OAuthRef struct {
	ClientID, ClientSecret, RefreshToken secret.Ref
}

// objectConf is how one ACE object is stored in HubSpot.
type objectConf struct {
	object  ace.Object
	om      *mapping.ObjectMapping
	hsType  string   // HubSpot object type in paths: "deals", "contacts", "leads"
	inbound []string // mapped CRM properties that go to ACE (direction both or inbound)
	read    []string // every property a read asks for
}

// Store is the HubSpot CRM of one customer. It implements crm.Store and crm.Inbound and is
// safe for concurrent use.
type Store struct {
	cfg     Config
	c       *client
	oauth   *oauthToken
	mapping *mapping.Mapping
	objects map[ace.Object]*objectConf
	now     func() time.Time

	// upsertMu serialises Upserts of one object within this Store, so two files carrying
	// the same record cannot both pass the staleness check and land out of order.
	upsertMu map[ace.Object]*sync.Mutex

	scanMu sync.Mutex
	// scanned remembers, per object, a watermark range Changes found to hold only
	// OppSync's own writes, so the next poll does not page through them again.
	scanned map[ace.Object]scanMark
}

type scanMark struct{ from, to crm.Watermark }

var (
	_ crm.Store   = (*Store)(nil)
	_ crm.Inbound = (*Store)(nil)
)

// New returns a Store for cfg. It makes no call to HubSpot; Ping does.
func New(cfg Config) (*Store, error) {
	if cfg.Mapping == nil {
		cfg.Mapping = mapping.Default("hubspot")
	}
	if err := cfg.Mapping.Validate(); err != nil {
		return nil, configErrorf("HubSpot mapping: %v", err)
	}
	if (cfg.Token == nil) == (cfg.OAuth == nil) {
		return nil, configErrorf("HubSpot credentials: give a private-app token (token_env, token_file or token_secret) or OAuth (client_id, client_secret_env/_file/_secret, refresh_token_env/_file/_secret), not both")
	}
	if (cfg.Token != nil && cfg.Token.IsZero()) ||
		(cfg.OAuth != nil && (cfg.OAuth.ClientID.IsZero() || cfg.OAuth.ClientSecret.IsZero() || cfg.OAuth.RefreshToken.IsZero())) {
		return nil, configErrorf("HubSpot credentials: a credential reference is empty")
	}
	if cfg.RateInterval <= 0 {
		cfg.RateInterval = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.HandledProperty == "" {
		cfg.HandledProperty = DefaultHandledProperty
	}
	if cfg.ShareProperty == "" {
		cfg.ShareProperty = DefaultShareProperty
	}
	httpc := cfg.HTTPClient
	if httpc == nil {
		httpc = &http.Client{Timeout: cfg.Timeout}
	}
	s := &Store{
		cfg:      cfg,
		mapping:  cfg.Mapping,
		objects:  map[ace.Object]*objectConf{},
		now:      time.Now,
		upsertMu: map[ace.Object]*sync.Mutex{},
		scanned:  map[ace.Object]scanMark{},
	}
	lim := newLimiter(cfg.RateLimit, cfg.RateInterval)
	var ts tokenSource
	if cfg.Token != nil {
		ts = &staticToken{ref: *cfg.Token}
	} else {
		o := cfg.OAuth
		s.oauth = &oauthToken{
			tokenURL:     strings.TrimRight(cfg.BaseURL, "/") + "/oauth/v1/token",
			httpc:        httpc,
			lim:          lim,
			clientID:     o.ClientID,
			clientSecret: o.ClientSecret,
			refresh:      o.RefreshToken,
			now:          time.Now,
		}
		ts = s.oauth
	}
	s.c = &client{
		base:       strings.TrimRight(cfg.BaseURL, "/"),
		httpc:      httpc,
		tokens:     ts,
		lim:        lim,
		maxRetries: cfg.MaxRetries,
		sleep:      sleepCtx,
	}
	for obj, om := range cfg.Mapping.Objects {
		oc := &objectConf{object: obj, om: om, hsType: om.CRMObject}
		if obj == ace.ObjectLead && cfg.LeadsObject != "" {
			oc.hsType = cfg.LeadsObject
		}
		for _, f := range om.Fields {
			if f.Direction != mapping.Outbound && !slices.Contains(oc.inbound, f.CRM) {
				oc.inbound = append(oc.inbound, f.CRM)
			}
		}
		oc.read = append(om.ReadFields(), cfg.HandledProperty, cfg.ShareProperty)
		if om.LastModified == "" {
			return nil, configErrorf("HubSpot mapping: objects.%s.lastModified is empty; use hs_lastmodifieddate (deals) or lastmodifieddate (contacts)", obj)
		}
		s.objects[obj] = oc
		s.upsertMu[obj] = &sync.Mutex{}
	}
	return s, nil
}

// openURL is the crm.OpenFunc for the hubspot scheme; see the package comment.
func openURL(_ context.Context, u *url.URL) (crm.Store, error) {
	cfg, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}

// checkURL is the crm.CheckFunc for the hubspot scheme: ParseURL's checks except loading
// the mapping file, which lives where the worker runs.
func checkURL(u *url.URL) error {
	c := *u
	q := c.Query()
	q.Del("mapping")
	c.RawQuery = q.Encode()
	_, err := ParseURL(&c)
	return err
}

// credentialNames are the credentials a hubspot:// URL references, each by NAME_env,
// NAME_file or NAME_secret (crm/secret); client_id may also be given directly.
var credentialNames = []string{"token", "client_id", "client_secret", "refresh_token"}

// urlParams are the query parameters ParseURL knows; anything else is a typo.
var urlParams = func() []string {
	p := []string{"client_id"}
	for _, name := range credentialNames {
		p = append(p, secret.Params(name)...)
	}
	return append(p, "mapping", "leads", "rate_limit", "rate_interval",
		"max_retries", "timeout", "search_lag", "share_property", "handled_property", "insecure_http")
}()

// ParseURL reads a hubspot:// URL into a Config (see the package comment for the form).
// Every problem is reported at once. It resolves no credential: the activity does, at
// first use.
func ParseURL(u *url.URL) (Config, error) {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	cfg := Config{RateLimit: 100, RateInterval: 10 * time.Second, MaxRetries: 4, Timeout: 30 * time.Second, SearchLag: 30 * time.Second}

	if u.User != nil {
		bad("credentials in the URL are not accepted: reference them with token_env, token_file or token_secret")
	}
	if u.Fragment != "" {
		bad("the URL has a #fragment: write the JSON key of a Secrets Manager reference as %%23KEY (NAME_secret=ARN%%23KEY)")
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		bad("a path is not expected (want hubspot://api.hubapi.com?token_env=NAME…)")
	}
	q := u.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) { // sorted: the workflow runs this check (crm.CheckURL)
		// A credential given by value (token=…) is refused by secret.FromQuery below.
		if !slices.Contains(urlParams, k) && !slices.Contains(credentialNames, k) {
			bad("unknown parameter %q (known: %s)", k, strings.Join(urlParams, ", "))
		}
	}
	host := u.Host
	if host == "" {
		host = DefaultHost
	}
	scheme := "https"
	if on, _ := strconv.ParseBool(q.Get("insecure_http")); on {
		h := u.Hostname()
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			bad("insecure_http is allowed only to a loopback host (the contract server), not %q", h)
		}
		scheme = "http"
	}
	cfg.BaseURL = scheme + "://" + host

	creds := secret.URLQuery{Values: q, Bad: bad}
	given := creds.Given
	tok, hasTok := creds.Ref("token")
	cid, hasCID := creds.RefOrPlain("client_id")
	sec, hasSec := creds.Ref("client_secret")
	rt, hasRT := creds.Ref("refresh_token")
	oauth := given("client_id") || given("client_secret") || given("refresh_token")
	switch {
	case given("token") && oauth:
		bad("give a private-app token (token_env, token_file or token_secret) or OAuth (client_id…), not both")
	case hasTok:
		cfg.Token = &tok
	case oauth:
		if !given("client_id") {
			bad("OAuth needs client_id (or client_id_env, client_id_file, client_id_secret)")
		}
		if !given("client_secret") {
			bad("OAuth needs the client secret: client_secret_env, client_secret_file or client_secret_secret")
		}
		if !given("refresh_token") {
			bad("OAuth needs the refresh token: refresh_token_env, refresh_token_file or refresh_token_secret")
		}
		if hasCID && hasSec && hasRT {
			cfg.OAuth = &OAuthRef{ClientID: cid, ClientSecret: sec, RefreshToken: rt}
		}
	case !given("token"):
		bad("no credentials: add token_env=NAME (a private-app token in that environment variable), token_file=PATH, token_secret=ARN, or OAuth parameters")
	}

	if p := q.Get("mapping"); p != "" {
		m, err := mapping.Load(p)
		if err != nil {
			bad("%v", err)
		} else if err := m.Validate(); err != nil {
			bad("mapping %s: %v", p, err)
		} else {
			cfg.Mapping = m
		}
	}
	switch l := q.Get("leads"); l {
	case "", "contacts", "leads":
		cfg.LeadsObject = l
	default:
		bad("leads=%q: want contacts or leads", l)
	}
	intParam := func(name string, dst *int, minimum int) {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < minimum {
				bad("%s=%q: want a whole number ≥ %d", name, v, minimum)
				return
			}
			*dst = n
		}
	}
	durParam := func(name string, dst *time.Duration) {
		if v := q.Get(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				bad("%s=%q: want a duration such as 10s", name, v)
				return
			}
			*dst = d
		}
	}
	intParam("rate_limit", &cfg.RateLimit, 0)
	intParam("max_retries", &cfg.MaxRetries, 0)
	durParam("rate_interval", &cfg.RateInterval)
	durParam("timeout", &cfg.Timeout)
	durParam("search_lag", &cfg.SearchLag)
	cfg.ShareProperty = q.Get("share_property")
	cfg.HandledProperty = q.Get("handled_property")

	if len(problems) > 0 {
		return cfg, configErrorf("HubSpot URL: %s", strings.Join(problems, "; "))
	}
	return cfg, nil
}

// Ping checks that HubSpot answers and the credentials may read deals (or the first
// mapped object): one list call of one record.
func (s *Store) Ping(ctx context.Context) error {
	for _, obj := range []ace.Object{ace.ObjectOpportunity, ace.ObjectLead} {
		oc := s.objects[obj]
		if oc == nil {
			continue
		}
		_, err := s.c.do(ctx, "ping (list "+oc.hsType+")", http.MethodGet, "/crm/v3/objects/"+oc.hsType+"?limit=1", nil, nil)
		return err
	}
	return configErrorf("HubSpot mapping maps no object")
}

// Close releases idle connections.
func (s *Store) Close() error {
	s.c.httpc.CloseIdleConnections()
	return nil
}

// Calls returns how many HTTP requests the Store has sent to HubSpot, token refreshes
// included: the benchmark's API-call count.
func (s *Store) Calls() int64 {
	n := s.c.calls.Load()
	if s.oauth != nil {
		n += int64(s.oauth.calls())
	}
	return n
}

func (s *Store) object(obj ace.Object) (*objectConf, error) {
	oc := s.objects[obj]
	if oc == nil {
		if !obj.Valid() {
			return nil, fmt.Errorf("HubSpot: unknown ACE object %q", obj)
		}
		return nil, configErrorf("HubSpot mapping does not map ACE %ss; add objects.%s to the mapping", obj, obj)
	}
	return oc, nil
}
