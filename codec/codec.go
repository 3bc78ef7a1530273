// Package codec encrypts every payload OppSync hands to Temporal — workflow and activity
// inputs and results, update arguments and results, memos, failure messages and stack
// traces — because opportunity and lead data are customer PII and Temporal stores its
// history outside our control (Temporal Cloud, or a cluster's database and backups).
//
// Encryption is AES-256-GCM with envelope encryption: data keys come from AWS KMS
// GenerateDataKey under the vendor's payload key, the wrapped (KMS-encrypted) data key
// travels in each payload's metadata, and plaintext data keys live only in memory. Any
// worker, client or codec server with kms:Decrypt on the key can read any payload, so data
// keys can rotate freely without coordination; the only configuration is the KMS key id.
//
// The package also serves the same codec over HTTP for the Temporal Web UI and CLI
// (NewHTTPHandler), as cmd codecserver does.
package codec

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Payload metadata keys and values written by the codec. Temporal's own "encoding" key
// marks the payload as ours; the rest let any holder of kms:Decrypt recover the data key.
const (
	// MetadataEncoding is Temporal's standard metadata key naming a payload's encoding.
	MetadataEncoding = converter.MetadataEncoding
	// EncodingEncrypted marks a payload encrypted by this codec.
	EncodingEncrypted = "binary/encrypted"
	// MetadataCipher names the cipher and format version of the payload's data.
	MetadataCipher = "encryption-cipher"
	// MetadataDataKeyID identifies the data key (a hash of its wrapped form), so payloads
	// under many data keys coexist and a decoder finds its cached key without KMS.
	MetadataDataKeyID = "encryption-key-id"
	// MetadataWrappedKey holds the data key as encrypted by KMS (a KMS ciphertext blob).
	MetadataWrappedKey = "encryption-wrapped-key"
	// MetadataKMSKey is the ARN of the KMS key that wrapped the data key.
	MetadataKMSKey = "encryption-kms-key"

	// CipherAES256GCM is the only cipher: data = 12-byte nonce || AES-256-GCM sealed
	// (serialized original payload), with the data key id as additional data.
	CipherAES256GCM = "AES256-GCM/v1"
)

// kmsEncryptionContext binds every data key to its purpose: KMS refuses to unwrap it
// without the same context, so a data key wrapped for something else under the same KMS
// key cannot be fed to us, and CloudTrail shows what each Decrypt was for.
var kmsEncryptionContext = map[string]string{"oppsync:purpose": "temporal-payloads"}

// Defaults of Options.
const (
	DefaultRotateAfter         = 24 * time.Hour
	DefaultRotateAfterPayloads = 1 << 24
	DefaultKMSTimeout          = 10 * time.Second
	DefaultMaxCachedKeys       = 4096
)

// maxUsesPerKey bounds how long a data key may be kept when rotation keeps failing: with
// random 96-bit nonces, NIST SP 800-38D allows at most 2^32 messages per GCM key.
const maxUsesPerKey = 1 << 31

// rotationRetry is how long encoding keeps the due-for-rotation key after a failed
// GenerateDataKey before asking KMS again.
const rotationRetry = time.Minute

