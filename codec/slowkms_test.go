package codec_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/oppsync/oppsync/codec"
)

// blockingKMS is local-kms with GenerateDataKey held while blocked is set: a KMS that
// answers slowly, without timing anything.
type blockingKMS struct {
	*countingKMS
	mu      sync.Mutex
	blocked bool
	entered chan struct{} // receives when a blocked GenerateDataKey is waiting
	release chan struct{} // closing it lets the blocked calls go on
}

func (b *blockingKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	b.mu.Lock()
	blocked := b.blocked
	b.mu.Unlock()
	if blocked {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.countingKMS.GenerateDataKey(ctx, in, opts...)
}

// A rotation waiting on a slow GenerateDataKey stalls neither decoding (the codec server's
// /decode) nor encoders that still have a usable key: they all complete while the call is
// blocked, and the rotation then yields exactly one new key.
func TestSlowGenerateDataKeyStallsNoDecode(t *testing.T) {
	k := &blockingKMS{countingKMS: testKMS(t), entered: make(chan struct{}), release: make(chan struct{})}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := newCodec(t, k, func(o *codec.Options) { o.RotateAfter = time.Hour; o.Now = clock })

	old := encode(t, c, plainPayloads(t, sample))
	other := encode(t, newCodec(t, k), plainPayloads(t, "another process's payload")) // needs a KMS Decrypt here

	k.mu.Lock()
	k.blocked = true
	k.mu.Unlock()
	mu.Lock()
	now = now.Add(2 * time.Hour) // rotation due
	mu.Unlock()
	rotated := make(chan []byte)
	go func() {
		enc, err := c.Encode(plainPayloads(t, "first after rotation"))
		if err != nil {
			t.Error(err)
			close(rotated)
			return
		}
		rotated <- enc[0].Metadata[codec.MetadataDataKeyID]
	}()
	<-k.entered // the rotation's GenerateDataKey is in KMS, and stays there

	// While it is blocked: decoding a cached key, decoding through KMS Decrypt, and
	// encoding with the still-valid old key all complete.
	wantEqual(t, decode(t, c, old), plainPayloads(t, sample))
	wantEqual(t, decode(t, c, other), plainPayloads(t, "another process's payload"))
	during := encode(t, c, plainPayloads(t, "during rotation"))
	if got, want := string(during[0].Metadata[codec.MetadataDataKeyID]), string(old[0].Metadata[codec.MetadataDataKeyID]); got != want {
		t.Errorf("an encode during the rotation used data key %s, want the current one %s", got, want)
	}

	close(k.release)
	newKey := <-rotated
	if string(newKey) == string(old[0].Metadata[codec.MetadataDataKeyID]) {
		t.Error("the rotation did not change the data key")
	}
	after := encode(t, c, plainPayloads(t, "after"))
	if string(after[0].Metadata[codec.MetadataDataKeyID]) != string(newKey) {
		t.Error("encodes after the rotation do not use the new key")
	}
	if n := k.generate.Load(); n != 3 {
		t.Errorf("GenerateDataKey called %d times, want 3 (two first keys, one rotation)", n)
	}
}

// With no key yet, concurrent first encodes wait for one GenerateDataKey and share its key.
func TestFirstKeyGeneratedOnce(t *testing.T) {
	k := &blockingKMS{countingKMS: testKMS(t), entered: make(chan struct{}), release: make(chan struct{}), blocked: true}
	c := newCodec(t, k)
	var wg sync.WaitGroup
	keys := make([]string, 4)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := c.Encode(plainPayloads(t, i))
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = string(enc[0].Metadata[codec.MetadataDataKeyID])
		}()
	}
	<-k.entered
	close(k.release)
	wg.Wait()
	for _, id := range keys[1:] {
		if id != keys[0] {
			t.Fatalf("first encodes used different data keys: %v", keys)
		}
	}
	if n := k.generate.Load(); n != 1 {
		t.Errorf("GenerateDataKey called %d times for the first key, want 1", n)
	}
}
