package codec_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/oppsync/oppsync/codec"
)

// pii is a record as ACE sends it (AWS's sample opportunity): what must never reach
// Temporal in clear.
type pii struct {
	CustomerEmail       string `json:"customerEmail"`
	CustomerCompanyName string `json:"customerCompanyName"`
	CustomerPhone       string `json:"customerPhone"`
	AWSSalesRepEmail    string `json:"aWSSalesRepEmail"`
	CustomerFirstName   string `json:"customerFirstName"`
}

var sample = pii{"test@test.com", "Test LLC", "1234567890", "awsrep@amazon.com", "FirstName"}

var piiStrings = []string{"test@test.com", "Test LLC", "1234567890", "awsrep@amazon.com", "FirstName"}

func newCodec(t *testing.T, k codec.KMS, opts ...func(*codec.Options)) *codec.Codec {
	t.Helper()
	o := codec.Options{KMS: k, KeyID: testKeyAlias}
	for _, f := range opts {
		f(&o)
	}
	c, err := codec.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func plainPayloads(t *testing.T, values ...any) []*commonpb.Payload {
	t.Helper()
	ps, err := converter.GetDefaultDataConverter().ToPayloads(values...)
	if err != nil {
		t.Fatal(err)
	}
	return ps.Payloads
}

func encode(t *testing.T, c *codec.Codec, ps []*commonpb.Payload) []*commonpb.Payload {
	t.Helper()
	enc, err := c.Encode(ps)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func decode(t *testing.T, c *codec.Codec, ps []*commonpb.Payload) []*commonpb.Payload {
	t.Helper()
	dec, err := c.Decode(ps)
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

func wantEqual(t *testing.T, got, want []*commonpb.Payload) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d payloads, want %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("payload %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestRoundTrip(t *testing.T) {
	c := newCodec(t, testKMS(t))
	plain := plainPayloads(t, sample, "a string", 42, nil, []byte{0, 1, 2})
	enc := encode(t, c, plain)
	for i, p := range enc {
		if got := string(p.Metadata[codec.MetadataEncoding]); got != codec.EncodingEncrypted {
			t.Errorf("payload %d encoding = %q, want %q", i, got, codec.EncodingEncrypted)
		}
		if len(p.Metadata[codec.MetadataWrappedKey]) == 0 || len(p.Metadata[codec.MetadataKMSKey]) == 0 {
			t.Errorf("payload %d lacks the wrapped data key or KMS key: %v", i, p.Metadata)
		}
	}
	wantEqual(t, decode(t, c, enc), plain)

	// Through the data converter, as worker and client use it.
	dc := codec.NewDataConverter(c)
	p, err := dc.ToPayload(sample)
	if err != nil {
		t.Fatal(err)
	}
	var back pii
	if err := dc.FromPayload(p, &back); err != nil {
		t.Fatal(err)
	}
	if back != sample {
		t.Fatalf("round trip through the data converter = %+v, want %+v", back, sample)
	}
}

func TestCiphertextHoldsNoPlaintext(t *testing.T) {
	c := newCodec(t, testKMS(t))
	enc := encode(t, c, plainPayloads(t, sample, sample)) // the same value twice
	if bytes.Equal(enc[0].Data, enc[1].Data) {
		t.Error("the same value encrypted twice gives the same ciphertext (nonce reuse?)")
	}
	for _, p := range enc {
		// The metadata holds the KMS key's ARN in clear, and the local account id
		// 123456789012 contains the sample's phone number: check the data, and the payload
		// as Temporal's history JSON shows it (metadata base64-encoded).
		js, err := protojson.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range append(piiStrings, "json/plain", "customerEmail") {
			if bytes.Contains(p.Data, []byte(s)) || bytes.Contains(js, []byte(s)) {
				t.Errorf("encrypted payload contains %q", s)
			}
		}
	}
}

func TestRotation(t *testing.T) {
	k := testKMS(t)
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c := newCodec(t, k, func(o *codec.Options) {
		o.RotateAfter = 24 * time.Hour
		o.RotateAfterPayloads = 3
		o.Now = clock
	})
	keyOf := func(p *commonpb.Payload) string { return string(p.Metadata[codec.MetadataDataKeyID]) }

	first := encode(t, c, plainPayloads(t, "a", "b"))
	if keyOf(first[0]) != keyOf(first[1]) {
		t.Fatal("two payloads within the rotation period use different data keys")
	}
	advance(25 * time.Hour)
	second := encode(t, c, plainPayloads(t, "c"))
	if keyOf(second[0]) == keyOf(first[0]) || bytes.Equal(second[0].Metadata[codec.MetadataWrappedKey], first[0].Metadata[codec.MetadataWrappedKey]) {
		t.Fatal("after RotateAfter, new payloads still use the old data key")
	}
	// Count-based: the fourth payload under one key gets a new key.
	third := encode(t, c, plainPayloads(t, "d", "e", "f"))
	if keyOf(third[0]) != keyOf(second[0]) || keyOf(third[1]) != keyOf(second[0]) || keyOf(third[2]) == keyOf(second[0]) {
		t.Fatalf("RotateAfterPayloads=3: keys %s %s %s after %s", keyOf(third[0]), keyOf(third[1]), keyOf(third[2]), keyOf(second[0]))
	}
	// Explicit rotation.
	before := c.CurrentDataKeyID()
	if err := c.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	fourth := encode(t, c, plainPayloads(t, "g"))
	if keyOf(fourth[0]) == before {
		t.Fatal("Rotate did not change the data key")
	}
	if n := k.generate.Load(); n != 4 {
		t.Errorf("GenerateDataKey called %d times, want 4 (one per data key)", n)
	}
	// Every earlier payload still decodes, in this process and in a fresh one.
	all := append(append(append(first, second...), third...), fourth...)
	want := plainPayloads(t, "a", "b", "c", "d", "e", "f", "g")
	wantEqual(t, decode(t, c, all), want)
	wantEqual(t, decode(t, newCodec(t, k), all), want)
}

func TestAnotherInstanceDecodesThroughKMS(t *testing.T) {
	k := testKMS(t)
	writer := newCodec(t, k)
	plain := plainPayloads(t, sample, "x", "y")
	enc := encode(t, writer, plain)

	rk := testKMS(t)
	fresh := newCodec(t, rk)
	// Many goroutines decode at once: the one unknown data key is unwrapped once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			dec, err := fresh.Decode(enc)
			if err == nil {
				for i := range plain {
					if !proto.Equal(dec[i], plain[i]) {
						err = errors.New("decoded payload differs")
					}
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := rk.decrypt.Load(); n != 1 {
		t.Errorf("fresh codec called KMS Decrypt %d times for 3 payloads under one data key, want 1 (then cached)", n)
	}
	if n := rk.generate.Load(); n != 0 {
		t.Errorf("a decode-only codec called GenerateDataKey %d times, want 0", n)
	}
	decode(t, fresh, enc)
	if n := rk.decrypt.Load(); n != 1 {
		t.Errorf("second decode called KMS Decrypt again (%d calls)", n)
	}
}

func TestTamperedPayloadsFail(t *testing.T) {
	k := testKMS(t)
	c := newCodec(t, k)
	enc := encode(t, c, plainPayloads(t, sample))
	if err := c.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := encode(t, c, plainPayloads(t, sample))[0]

	tamper := map[string]func(p *commonpb.Payload){
		"flipped ciphertext bit": func(p *commonpb.Payload) { p.Data[len(p.Data)/2] ^= 1 },
		"flipped tag bit":        func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 0x80 },
		"truncated":              func(p *commonpb.Payload) { p.Data = p.Data[:10] },
		"another data key": func(p *commonpb.Payload) {
			p.Metadata[codec.MetadataWrappedKey] = other.Metadata[codec.MetadataWrappedKey]
			p.Metadata[codec.MetadataDataKeyID] = other.Metadata[codec.MetadataDataKeyID]
		},
		"data key id changed": func(p *commonpb.Payload) {
			p.Metadata[codec.MetadataDataKeyID] = []byte("0123456789abcdef0123456789abcdef")
		},
		"wrapped key damaged": func(p *commonpb.Payload) {
			w := bytes.Clone(p.Metadata[codec.MetadataWrappedKey])
			w[len(w)-1] ^= 1
			p.Metadata[codec.MetadataWrappedKey] = w
		},
		"unknown cipher": func(p *commonpb.Payload) { p.Metadata[codec.MetadataCipher] = []byte("ROT13") },
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			p := proto.Clone(enc[0]).(*commonpb.Payload)
			f(p)
			for _, reader := range []*codec.Codec{c, newCodec(t, k)} { // cached key, and KMS
				if _, err := reader.Decode([]*commonpb.Payload{p}); err == nil {
					t.Fatal("tampered payload decoded without error")
				}
			}
		})
	}
	// A data key wrapped for another purpose (no encryption context) is refused by KMS.
	t.Run("foreign wrapped key", func(t *testing.T) {
		out, err := k.GenerateDataKey(context.Background(), &kms.GenerateDataKeyInput{
			KeyId: aws.String(testKeyAlias), KeySpec: types.DataKeySpecAes256})
		if err != nil {
			t.Fatal(err)
		}
		p := proto.Clone(enc[0]).(*commonpb.Payload)
		p.Metadata[codec.MetadataWrappedKey] = out.CiphertextBlob
		p.Metadata[codec.MetadataDataKeyID] = []byte(codec.DataKeyIDForTest(out.CiphertextBlob))
		if _, err := newCodec(t, k).Decode([]*commonpb.Payload{p}); err == nil || !strings.Contains(err.Error(), "KMS Decrypt") {
			t.Fatalf("payload with a data key wrapped without our encryption context: err = %v, want a KMS Decrypt error", err)
		}
	})
}

func TestUnencryptedPayloadsPassThrough(t *testing.T) {
	k := testKMS(t)
	c := newCodec(t, k)
	plain := plainPayloads(t, sample, "older history", nil)
	mixed := append(plainPayloads(t, "before"), encode(t, c, plainPayloads(t, "after"))...)
	wantEqual(t, decode(t, c, plain), plain)
	wantEqual(t, decode(t, c, mixed), plainPayloads(t, "before", "after"))
	if n := k.decrypt.Load(); n != 0 {
		t.Errorf("decoding called KMS Decrypt %d times; the encoder's key should be cached", n)
	}
}

func TestFailureConverterEncryptsMessagesAndStacks(t *testing.T) {
	c := newCodec(t, testKMS(t))
	dc := codec.NewDataConverter(c)
	fc := codec.NewFailureConverter(dc)
	cause := temporal.NewNonRetryableApplicationError("file opportunity-outbound/x.json: record of Test LLC (test@test.com) has no id", "BadFile", nil, sample)
	f := fc.ErrorToFailure(cause)
	js, err := protojson.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(piiStrings, "opportunity-outbound") {
		if bytes.Contains(js, []byte(s)) {
			t.Errorf("failure sent to Temporal contains %q in clear: %s", s, js)
		}
	}
	back := fc.FailureToError(f)
	var appErr *temporal.ApplicationError
	if !errors.As(back, &appErr) || !strings.Contains(appErr.Error(), "Test LLC") || appErr.Type() != "BadFile" {
		t.Fatalf("failure round trip = %v, want the BadFile error with its message", back)
	}
	var details pii
	if err := appErr.Details(&details); err != nil || details != sample {
		t.Fatalf("failure details = %+v, %v", details, err)
	}
}

func TestNewFromEnv(t *testing.T) {
	testKMS(t)
	t.Setenv("AWS_ENDPOINT_URL_KMS", localKMS.endpoint)
	t.Setenv("AWS_REGION", "us-west-2")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-checked")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	t.Setenv(codec.EnvEncryption, "")
	t.Setenv(codec.EnvKMSKey, "")
	if c, err := codec.NewFromEnv(context.Background()); err == nil || c != nil || !strings.Contains(err.Error(), codec.EnvKMSKey) {
		t.Fatalf("without a key: %v, %v; want an error naming %s", c, err, codec.EnvKMSKey)
	}
	t.Setenv(codec.EnvEncryption, "off")
	if c, err := codec.NewFromEnv(context.Background()); err != nil || c != nil {
		t.Fatalf("with encryption off: %v, %v; want nil, nil", c, err)
	}
	t.Setenv(codec.EnvEncryption, "maybe")
	if _, err := codec.NewFromEnv(context.Background()); err == nil {
		t.Fatal("OPPSYNC_PAYLOAD_ENCRYPTION=maybe accepted")
	}
	t.Setenv(codec.EnvEncryption, "")
	t.Setenv(codec.EnvKMSKey, "alias/no-such-key")
	if _, err := codec.NewFromEnv(context.Background()); err == nil || !strings.Contains(err.Error(), "alias/no-such-key") {
		t.Fatalf("unknown key: err = %v, want an error at startup naming the key", err)
	}
	t.Setenv(codec.EnvKMSKey, testKeyAlias)
	c, err := codec.NewFromEnv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.CurrentDataKeyID() == "" {
		t.Fatal("NewFromEnv did not make its first data key at startup")
	}
	wantEqual(t, decode(t, c, encode(t, c, plainPayloads(t, sample))), plainPayloads(t, sample))
}