// KMS is the part of the AWS KMS API the codec calls; *kms.Client implements it.
type KMS interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Options configures New.
type Options struct {
	// KMS makes and unwraps data keys. Required.
	KMS KMS
	// KeyID is the vendor's payload KMS key: key id, key ARN, alias name or alias ARN.
	// Required. Decoding does not depend on it: a payload names the key that wrapped its
	// data key, so payloads written under an earlier key stay readable after a key change.
	KeyID string
	// RotateAfter is how long one data key encrypts new payloads. Default 24h.
	RotateAfter time.Duration
	// RotateAfterPayloads is how many payloads one data key encrypts at most. Default 2^24.
	RotateAfterPayloads int64
	// KMSTimeout bounds each KMS call (Temporal's codec interface has no context).
	// Default 10s.
	KMSTimeout time.Duration
	// MaxCachedKeys bounds the unwrapped data keys kept for decoding. Default 4096.
	MaxCachedKeys int
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Codec is a converter.PayloadCodec encrypting payloads with KMS-wrapped AES-256-GCM data
// keys. It is safe for concurrent use.
type Codec struct {
	kms   KMS
	keyID string
	opts  Options

	mu       sync.Mutex
	current  *dataKey
	retryAt  time.Time           // after a failed rotation: keep current until then
	rotating *rotation           // the GenerateDataKey call in progress, if any
	keys     map[string]*dataKey // by data key id: every key we made or unwrapped
	inflight map[string]*unwrap  // KMS Decrypt calls in progress, by data key id
}

var _ converter.PayloadCodec = (*Codec)(nil)

// dataKey is one plaintext data key, ready to use, and what identifies it in payloads.
type dataKey struct {
	id       string
	wrapped  []byte
	kmsKey   string
	aead     cipher.AEAD
	created  time.Time
	uses     int64 // payloads encrypted; only for the current key
	lastUsed time.Time
}

type unwrap struct {
	done chan struct{}
	key  *dataKey
	err  error
}

// rotation is one GenerateDataKey call for a due rotation; done is closed when it returns.
type rotation struct {
	done chan struct{}
	err  error
}

// New returns a codec for opts. It makes its first data key on the first Encode; call
// Rotate at startup to report a wrong key id or a missing kms:GenerateDataKey permission
// then rather than on the first workflow task (a decode-only codec server need not).
func New(opts Options) (*Codec, error) {
	if opts.KMS == nil {
		return nil, errors.New("codec: Options.KMS is required")
	}
	if opts.KeyID == "" {
		return nil, errors.New("codec: Options.KeyID is required (the KMS key id, ARN or alias that wraps payload data keys)")
	}
	if opts.RotateAfter <= 0 {
		opts.RotateAfter = DefaultRotateAfter
	}
	if opts.RotateAfterPayloads <= 0 {
		opts.RotateAfterPayloads = DefaultRotateAfterPayloads
	}
	opts.RotateAfterPayloads = min(opts.RotateAfterPayloads, maxUsesPerKey)
	if opts.KMSTimeout <= 0 {
		opts.KMSTimeout = DefaultKMSTimeout
	}
	if opts.MaxCachedKeys <= 0 {
		opts.MaxCachedKeys = DefaultMaxCachedKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Codec{kms: opts.KMS, keyID: opts.KeyID, opts: opts,
		keys: map[string]*dataKey{}, inflight: map[string]*unwrap{}}, nil
}

// KeyID is the KMS key the codec wraps new data keys under, as configured.
func (c *Codec) KeyID() string { return c.keyID }

// CurrentDataKeyID is the id of the data key new payloads are encrypted with.
func (c *Codec) CurrentDataKeyID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current == nil {
		return ""
	}
	return c.current.id
}

// Rotate makes a new data key for new payloads now. Payloads under earlier data keys stay
// readable. Rotation also happens on its own, per Options.RotateAfter(Payloads).
func (c *Codec) Rotate(ctx context.Context) error {
	k, err := c.generate(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.install(k)
	return nil
}

func (c *Codec) generate(ctx context.Context) (*dataKey, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.KMSTimeout)
	defer cancel()
	out, err := c.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(c.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: kmsEncryptionContext,
	})
	if err != nil {
		return nil, fmt.Errorf("codec: KMS GenerateDataKey under %s (the worker's identity needs kms:GenerateDataKey on it): %w", c.keyID, err)
	}
	return newDataKey(out.Plaintext, out.CiphertextBlob, aws.ToString(out.KeyId), c.opts.Now())
}

func newDataKey(plaintext, wrapped []byte, kmsKey string, now time.Time) (*dataKey, error) {
	defer clear(plaintext) // the AES key schedule is all we keep
	if len(plaintext) != 32 {
		return nil, fmt.Errorf("codec: KMS returned a %d-byte data key, want 32 (AES-256)", len(plaintext))
	}
	if len(wrapped) == 0 {
		return nil, errors.New("codec: KMS returned no wrapped data key")
	}
	block, err := aes.NewCipher(plaintext)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	return &dataKey{id: dataKeyID(wrapped), wrapped: wrapped, kmsKey: kmsKey, aead: aead, created: now, lastUsed: now}, nil
}

// dataKeyID names a data key by a hash of its wrapped form: the same in every process, so
// one process's payloads find the key another process unwrapped already.
func dataKeyID(wrapped []byte) string {
	sum := sha256.Sum256(wrapped)
	return hex.EncodeToString(sum[:16])
}

// install makes k the current key. c.mu is held.
func (c *Codec) install(k *dataKey) {
	c.current = k
	c.retryAt = time.Time{}
	c.remember(k)
}

// remember caches k for decoding, evicting the least recently used key when full. c.mu is held.
func (c *Codec) remember(k *dataKey) {
	if _, ok := c.keys[k.id]; !ok && len(c.keys) >= c.opts.MaxCachedKeys {
		var oldest *dataKey
		for _, o := range c.keys {
			if o != c.current && (oldest == nil || o.lastUsed.Before(oldest.lastUsed)) {
				oldest = o
			}
		}
		if oldest != nil {
			delete(c.keys, oldest.id)
		}
	}
	c.keys[k.id] = k
}

