package sellingapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	smithytime "github.com/aws/smithy-go/time"
)

// DefaultRegion is the region of the Partner Central Selling API: AWS serves it from us-east-1
// only, whatever region the partner's other resources (the ACE buckets) are in.
const DefaultRegion = "us-east-1"

// Defaults of the throttling retry (WithThrottleRetries).
const (
	DefaultThrottleMaxAttempts = 5
	DefaultThrottleBaseDelay   = time.Second
	DefaultThrottleMaxDelay    = 20 * time.Second
)

// maxResponseBytes bounds what a response body may hold (a page of 100 opportunity summaries
// is a few hundred KB).
const maxResponseBytes = 32 << 20

// Options configures a Client; set them through New's Option functions.
type Options struct {
	// Region the requests are signed for and, unless Endpoint is set, sent to.
	Region string
	// Endpoint overrides https://partnercentral-selling.<Region>.api.aws (a contract server).
	Endpoint string
	// Credentials signs the requests; New takes them from aws.Config.Credentials.
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests.
	HTTPClient aws.HTTPClient
	// Limiter, when set, makes every call (and every retry) wait for its quota.
	Limiter *Limiter
	// ThrottleMaxAttempts is how many times a call is sent in all while the service answers
	// ThrottlingException; 1 turns the retry off.
	ThrottleMaxAttempts int
	// ThrottleBaseDelay and ThrottleMaxDelay bound the backoff between those attempts.
	ThrottleBaseDelay, ThrottleMaxDelay time.Duration

	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
	jitter func() float64 // in [0, 1)
}

// Option configures a Client.
type Option func(*Options)

// WithEndpoint sends the requests to url (for example the contract server in devstack) instead
// of AWS's regional endpoint. The requests are still signed.
func WithEndpoint(url string) Option { return func(o *Options) { o.Endpoint = url } }

// WithRegion signs for (and, without WithEndpoint, sends to) region instead of DefaultRegion.
func WithRegion(region string) Option { return func(o *Options) { o.Region = region } }

// WithHTTPClient sends the requests with c instead of aws.Config's HTTP client (nil keeps it).
func WithHTTPClient(c *http.Client) Option {
	return func(o *Options) {
		if c != nil {
			o.HTTPClient = c
		}
	}
}

// WithLimiter makes the client wait for l's read or write quota before each request. Share one
// Limiter across every client of the same partner account.
func WithLimiter(l *Limiter) Option { return func(o *Options) { o.Limiter = l } }

// WithThrottleRetries sets how often a throttled call is sent in all (maxAttempts, 1 for no
// retry) and the backoff between attempts: exponential from baseDelay, capped at maxDelay, with
// jitter (each wait is between half and all of its step). Zero values keep the defaults.
func WithThrottleRetries(maxAttempts int, baseDelay, maxDelay time.Duration) Option {
	return func(o *Options) {
		if maxAttempts > 0 {
			o.ThrottleMaxAttempts = maxAttempts
		}
		if baseDelay > 0 {
			o.ThrottleBaseDelay = baseDelay
		}
		if maxDelay > 0 {
			o.ThrottleMaxDelay = maxDelay
		}
	}
}

// Client calls the Partner Central Selling API. It is safe for concurrent use. Its methods,
// one per operation, are in operations_gen.go.
type Client struct {
	options Options
	signer  *v4.Signer
}

// New returns a client signing with cfg.Credentials (for OppSync an aws.CredentialsCache over
// stscreds' AssumeRole provider for the partner's role) and sending with cfg.HTTPClient if set.
// cfg.Region is not used, since it names the region of the partner's other resources; the API
// is in DefaultRegion (WithRegion overrides).
func New(cfg aws.Config, opts ...Option) *Client {
	o := Options{
		Region:              DefaultRegion,
		Credentials:         cfg.Credentials,
		HTTPClient:          cfg.HTTPClient,
		ThrottleMaxAttempts: DefaultThrottleMaxAttempts,
		ThrottleBaseDelay:   DefaultThrottleBaseDelay,
		ThrottleMaxDelay:    DefaultThrottleMaxDelay,
		now:                 time.Now,
		sleep:               smithytime.SleepWithContext,
		jitter:              rand.Float64,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: time.Minute}
	}
	return &Client{options: o, signer: v4.NewSigner()}
}