// keyForEncode returns the current data key, rotating it when due, and counts one use.
//
// The KMS call of a rotation runs without c.mu held: a slow KMS must not stall decoding (the
// codec server's every /decode) nor encoders that can go on with the current key. One
// caller makes the call; others use the current key meanwhile while it is still safe to
// use, or wait for the call when there is none.
func (c *Codec) keyForEncode() (*dataKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		now := c.opts.Now()
		k := c.current
		usable := k != nil && k.uses < maxUsesPerKey
		due := k == nil || now.Sub(k.created) >= c.opts.RotateAfter || k.uses >= c.opts.RotateAfterPayloads
		if !due || (usable && (now.Before(c.retryAt) || c.rotating != nil)) {
			// (A key that is not due is usable.)
			k.uses++
			k.lastUsed = now
			return k, nil
		}
		if r := c.rotating; r != nil {
			// No usable key: wait for the rotation in progress, then look again.
			c.mu.Unlock()
			<-r.done
			c.mu.Lock()
			if r.err != nil && (c.current == nil || c.current.uses >= maxUsesPerKey) {
				return nil, r.err
			}
			continue
		}
		r := &rotation{done: make(chan struct{})}
		c.rotating = r
		c.mu.Unlock()
		nk, err := c.generate(context.Background())
		c.mu.Lock()
		c.rotating = nil
		r.err = err
		close(r.done)
		switch {
		case err == nil:
			c.install(nk)
		case !usable:
			return nil, err
		default:
			// KMS is unavailable: keep the old key a little longer rather than fail every
			// workflow task; it is still safe to use.
			c.retryAt = now.Add(rotationRetry)
		}
	}
}

// Encode encrypts each payload: its serialized form (data and metadata) becomes the
// ciphertext, and the new payload's metadata carries only the marker and the wrapped key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("codec: serialize payload: %w", err)
		}
		k, err := c.keyForEncode()
		if err != nil {
			return payloads, err
		}
		nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, fmt.Errorf("codec: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding:   []byte(EncodingEncrypted),
				MetadataCipher:     []byte(CipherAES256GCM),
				MetadataDataKeyID:  []byte(k.id),
				MetadataWrappedKey: k.wrapped,
				MetadataKMSKey:     []byte(k.kmsKey),
			},
			Data: k.aead.Seal(nonce, nonce, plain, []byte(k.id)),
		}
	}
	return out, nil
}

// Decode decrypts payloads this codec (in any process) encrypted. Payloads without the
// encrypted marker pass through unchanged: histories written before encryption was turned
// on must stay readable.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		d, err := c.decrypt(p)
		if err != nil {
			return payloads, err
		}
		out[i] = d
	}
	return out, nil
}

func (c *Codec) decrypt(p *commonpb.Payload) (*commonpb.Payload, error) {
	md := p.GetMetadata()
	if cph := string(md[MetadataCipher]); cph != CipherAES256GCM {
		return nil, fmt.Errorf("codec: encrypted payload uses cipher %q; this build reads only %q", cph, CipherAES256GCM)
	}
	id, wrapped := string(md[MetadataDataKeyID]), md[MetadataWrappedKey]
	if len(wrapped) == 0 || dataKeyID(wrapped) != id {
		return nil, fmt.Errorf("codec: encrypted payload's data key id %q does not match its wrapped key (metadata damaged or tampered with)", id)
	}
	k, err := c.keyForDecode(id, wrapped, string(md[MetadataKMSKey]))
	if err != nil {
		return nil, err
	}
	ns := k.aead.NonceSize()
	if len(p.Data) < ns+k.aead.Overhead() {
		return nil, fmt.Errorf("codec: encrypted payload under data key %s is truncated", id)
	}
	plain, err := k.aead.Open(nil, p.Data[:ns], p.Data[ns:], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("codec: payload under data key %s fails authentication (damaged or tampered with): %w", id, err)
	}
	var d commonpb.Payload
	if err := proto.Unmarshal(plain, &d); err != nil {
		return nil, fmt.Errorf("codec: decrypted payload under data key %s: %w", id, err)
	}
	return &d, nil
}

// keyForDecode returns the data key id from the cache, or unwraps it through KMS Decrypt
// once however many goroutines ask for it at the same time.
func (c *Codec) keyForDecode(id string, wrapped []byte, kmsKey string) (*dataKey, error) {
	c.mu.Lock()
	if k, ok := c.keys[id]; ok {
		k.lastUsed = c.opts.Now()
		c.mu.Unlock()
		return k, nil
	}
	if u, ok := c.inflight[id]; ok {
		c.mu.Unlock()
		<-u.done
		return u.key, u.err
	}
	u := &unwrap{done: make(chan struct{})}
	c.inflight[id] = u
	c.mu.Unlock()

	u.key, u.err = c.unwrap(wrapped, kmsKey)

	c.mu.Lock()
	delete(c.inflight, id)
	if u.err == nil {
		c.remember(u.key)
	}
	c.mu.Unlock()
	close(u.done)
	return u.key, u.err
}

func (c *Codec) unwrap(wrapped []byte, kmsKey string) (*dataKey, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.KMSTimeout)
	defer cancel()
	in := &kms.DecryptInput{CiphertextBlob: wrapped, EncryptionContext: kmsEncryptionContext}
	if kmsKey != "" {
		// Naming the key makes KMS refuse a blob wrapped under any other key.
		in.KeyId = aws.String(kmsKey)
	}
	out, err := c.kms.Decrypt(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("codec: KMS Decrypt of a payload data key wrapped under %s (the caller needs kms:Decrypt on it): %w", kmsKey, err)
	}
	return newDataKey(out.Plaintext, wrapped, aws.ToString(out.KeyId), c.opts.Now())
}