// Options returns a copy of the client's options.
func (c *Client) Options() Options { return c.options }

func (c *Client) endpoint() string {
	if c.options.Endpoint != "" {
		return strings.TrimRight(c.options.Endpoint, "/") + "/"
	}
	return "https://" + SigningName + "." + c.options.Region + ".api.aws/"
}

// invoke sends one operation: awsJson1_0 is POST / with the operation in X-Amz-Target and the
// input as a JSON object. Errors never quote the request body (customer record text).
func (c *Client) invoke(ctx context.Context, op string, params, out any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("%s %s: encoding the request: %w", SigningName, op, err)
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	for attempt := 1; ; attempt++ {
		if c.options.Limiter != nil {
			if err := c.options.Limiter.Wait(ctx, op); err != nil {
				return err
			}
		}
		err := c.send(ctx, op, body, payloadHash, out)
		var throttled *ThrottlingException
		if err == nil || !errors.As(err, &throttled) {
			return err
		}
		if attempt >= c.options.ThrottleMaxAttempts {
			if attempt == 1 {
				return err
			}
			return fmt.Errorf("%w; gave up after %d attempts", err, attempt)
		}
		if serr := c.options.sleep(ctx, c.backoff(attempt)); serr != nil {
			return fmt.Errorf("%s %s: backing off after attempt %d: %w; last error: %w", SigningName, op, attempt, serr, err)
		}
	}
}

// backoff is the wait after the attempt-th throttled attempt: base*2^(attempt-1) capped at
// max, of which a random half or more.
func (c *Client) backoff(attempt int) time.Duration {
	step := c.options.ThrottleMaxDelay
	if shift := attempt - 1; shift < 30 {
		if d := c.options.ThrottleBaseDelay << shift; d > 0 && d < step {
			step = d
		}
	}
	return step/2 + time.Duration(c.options.jitter()*float64(step/2))
}

func (c *Client) send(ctx context.Context, op string, body []byte, payloadHash string, out any) error {
	if c.options.Credentials == nil {
		return fmt.Errorf("%s %s: no credentials: pass New an aws.Config whose Credentials is set "+
			"(aws.NewCredentialsCache over stscreds.NewAssumeRoleProvider for the partner's role)", SigningName, op)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: endpoint %q: %w", SigningName, op, c.options.Endpoint, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	creds, err := c.options.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: retrieving credentials: %w", SigningName, op, err)
	}
	if err := c.signer.SignHTTP(ctx, creds, req, payloadHash, SigningName, c.options.Region, c.options.now()); err != nil {
		return fmt.Errorf("%s %s: signing the request: %w", SigningName, op, err)
	}
	resp, err := c.options.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", SigningName, op, err)
	}
	defer func() { _ = resp.Body.Close() }()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("%s %s: reading the response (HTTP %d, request id %s): %w",
			SigningName, op, resp.StatusCode, resp.Header.Get("X-Amzn-RequestId"), err)
	}
	if len(respBody) > maxResponseBytes {
		return fmt.Errorf("%s %s: the response is larger than %d bytes (HTTP %d, request id %s)",
			SigningName, op, maxResponseBytes, resp.StatusCode, resp.Header.Get("X-Amzn-RequestId"))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(op, resp, respBody)
	}
	if len(bytes.TrimSpace(respBody)) == 0 {
		return nil
	}
	if err := json.Unmarshal(respBody, out); err != nil {
		return fmt.Errorf("%s %s: decoding the response (HTTP %d, request id %s): %w",
			SigningName, op, resp.StatusCode, resp.Header.Get("X-Amzn-RequestId"), err)
	}
	return nil
}
